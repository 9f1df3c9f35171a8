"""The WAHA that the client's unit tests fake with ``responses``: its address and its key."""

BASE = "http://waha.test:3000"
API_KEY = "test-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

NEST_ERROR_NAMES = {
    400: "Bad Request",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    501: "Not Implemented",
}


def nest_error(status: int, message: str | list[str]) -> dict:
    """The body of a NestJS ``HttpException`` as WAHA sends it: message, error, statusCode, in that order."""
    return {"message": message, "error": NEST_ERROR_NAMES[status], "statusCode": status}
