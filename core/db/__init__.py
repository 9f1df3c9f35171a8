"""Database helpers: prepared statements retried on a dropped connection, the backend, time-ordered ids."""
