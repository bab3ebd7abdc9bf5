"""The recovery point: which sources are late, so that one stale source never hides another.

A single "oldest newest copy" figure stays over the threshold from the day one
source goes stale (a throwaway database copied once), and a real source going
stale later changes nothing. So the consumer reports, hourly:

* ``SourcesLate``: how many watched sources' newest DR copy is older than
  ``RPO_HOURS``; the ``RecoveryPointAge`` alarm fires while it is above 0 (and when
  the poller stops reporting);
* ``SourcesGoneLate``: how many crossed the threshold within the last
  ``WENT_LATE_WINDOW``; the ``SourceWentLate`` alarm fires for that hour and clears,
  so each source that goes late sends its own notification, whatever stays late;
* ``RecoveryPointAgeHours``: the oldest newest copy, for graphs.

Ages are never negative, whatever time a message claimed. A source an operator
retired (``draco retire``: gone on purpose) is not watched, until a copy newer than
its retirement comes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib_shared.sources import SourceRecord

#: A source counts as gone late while its age is past the threshold by less than
#: this: two hourly reports see it, so a report that comes late misses none.
WENT_LATE_WINDOW = timedelta(hours=2)


def age_hours(newest: datetime, now: datetime) -> float:
    """Hours since ``newest``, never negative."""
    return round(max(0.0, (now - newest).total_seconds() / 3600), 2)


@dataclass(frozen=True)
class RecoveryPoint:
    ages: dict[str, float]  # watched source -> its newest copy's age in hours
    late: tuple[str, ...]  # over the threshold
    gone_late: tuple[str, ...]  # crossed it within the window

    @property
    def oldest(self) -> float:
        return max(self.ages.values(), default=0.0)


def recovery_point(records: Iterable[SourceRecord], now: datetime, rpo_hours: float) -> RecoveryPoint:
    """Each watched source's age, and which are late and which just went late."""
    ages = {
        record.inventory_key: age_hours(record.newest, now)
        for record in records
        if record.newest is not None and not record.retired
    }
    window = WENT_LATE_WINDOW.total_seconds() / 3600
    late = tuple(sorted(key for key, age in ages.items() if age > rpo_hours))
    gone = tuple(key for key in late if ages[key] <= rpo_hours + window)
    return RecoveryPoint(ages, late, gone)
