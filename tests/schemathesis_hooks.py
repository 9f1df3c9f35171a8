"""Schemathesis hooks for ``tests/core/test_schema_fuzz_e2e.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

Two things a stateless run cannot judge from the schema alone:

- Schemathesis feeds ids it saw in earlier answers back into requests. The
  logged-in admin must not be changed: a new password, deactivation or
  demotion of the user whose token the run uses would make every later
  request a 401 and test nothing. Those cases are not generated; every other
  user, and ``GET`` of this one, still are.
- A body that is valid by the schema can still be refused for a rule that
  depends on data, not on the shape of the value. Only these 400s are
  accepted as answers to valid data, and only when the problem's ``errors``
  name nothing but these fields:

  * ``password`` (users): Django's password validators (a list of common
    passwords, similarity to the email and names, all digits);
  * ``session`` (send, bulk): the session must exist in this tenant, by id
    or name, which only the live data can tell;
  * ``to`` (send): the recipient grammar (E.164 digit counts, chat-id
    suffixes; docs/API_GUIDE.md, "Recipients"), which no JSON Schema pattern states;
  * ``media.url`` (send, bulk): Django's URL validator (schemes, host name
    and label lengths) is stricter than the ``uri`` format;
  * ``media.data`` (send, bulk): for an ``image``, ``voice`` or ``video``
    message the decoded bytes must really be a file of that kind and of the
    declared ``mimetype`` (and a declared image, audio or video type must be
    what the bytes are), which only the bytes can tell;
  * ``url`` (event webhook endpoints): the URL rules (http or https, a host
    name or address that Django's URL validator takes, and in production a
    public address, which only DNS can tell; docs/API_GUIDE.md) are stricter
    than the ``uri`` format;
  * ``sessions`` (API keys): each id must be a live session of this tenant;
  * ``expires_at`` (API keys): the time must be in the future, which no
    schema can state.
"""

from __future__ import annotations

import os

import schemathesis
from schemathesis import Case, HookContext, Response
from schemathesis.core.failures import Failure

RUN_AS_USER_ID = os.environ.get("SCHEMATHESIS_RUN_AS_USER_ID", "")

DATA_DEPENDENT_FIELDS = {
    ("POST", "/users"): {"password"},
    ("PUT", "/users/{user_id}"): {"password"},
    ("PATCH", "/users/{user_id}"): {"password"},
    ("POST", "/messages/send"): {"session", "to", "media.url", "media.data"},
    ("POST", "/messages/bulk"): {"session", "media.url", "media.data"},
    ("POST", "/api-keys"): {"sessions", "expires_at"},
    ("POST", "/webhooks/endpoints"): {"url"},
    ("PATCH", "/webhooks/endpoints/{endpoint_id}"): {"url"},
}


@schemathesis.hook
def filter_case(context: HookContext, case: Case) -> bool:
    if case.operation.path != "/users/{user_id}" or case.method.upper() not in {"PUT", "PATCH", "DELETE"}:
        return True
    return str((case.path_parameters or {}).get("user_id", "")) != RUN_AS_USER_ID


@schemathesis.hook
def filter_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    """Keep every failure but a schema-valid body refused for one of the data-dependent fields above."""
    fields = DATA_DEPENDENT_FIELDS.get((case.method.upper(), case.operation.path))
    if failure.code != "ST202" or fields is None or response.status_code != 400:
        return True
    try:
        errors = response.json().get("errors") or {}
    except ValueError:
        return True
    return not (errors and set(errors) <= fields)
