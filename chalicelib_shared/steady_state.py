"""How many copies a lifecycle holds of one source at steady state: what the snapshot quota must hold.

Pure (retention only), so both the operator's quota plan (``draco.quota_plan``) and
the consumer can ask it. A lifecycle's count rises and falls as weeks, months and
years turn; the quota must hold its highest, so the count is taken at moments
across the last year of a history longer than anything the lifecycle keeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache

from chalicelib_shared.retention import Policy, apply_policy

DAY = timedelta(days=1)
#: The longest history simulated (a century) and the most snapshots in one simulation.
_HORIZON = timedelta(days=36_525)
_MOST_SNAPSHOTS = 60_000
_START = datetime(2000, 1, 1, tzinfo=timezone.utc)


_PERIOD = {"hourly": timedelta(hours=1), "daily": DAY, "weekly": 7 * DAY, "monthly": 31 * DAY, "yearly": 366 * DAY}
_SAMPLES = 13  # moments across the last year at which the count is taken: it rises and falls with the calendar


def horizon(policy: Policy, every: timedelta) -> timedelta:
    """How far back ``policy`` can keep anything: its longest rule, in time."""
    longest = every
    for rule in policy.rules:
        value = rule.value
        if isinstance(value, int):
            longest = max(longest, value * _PERIOD.get(rule.key, every))
        else:
            longest = max(
                longest,
                value.years * 366 * DAY + value.months * 31 * DAY + value.days * DAY + timedelta(hours=value.hours),
            )
    return longest


@lru_cache(maxsize=256)
def steady_state(policy: Policy, every: timedelta = DAY) -> int:
    """The most copies ``policy`` holds of a source with a snapshot every ``every``, once it has run long enough.

    A history as long as the policy's horizon and a year more (at most a century, and
    ``_MOST_SNAPSHOTS``), judged at moments across its last year: the count rises and
    falls as weeks, months and years turn, and the quota must hold its highest.
    """
    if policy.ignore:
        return 0
    every = max(every, timedelta(hours=1))
    span = min(horizon(policy, every) + 366 * DAY, _HORIZON, _MOST_SNAPSHOTS * every)
    count = int(span / every)
    end = _START + span
    schedule = [(str(i), end - i * every) for i in range(count)]
    moments = [end - k * (366 * DAY / (_SAMPLES - 1)) for k in range(_SAMPLES)] if span > 366 * DAY else [end]
    return max(len(apply_policy(policy, [s for s in schedule if s[1] <= now], now).keep) for now in moments)
