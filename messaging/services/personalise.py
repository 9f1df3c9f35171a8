"""Bulk personalisation: ``Hi {name}!`` filled from each recipient's ``variables``.

A template is data written by a customer, never code: placeholders are found by a
pattern and replaced by plain dictionary lookup. ``str.format`` would have let a
template pad a value to a hundred megabytes (``{name:>99999999}``), walk Python
objects (``{name.__class__.__mro__}``) or crash (``{name.nope}``).

Rules: ``{name}`` is a placeholder (a letter or ``_`` first, then letters, digits or
``_``, at most 64); ``{{`` and ``}}`` are literal braces; any other brace is a
malformed template (400, naming the first problem).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_VARIABLES = 50
MAX_VARIABLE_LENGTH = 1000
# A doubled brace, a {...} group (closed or not), or a lone closing brace.
_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}?|\}")


class TemplateError(ValueError):
    """The template is malformed; the message names the first problem."""


class VariablesError(ValueError):
    """A recipient's variables cannot personalise the template; the message says why."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and placeholder names, alternating (``parts[1::2]`` are names)."""

    parts: tuple[str, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.parts[1::2])

    def render(self, variables: dict[str, str]) -> str:
        """The text for one recipient; every placeholder must have a variable (``KeyError`` names it)."""
        pieces = list(self.parts)
        for index in range(1, len(pieces), 2):
            pieces[index] = variables[pieces[index]]
        return "".join(pieces)


def template_parse(text: str) -> Template:
    """Split ``text`` into literals and placeholders, or raise ``TemplateError``."""
    parts: list[str] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position:match.start()])
        position = match.end()
        token = match.group()
        if token in ("{{", "}}"):
            literal.append(token[0])
        elif token == "}":
            raise TemplateError(f"Unmatched '}}' at position {match.start()}: write '}}}}' for a literal brace.")
        elif not token.endswith("}"):
            raise TemplateError(f"Unmatched '{{' at position {match.start()}: write '{{{{' for a literal brace.")
        elif VARIABLE_NAME.fullmatch(token[1:-1]):
            parts += ["".join(literal), token[1:-1]]
            literal = []
        else:
            raise TemplateError(f"{_shown(token)} is not a placeholder: use {{name}} (letters, digits and _, "
                                "no formats, attributes or indexes); write '{{' and '}}' for literal braces.")
    literal.append(text[position:])
    return Template(tuple([*parts, "".join(literal)]))


def variables_check(variables: Any) -> dict[str, str]:
    """A recipient's variables as a dict of strings, or ``VariablesError`` saying what is wrong."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise VariablesError("variables must be an object of strings.")
    if len(variables) > MAX_VARIABLES:
        raise VariablesError(f"At most {MAX_VARIABLES} variables per recipient.")
    for name, value in variables.items():
        if not VARIABLE_NAME.fullmatch(name):
            raise VariablesError(f"{_shown(name)} is not a variable name (letters, digits and _, at most 64).")
        if not isinstance(value, str):
            raise VariablesError(f"Variable {name!r} must be a string.")
        if len(value) > MAX_VARIABLE_LENGTH:
            raise VariablesError(f"Variable {name!r} is longer than {MAX_VARIABLE_LENGTH} characters.")
        if "\x00" in value:
            raise VariablesError(f"Variable {name!r} contains a NUL character.")
    return variables


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
