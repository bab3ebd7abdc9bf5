"""The README's and the operator's guide's alarm tables name every alarm bootstrap makes, and no other."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from chalicelib_shared.kinds.base import Side
from draco.bootstrap.alarms import alarm_definitions
from draco.bootstrap.drill_alarms import drill_alarm_definitions

ROOT = Path(__file__).parent.parent


def made() -> set[str]:
    names = set()
    for side in Side:
        rpo = 26.0 if side is Side.CONSUMER else None
        defined = [
            *alarm_definitions(side, "dev", "arn", rpo),
            *drill_alarm_definitions(side, "dev", "arn", timedelta(hours=1)),
        ]
        names |= {alarm["AlarmName"].rsplit("-", 1)[1] for alarm in defined}
    return names


@pytest.mark.parametrize(
    ("document", "heading"), [("README.md", "### Alarms"), ("docs/operations.md", "## The alarms")]
)
def test_the_alarm_tables_are_complete(document: str, heading: str) -> None:
    text = (ROOT / document).read_text()
    section = text[text.index(heading) :].split("\n#", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE))
    assert listed == made()
