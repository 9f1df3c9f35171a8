"""The runtime code every app builds on; it imports no app of this project (docs/architecture.md).

- ``problems``: service errors and problem JSON, the error views.
- ``rest``: DRF building blocks (base views, negotiation, pagination, OpenAPI schema, strict fields, serializers).
- ``db``: prepared statements retried on a dropped connection, the database backend, time-ordered ids.
- ``web``: middleware, the client IP rule, the probes and ``/metrics``.
- ``console``: the admin console's site and the base class of tenant-only pages.
- ``logging`` (log context), ``quiet`` (quiet windows), ``tenancy`` (which schema the connection serves).
"""
