"""A standalone, WAHA-compatible HTTP server for development and tests.

Run it with ``python -m waha_sandbox``.  It imports nothing from Django and needs
only aiohttp, qrcode and pypng.  See ``README.md`` next to this file.
"""

__all__ = ["__version__"]

# Version of the sandbox itself (the WAHA version it pretends to be lives in config).
__version__ = "1.0.0"
