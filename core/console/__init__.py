"""The admin console: its site, its app config and the base class of tenant-only pages."""
