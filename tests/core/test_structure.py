"""The code base's rooms: modules of a readable size, and the moves of issue 15 complete.

The import contracts themselves (apps depend downward only, no cycles, entry points imported by nobody) are
checked by ``lint-imports`` in ``make lint`` (pyproject.toml, ``[tool.importlinter]``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 500
SKIPPED_DIRS = {".venv", ".git", "tests", "migrations", "node_modules", ".tools", "staticfiles", "var"}

sys.path.insert(0, str(ROOT / "bin" / "dev"))
import import_map  # noqa: E402
import rewrite_imports  # noqa: E402


def _python_files() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not set(path.relative_to(ROOT).parts) & SKIPPED_DIRS]


def test_no_module_outside_migrations_and_tests_is_over_500_lines():
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _python_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these by responsibility: {long}"


@pytest.mark.parametrize(("old", "new"), sorted(import_map.MOVED.items()))
def test_a_moved_module_exists_at_its_new_path_only(old, new):
    assert importlib.util.find_spec(new) is not None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def _split_targets() -> list[tuple[str, str, str]]:
    targets = []
    for old, split in import_map.SPLITS.items():
        for name, target in split.names.items():
            module, _, new_name = target.partition(":")
            targets.append((f"{old}.{name}", module, new_name or name))
        targets += [(f"{old}.{name}", f"{split.itself}.{name}", "") for name in split.keep]
    return sorted(targets)


@pytest.mark.parametrize(("old", "module", "name"), _split_targets())
def test_a_name_of_a_split_module_exists_where_the_map_sends_it(old, module, name):
    found = importlib.import_module(module)
    assert not name or hasattr(found, name), f"{old} is mapped to {module}.{name}, which does not exist"


def test_no_python_file_uses_an_old_path(capsys):
    """``bin/dev/rewrite_imports.py`` would change nothing: every import and dotted reference is the new one."""
    code = rewrite_imports.main(["--check", "--root", str(ROOT), *map(str, _python_files())])
    assert code == 0, capsys.readouterr().out
