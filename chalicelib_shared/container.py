"""What a Lambda container remembers between runs, in one object its app module makes.

AWS runs many invocations in one container; the app module (``producer_app/app.py``,
``consumer_app/app.py``) lives as long as the container and holds one ``Container``,
handed to every service it builds. Nothing else in the Lambda code keeps state
between runs: the hourly checks ride on it (made at most once an hour per
container, not on every poll) and so does the once-per-container log of a bad
configuration. A test or a new local world starts from a new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib_shared import clock

HOURLY = timedelta(hours=1)  # quota and recovery-point checks, at most hourly per container


@dataclass
class Container:
    last_checked: dict[str, datetime] = field(default_factory=dict)  # when each hourly check was last made
    reported: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)  # configuration problems logged

    def hourly(self, check: str) -> bool:
        """True at most once an hour for each named check.

        By ``clock.now()``, which the local world moves, so the checks keep their real
        rate there too; a clock that went back (a new world) counts as an hour gone.
        """
        now, last = clock.now(), self.last_checked.get(check)
        if last is not None and timedelta(0) <= now - last < HOURLY:
            return False
        self.last_checked[check] = now
        return True

    def first_report(self, app: str, problems: tuple[str, ...]) -> bool:
        """True the first time this container meets these configuration problems of ``app``."""
        if (app, problems) in self.reported:
            return False
        self.reported.add((app, problems))
        return True
