"""The WAHA that the client's unit tests fake with ``responses``: its address and its key."""

BASE = "http://waha.test:3000"
API_KEY = "test-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
