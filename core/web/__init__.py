"""The HTTP edge: middleware, the client IP rule, the probes and /metrics."""
