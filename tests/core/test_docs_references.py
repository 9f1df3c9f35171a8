"""Comments and docs cite WAHA's behaviour by section of ``docs/WAHA.md``; every cited section must exist there.

The project once cited a reference page that does not ship with it; a clone has only its own docs.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAHA_DOC = ROOT / "docs" / "WAHA.md"
SKIPPED_DIRS = {".venv", ".git", "node_modules", "staticfiles", "var", ".tools"}
CITING_SUFFIXES = {".py", ".md", ".html", ".yml", ".yaml", ".toml", ".txt"}
CITATION = re.compile(r"WAHA\.md §(\d+(?:\.\d+)?)")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", re.MULTILINE)


def _sections() -> set[str]:
    return set(HEADING.findall(WAHA_DOC.read_text(encoding="utf-8")))


def _citing_files() -> list[Path]:
    return [path for path in ROOT.rglob("*") if path.suffix in CITING_SUFFIXES and path.is_file()
            and not set(path.relative_to(ROOT).parts) & SKIPPED_DIRS]


def _citations() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _citing_files():
        for section in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(section, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_waha_page_numbers_its_sections():
    sections = _sections()
    assert {str(number) for number in range(1, 11)} <= sections
    assert {"5.1", "5.2", "5.3", "5.4", "5.5"} <= sections
    assert {f"9.{item}" for item in range(1, 20)} <= sections


def test_every_cited_section_exists():
    citations = _citations()
    assert sum(len(files) for files in citations.values()) > 50, "the code cites the page throughout"
    missing = {section: sorted(files) for section, files in citations.items() if section not in _sections()}
    assert missing == {}


def test_nothing_cites_a_page_the_project_does_not_ship():
    citing = sorted(str(path.relative_to(ROOT)) for path in _citing_files()
                    if re.search(r"(?<![A-Z_])PROTOCOL(\.md| §)", path.read_text(encoding="utf-8", errors="replace")))
    assert citing == []
