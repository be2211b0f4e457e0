"""docs/security.md's threat model stays true: every row names the tests that show its "what
stops them", and each named test exists."""

from __future__ import annotations

import re

from tests.support.stacks import REPO_ROOT

SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
COLUMNS = ["actor", "what they hold", "what they can do", "what stops them", "tests"]


def threat_rows() -> list[dict[str, str]]:
    """The rows of the table under `## Threat model`, as column -> cell."""
    section = SECURITY_DOC.read_text().split("## Threat model", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def defined_tests() -> set[str]:
    return {
        name
        for path in (REPO_ROOT / "tests").rglob("test_*.py")
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M)
    }


def test_every_threat_names_tests_that_exist() -> None:
    rows = threat_rows()
    assert len(rows) >= 8
    tests = defined_tests()
    for row in rows:
        named = re.findall(r"`(test_\w+)`", row["tests"])
        assert named, f"{row['actor']}: no test named"
        assert [name for name in named if name not in tests] == [], row["actor"]
        assert all(row[column] for column in COLUMNS), row["actor"]
