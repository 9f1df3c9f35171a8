"""Bulk templates are data: placeholders by plain lookup, bounded variables, bounded personalised texts."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from messaging.models import Batch, Message
from messaging.services.personalise import (
    MAX_VARIABLE_LENGTH,
    MAX_VARIABLES,
    TemplateError,
    VariablesError,
    template_parse,
    variables_check,
)

pytestmark = pytest.mark.security


def bulk(api, recipients, text="Hi {name}!"):
    return api.post("/messages/bulk", {"session": "support", "text": text, "recipients": recipients}, format="json")


def stored_texts(tenant, batch_id) -> list[str]:
    with tenant_context(tenant):
        return sorted(Message.objects.filter(batch_id=batch_id).values_list("text", flat=True))


# ---------------------------------------------------------------- the template, alone


@pytest.mark.parametrize("text, variables, expected", [
    ("Hi {name}!", {"name": "Ana"}, "Hi Ana!"),
    ("{greeting}, {name}. {greeting}!", {"greeting": "Olá", "name": "Bia"}, "Olá, Bia. Olá!"),
    ("No placeholders at all", {}, "No placeholders at all"),
    ("Braces: {{name}} and }} and {{", {}, "Braces: {name} and } and {"),
    ("{_x1}", {"_x1": "ok"}, "ok"),
    ("Hi {name}", {"name": "{other} {0} {name:>9}"}, "Hi {other} {0} {name:>9}"),  # values are never parsed
])
def test_placeholders_are_replaced_by_plain_lookup(text, variables, expected):
    assert template_parse(text).render(variables) == expected


@pytest.mark.parametrize("text, problem", [
    ("Hi {name:>99999999}", "not a placeholder"),
    ("Hi {name.__class__.__mro__}", "not a placeholder"),
    ("Hi {name.nope}", "not a placeholder"),
    ("Hi {name[0]}", "not a placeholder"),
    ("Hi {0}", "not a placeholder"),
    ("Hi {}", "not a placeholder"),
    ("Hi {name!r}", "not a placeholder"),
    ("Hi { name }", "not a placeholder"),
    ("Hi {name", "Unmatched '{'"),
    ("Hi name}", "Unmatched '}'"),
    ("Hi {{name}", "Unmatched '}'"),
    ("Hi {" + "a" * 65 + "}", "not a placeholder"),
])
def test_anything_but_a_plain_placeholder_is_a_malformed_template(text, problem):
    with pytest.raises(TemplateError, match=problem):
        template_parse(text)


def test_a_missing_variable_names_itself():
    with pytest.raises(KeyError, match="name"):
        template_parse("Hi {name}").render({})


@pytest.mark.parametrize("variables, problem", [
    (["Ana"], "object of strings"),
    ("Ana", "object of strings"),
    ({"name": 5}, "must be a string"),
    ({"name": None}, "must be a string"),
    ({"name": {"first": "Ana"}}, "must be a string"),
    ({"name": "x" * (MAX_VARIABLE_LENGTH + 1)}, "longer than"),
    ({"name": "a\x00b"}, "NUL"),
    ({"first name": "Ana"}, "not a variable name"),
    ({f"v{index}": "x" for index in range(MAX_VARIABLES + 1)}, f"At most {MAX_VARIABLES}"),
])
def test_variables_must_be_a_bounded_object_of_strings(variables, problem):
    with pytest.raises(VariablesError, match=problem):
        variables_check(variables)


def test_absent_variables_are_an_empty_object():
    assert variables_check(None) == {}


# ---------------------------------------------------------------- through POST /messages/bulk


@pytest.mark.parametrize("text", ["Hi {name:>99999999}", "Hi {name.__class__.__mro__}", "Hi {name.nope}",
                                  "Hi {0}", "Hi {name"])
def test_malformed_template_is_a_400_naming_the_problem_and_stores_nothing(api, acme, working_session, text):
    response = bulk(api, [{"to": "+4915100000001", "variables": {"name": "x"}}], text=text)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error" and body["errors"]["text"]
    assert "placeholder" in body["errors"]["text"][0] or "Unmatched" in body["errors"]["text"][0]
    assert "<class" not in response.content.decode() and "object" not in response.content.decode()
    with tenant_context(acme):
        assert not Batch.objects.exists() and not Message.objects.exists()


def test_a_literal_brace_template_is_accepted(api, acme, working_session):
    response = bulk(api, [{"to": "+4915100000001", "variables": {"name": "Ana"}}], text="{{VIP}} {name}")
    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert stored_texts(acme, response.json()["batch_id"]) == ["{VIP} Ana"]


def test_bad_variables_reject_that_recipient_only(api, acme, working_session):
    response = bulk(api, [
        {"to": "+4915100000001", "variables": {"name": "Ana"}},
        {"to": "+4915100000002", "variables": {"name": 7}},
        {"to": "+4915100000003", "variables": {"name": "x" * (MAX_VARIABLE_LENGTH + 1)}},
        {"to": "+4915100000004", "variables": {f"v{index}": "x" for index in range(MAX_VARIABLES + 1)} | {
            "name": "Dee"}},
        {"to": "+4915100000005", "variables": ["Eve"]},
    ])
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1
    assert [(item["index"], list(item["errors"])) for item in body["rejected"]] == [
        (1, ["variables"]), (2, ["variables"]), (3, ["variables"]), (4, ["variables"])]
    assert stored_texts(acme, body["batch_id"]) == ["Hi Ana!"]


def test_a_personalised_text_over_the_limit_rejects_that_recipient(api, acme, working_session):
    template_two = "y" * 3100 + "{name}"
    response = bulk(api, [
        {"to": "+4915100000001", "variables": {"name": "a" * 996}},   # 4,096: accepted
        {"to": "+4915100000002", "variables": {"name": "b" * 997}},   # 4,097: rejected
    ], text=template_two)
    body = response.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [{"index": 1, "to": "+4915100000002", "errors": {
        "text": ["The personalised text has 4097 characters; the limit is 4096."]}}]
    texts = stored_texts(acme, body["batch_id"])
    assert [len(text) for text in texts] == [4096]


def test_the_exploit_from_the_report_stores_nothing_and_lists_stay_small(api, acme, working_session):
    response = bulk(api, [{"to": "+4915100000001", "variables": {"name": "x"}}], text="Hi {name:>99999999}")
    assert response.status_code == 400
    listing = api.get("/messages")
    assert listing.status_code == 200 and len(listing.content) < 10_000
