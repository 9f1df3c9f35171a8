#!/usr/bin/env python3
"""Rewrite imports and dotted references to the modules that issue 15 moved ("rooms that say what they hold").

    python bin/dev/rewrite_imports.py [--check] [--text] PATH...

Each PATH is a file or a directory (searched for ``*.py``; with ``--text`` also for Markdown, YAML, TOML, INI
and HTML files). ``import_map.py``, next to this script, is the whole mapping, old dotted path to new dotted path.

In Python files it rewrites:

- import statements: ``import config.quiet``, ``from config.problems import ServiceError``,
  ``from config import db_statements`` (the local name stays: ``from core.db import statements as
  db_statements``), and relative imports inside a package whose module was split;
- dotted references in code whose first name is a package the file imports (``config.quiet.time``,
  ``messaging.services._kicked``), adding the ``import`` the new path needs;
- names used through a local name of a split module (``from webhooks import services`` then
  ``services.pending_events_apply(...)`` becomes ``applier.pending_events_apply(...)`` with
  ``from webhooks.services import applier``), also in ``setattr(services, "name", ...)`` and its siblings;
- dotted references and ``path/to/module.py`` paths in strings and comments: settings strings such as
  ``"config.middleware.RequestIdMiddleware"``,
  ``monkeypatch.setattr("messaging.services.dispatch_kick", ...)``,
  docstrings. Logger names (``getLogger("...")``, ``logger="..."``) are left alone: they are a log contract.

With ``--text``, other files get the dotted references and paths rewritten.

It is idempotent: rewritten code is left as it is. It prints every file it changes (``--check``: would change,
exiting 1 if any). Afterwards, ``ruff check --fix --select I`` sorts the rewritten imports. What it cannot do: a
name reached through an object other than a module (``monkeypatch.setattr(module_variable, ...)`` where the
variable was assigned, not imported), and code that a moved function was split from (read the commit).
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import import_map
from import_map import ROOTS, SPLITS, resolve, resolved, resolved_path

_DOTTED = re.compile(r"(?<![\w.])(?:" + "|".join(ROOTS) + r")(?:\.[A-Za-z_]\w*)+")
_PATH = re.compile(r"(?<![\w/.])(?:" + "|".join(ROOTS) + r")(?:/[A-Za-z_]\w*)+\.py\b")


def rewrite_text(text: str) -> str:
    """Dotted references and module paths in prose, strings and comments."""
    text = _PATH.sub(lambda match: resolved_path(match.group(0)), text)
    return _DOTTED.sub(lambda match: resolved(match.group(0)), text)


# --------------------------------------------------------------------------- Python files


@dataclass
class Edit:
    start: tuple[int, int]  # (line, column), 1-based lines as in tokenize and ast
    end: tuple[int, int]
    text: str


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.resolve().relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _relative(target: str, module: str, is_package: bool, level: int) -> str:
    """``target`` relative to the file's package when the original import was relative and it stays inside."""
    package = module if is_package else module.rpartition(".")[0]
    if level == 1 and (target + ".").startswith(package + ".") and target != package:
        return "." + target[len(package) + 1 :]
    return target


def _from_line(indent: str, module: str, names: list[tuple[str, str | None]]) -> str:
    items = [f"{name} as {alias}" if alias and alias != name else name for name, alias in names]
    line = f"{indent}from {module} import {', '.join(items)}"
    if len(line) <= 120:
        return line
    body = "".join(f"{indent}    {item},\n" for item in items)
    return f"{indent}from {module} import (\n{body}{indent})"


class PythonRewrite:
    def __init__(self, path: Path, root: Path, source: str) -> None:
        self.path, self.source = path, source
        inside = root == path.resolve() or root in path.resolve().parents
        self.module = _module_of(path, root) if inside else path.stem
        self.is_package = path.name == "__init__.py"
        self.tree = ast.parse(source)
        self.lines = source.splitlines(keepends=True)
        self.tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type not in (tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
        ]
        self.bound_names = {
            t.string for i, t in enumerate(self.tokens) if t.type == tokenize.NAME and not self._after_dot(i)
        }
        self.import_nodes = [node for node in ast.walk(self.tree) if isinstance(node, ast.Import | ast.ImportFrom)]
        self.import_nodes.sort(key=lambda node: node.lineno)
        # Local names bound to a split module: local name -> (old module, the module it is bound to afterwards).
        self.split_aliases: dict[str, tuple[str, str]] = {}
        # Local names given to the modules that a split module's attributes moved to: module -> local name.
        self.extra_aliases: dict[str, str] = {}
        self.local_uses: dict[str, int] = {}
        self.local_moved: dict[str, int] = {}

    def _after_dot(self, index: int) -> bool:
        return index > 0 and self.tokens[index - 1].string == "."

    # ------------------------------------------------------------------ imports

    def _import_text(self, node: ast.Import | ast.ImportFrom) -> str | None:
        """The rewritten statement(s), or None when the statement does not change."""
        indent = self.lines[node.lineno - 1][: node.col_offset]
        if isinstance(node, ast.Import):
            changed, parts = False, []
            for alias in node.names:
                new = resolved(alias.name)
                changed |= new != alias.name
                parts.append(f"{new} as {alias.asname}" if alias.asname else new)
                if alias.asname and alias.name in SPLITS:
                    self.split_aliases[alias.asname] = (alias.name, new)
            return f"{indent}import {', '.join(parts)}" if changed else None
        source_module = _absolute(node, self.module, self.is_package)
        groups: dict[str, list[tuple[str, str | None]]] = {}
        changed = False
        for alias in node.names:
            local = alias.asname or alias.name
            full = f"{source_module}.{alias.name}"
            found = resolve(full)
            if found is None:
                module, name = source_module, alias.name
            else:
                changed = True
                module, rest = found
                if rest:
                    name = rest
                else:  # a module imported from its package
                    module, _, name = module.rpartition(".")
            if full in SPLITS:
                self.split_aliases[local] = (full, resolved(full))
            groups.setdefault(module, []).append((name, local if local != name else None))
        if not changed:
            return None
        lines = []
        for module, names in groups.items():
            target = _relative(module, self.module, self.is_package, node.level) if node.level else module
            lines.append(_from_line(indent, target, names))
        return "\n".join(lines)

    def _imports_module_as(self, module: str, local: str) -> bool:
        parent, _, name = module.rpartition(".")
        for node in self.import_nodes:
            if (
                isinstance(node, ast.ImportFrom)
                and resolved(_absolute(node, self.module, self.is_package)) == parent
                and any(a.name == name and (a.asname or a.name) == local for a in node.names)
            ):
                return True
        return False

    def _alias_for(self, module: str) -> str:
        """A local name for ``module`` in this file: its last part, unless that name is taken."""
        if module in self.extra_aliases:
            return self.extra_aliases[module]
        local = module.rpartition(".")[2]
        taken = self.bound_names | set(self.extra_aliases.values())
        if local in taken and not self._imports_module_as(module, local):
            local = f"{module.rpartition('.')[0].rpartition('.')[2]}_{local}"
            print(f"{self.path}: imports {module} as {local} (its own name is taken)", file=sys.stderr)
        self.extra_aliases[module] = local
        return local

    def _split_attribute(self, local: str, attribute: str) -> tuple[str, str] | None:
        """(new local, new attribute) for ``local.attribute`` when ``local`` is a split module's local name."""
        old, bound_to = self.split_aliases[local]
        found = resolve(f"{old}.{attribute}")
        if found is None:
            return None
        module, rest = found
        name = rest.split(".")[0]
        if module == bound_to:
            return (local, name) if name != attribute else None
        return self._alias_for(module), name

    # ------------------------------------------------------------------ code, strings and comments

    def _code_edits(self, import_lines: set[int]) -> tuple[list[Edit], set[str]]:
        edits: list[Edit] = []
        needed_modules: set[str] = set()
        roots = {
            a.name.split(".")[0]
            for n in self.import_nodes
            if isinstance(n, ast.Import)
            for a in n.names
            if not a.asname
        }
        tokens = self.tokens
        moved_targets: set[tuple[int, int]] = set()
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.start[0] in import_lines:
                index += 1
                continue
            if token.type in (tokenize.STRING, tokenize.COMMENT):
                if not self._is_logger_name(index):
                    new = rewrite_text(token.string)
                    if new != token.string:
                        edits.append(Edit(token.start, token.end, new))
                index += 1
                continue
            if token.type != tokenize.NAME or self._after_dot(index):
                index += 1
                continue
            end = index
            while end + 2 < len(tokens) and tokens[end + 1].string == "." and tokens[end + 2].type == tokenize.NAME:
                end += 2
            if token.string in self.split_aliases:
                self.local_uses[token.string] = self.local_uses.get(token.string, 0) + 1
                moved = token.start in moved_targets
                if end > index:
                    replacement = self._split_attribute(token.string, tokens[index + 2].string)
                    if replacement is not None:
                        edits.append(Edit(token.start, tokens[index + 2].end, ".".join(replacement)))
                        moved = replacement[0] != token.string
                if moved:
                    self.local_moved[token.string] = self.local_moved.get(token.string, 0) + 1
            elif token.string in roots and end > index:
                found = resolve("".join(t.string for t in tokens[index : end + 1]))
                if found is not None:
                    module, rest = found
                    needed_modules.add(module)
                    edits.append(Edit(token.start, tokens[end].end, f"{module}.{rest}" if rest else module))
            if tokens[end].string in ("setattr", "getattr", "hasattr", "delattr"):
                edits.extend(self._setattr_edits(end, moved_targets))
                chain_edits, after = self._dotted_setattr_edits(end, roots, needed_modules)
                if chain_edits:
                    edits.extend(chain_edits)
                    index = after
                    continue
            index = end + 1
        return edits, needed_modules

    def _setattr_edits(self, index: int, moved_targets: set[tuple[int, int]]) -> list[Edit]:
        """``setattr(local, "name", ...)`` (``monkeypatch.setattr`` too) on a split module's local name."""
        window = self.tokens[index + 1 : index + 5]
        if len(window) < 4:
            return []
        opening, target, comma, name = window
        if (
            opening.string != "("
            or target.string not in self.split_aliases
            or comma.string != ","
            or name.type != tokenize.STRING
        ):
            return []
        attribute = ast.literal_eval(name.string)
        replacement = self._split_attribute(target.string, attribute) if isinstance(attribute, str) else None
        if replacement is None:
            return []
        if replacement[0] != target.string:
            moved_targets.add(target.start)
        quote = name.string[-1]
        return [
            Edit(target.start, target.end, replacement[0]),
            Edit(name.start, name.end, f"{quote}{replacement[1]}{quote}"),
        ]

    def _dotted_setattr_edits(self, index: int, roots: set[str], needed_modules: set[str]) -> tuple[list[Edit], int]:
        """``setattr(package.module, "name", ...)`` when ``package.module.name`` moved; and where to go on."""
        tokens = self.tokens
        start = index + 2
        if index + 1 >= len(tokens) or tokens[index + 1].string != "(" or start >= len(tokens):
            return [], index + 1
        if tokens[start].type != tokenize.NAME or tokens[start].string not in roots:
            return [], index + 1
        end = start
        while end + 2 < len(tokens) and tokens[end + 1].string == "." and tokens[end + 2].type == tokenize.NAME:
            end += 2
        if end + 2 >= len(tokens) or tokens[end + 1].string != "," or tokens[end + 2].type != tokenize.STRING:
            return [], index + 1
        attribute = ast.literal_eval(tokens[end + 2].string)
        chain = "".join(t.string for t in tokens[start : end + 1])
        found = resolve(f"{chain}.{attribute}") if isinstance(attribute, str) else None
        if found is None:
            return [], index + 1
        module, rest = found
        needed_modules.add(module)
        new_chain, _, new_attribute = f"{module}.{rest}".rpartition(".")
        quote = tokens[end + 2].string[-1]
        return [
            Edit(tokens[start].start, tokens[end].end, new_chain),
            Edit(tokens[end + 2].start, tokens[end + 2].end, f"{quote}{new_attribute}{quote}"),
        ], end + 3

    def _is_logger_name(self, index: int) -> bool:
        before = [t.string for t in self.tokens[max(0, index - 2) : index]]
        return before in (["getLogger", "("], ["logger", "="])

    # ------------------------------------------------------------------ putting it together

    def rewrite(self) -> str:
        import_lines = {
            line for node in self.import_nodes for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
        }
        new_imports = {id(node): self._import_text(node) for node in self.import_nodes}
        edits, needed_modules = self._code_edits(import_lines)
        unused = {local for local, uses in self.local_uses.items() if uses and self.local_moved.get(local) == uses}
        imported = {resolved(a.name) for n in self.import_nodes if isinstance(n, ast.Import) for a in n.names}
        first_split = next((node for node in self.import_nodes if self._binds_split_alias(node)), None)
        for node in self.import_nodes:
            original = self._original(node)
            text = new_imports[id(node)] or original
            indent = self.lines[node.lineno - 1][: node.col_offset]
            if unused and isinstance(node, ast.ImportFrom):
                text = self._drop_names(text, unused, indent)
            lines = [text] if text else []
            if isinstance(node, ast.Import):
                roots = {resolved(a.name).split(".")[0] for a in node.names}
                for module in sorted(needed_modules):
                    if module.split(".")[0] in roots and module not in imported:
                        lines.append(f"{indent}import {module}")
                        imported.add(module)
            if node is first_split:
                lines += self._extra_alias_imports(indent)
            rebuilt = "\n".join(lines)
            if rebuilt == original:
                continue
            last = node.end_lineno or node.lineno
            if rebuilt:
                edits.append(Edit((node.lineno, 0), (last, len(self.lines[last - 1].rstrip("\r\n"))), rebuilt))
            else:  # the whole statement goes, with its line
                edits.append(Edit((node.lineno, 0), (last + 1, 0), ""))
        return self._apply(edits)

    def _binds_split_alias(self, node: ast.Import | ast.ImportFrom) -> bool:
        return any((a.asname or a.name) in self.split_aliases for a in node.names)

    def _extra_alias_imports(self, indent: str) -> list[str]:
        lines = []
        for module, local in sorted(self.extra_aliases.items()):
            if not self._imports_module_as(module, local):
                parent, _, name = module.rpartition(".")
                lines.append(_from_line(indent, parent, [(name, local if local != name else None)]))
        return lines

    def _drop_names(self, text: str, unused: set[str], indent: str) -> str:
        """``text`` (from-imports) without the local names in ``unused``."""
        kept = []
        for statement in ast.parse(textwrap.dedent(text)).body:
            assert isinstance(statement, ast.ImportFrom)
            names = [(a.name, a.asname) for a in statement.names if (a.asname or a.name) not in unused]
            if names:
                module = "." * statement.level + (statement.module or "")
                kept.append(_from_line(indent, module, names))
        return "\n".join(kept)

    def _original(self, node: ast.Import | ast.ImportFrom) -> str:
        return "".join(self.lines[node.lineno - 1 : node.end_lineno]).rstrip("\r\n")

    def _apply(self, edits: list[Edit]) -> str:
        offsets = [0]
        for line in self.lines:
            offsets.append(offsets[-1] + len(line))

        def position(point: tuple[int, int]) -> int:
            return offsets[point[0] - 1] + point[1] if point[0] <= len(self.lines) else offsets[-1]

        text, seen = self.source, set()
        for edit in sorted(edits, key=lambda e: position(e.start), reverse=True):
            span = (position(edit.start), position(edit.end))
            if span not in seen:
                seen.add(span)
                text = text[: span[0]] + edit.text + text[span[1] :]
        return text


# --------------------------------------------------------------------------- files

TEXT_SUFFIXES = {".md", ".txt", ".toml", ".ini", ".cfg", ".yml", ".yaml", ".html", ".json"}
# This script and its mapping name the old paths on purpose.
THIS_DIR_FILES = {Path(__file__).resolve(), Path(import_map.__file__).resolve()}
SKIPPED_DIRS = {".venv", ".git", "node_modules", ".tools", "staticfiles", "var", "__pycache__"}


def files_under(paths: Iterable[Path], text: bool) -> Iterator[Path]:
    """The files to rewrite under ``paths``."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if set(child.relative_to(path).parts) & SKIPPED_DIRS or not child.is_file():
                    continue
                if child.resolve() in THIS_DIR_FILES:
                    continue
                if child.suffix == ".py" or (text and child.suffix in TEXT_SUFFIXES):
                    yield child
        elif path.is_file() and path.resolve() not in THIS_DIR_FILES:
            yield path


def rewrite_file(path: Path, root: Path) -> str | None:
    """The new text of ``path``, or None when nothing changes."""
    source = path.read_text(encoding="utf-8")
    new = PythonRewrite(path, root, source).rewrite() if path.suffix == ".py" else rewrite_text(source)
    return None if new == source else new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report what would change (exit 1 if anything)")
    parser.add_argument("--text", action="store_true", help="also rewrite Markdown, YAML, TOML, INI and HTML files")
    parser.add_argument("--moves-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository root (for relative imports)")
    options = parser.parse_args(argv)
    root = options.root.resolve()
    import_map.MOVES_ONLY = options.moves_only
    changed = 0
    for path in files_under(options.paths, options.text):
        new = rewrite_file(path, root)
        if new is None:
            continue
        changed += 1
        print(f"{'would rewrite' if options.check else 'rewrote'} {path}")
        if not options.check:
            path.write_text(new, encoding="utf-8")
    return 1 if options.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
