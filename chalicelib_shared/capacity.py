"""DR's snapshot capacity is DR's: a share of it per source account and per source.

AWS limits the manual snapshots an account holds per kind and Region: RDS reports
the quota and its use through ``DescribeAccountAttributes`` as ``ManualSnapshots``
(DB instance snapshots) and ``ManualClusterSnapshots`` (DB cluster snapshots),
100 each by default ("The number of manual DB snapshots per account. The used value
is the count of the manual DB snapshots in the account":
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AccountQuota.html;
defaults: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html).
A copy past the quota fails with ``SnapshotQuotaExceeded``. Production chooses how
many snapshots it takes and what lifecycle it asks for, so without shares one new
database tagged ``last=1000`` could fill DR's quota and starve every other source.

Before each DR copy starts, ``room`` checks, in this order:

* **the source's share**: ``max(MAX_KEEP, what its lifecycle in force keeps)`` plus
  ``SLACK`` (the new copy, before the lifecycle pass that follows it deletes); its
  use is what it held after its last pass plus its copies in flight, each of which
  holds a place in the source's own pool (``room``) until it is done or failed;
* **the account's share**: the quota divided equally among the accounts that
  hold copies of the kind in DR, counting the one asking (not among all trusted
  accounts: with 200 listed, or an Organization, a fixed split would leave each
  account no room at the default quota of 100); an account's use is what its
  sources held after their last lifecycle pass plus its copies in flight (the
  copy slots name them). A newcomer's share is never zero while the quota has
  room for one more account, and accounts already holding more than a newer,
  smaller share lose nothing: only their new copies wait;
* **the quota**: AWS's own count of manual snapshots in DR's Region, plus one, must
  fit under its maximum (DR's relay and locked copies count too, as AWS counts them).

A copy that doesn't fit *waits* (its job says why, ``status`` shows it, the
``CopiesWaitingForRoom`` metric and alarm fire) and starts when room frees: the
lifecycle deletes, the quota is raised, an operator approves a longer lifecycle.
It never fails for it.

A lifecycle keeping more than ``MAX_KEEP`` copies needs approval in DR, like a
shorter one (``lifecycles.plan_pass``): how many a lifecycle keeps is ``keep_bound``,
counted at one snapshot a day (the cadence of automated backups). A source that
snapshots more often under a ``within=`` rule keeps more, and meets its own share:
only its own copies wait.

EBS reports no snapshot quota through the EC2 API (100,000 per Region by default):
its copies meet only the source's share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib_shared.kinds.base import Quota
from chalicelib_shared.retention import Duration, Policy

#: The most copies of one source a lifecycle may keep without approval in DR. Every
#: built-in lifecycle fits (Standard keeps 31, Monthly 32 at one snapshot a day);
#: ``last=1000`` does not, and waits for ``draco approve`` in DR.
DEFAULT_MAX_KEEP = 40
#: Copies a source may hold beyond what its lifecycle keeps: the newest copy, made
#: before the lifecycle pass that follows it, and one more starting meanwhile.
SLACK = 2


def _days(duration: Duration) -> int:
    """How many daily snapshots fit in ``duration`` at most (months of 31 days, years of 366)."""
    return duration.years * 366 + duration.months * 31 + duration.days + -(-duration.hours // 24)


def keep_bound(policy: Policy) -> int | None:
    """The most copies ``policy`` keeps of one snapshot a day; ``None`` for no usable lifecycle.

    Each rule keeps at most its count (``last``, ``daily=N`` ...: N periods, the oldest
    kept only while fewer exist) or the days of its window (``within...=D``: one more for
    the oldest a ``within_<period>`` rule may keep); the union keeps at most their sum.
    """
    if policy.ignore or policy.keep_all:
        return None
    bound = 0
    for rule in policy.rules:
        if isinstance(rule.value, int):
            bound += rule.value
        else:
            bound += _days(rule.value) + (rule.key != "within")
    return bound


def source_share(max_keep: int, in_force: Policy | None) -> int:
    """How many DR copies one source may hold: ``MAX_KEEP``, or what an approved lifecycle keeps."""
    kept = keep_bound(in_force) if in_force is not None else None
    return max(max_keep, kept or 0) + SLACK


def needs_approval(max_keep: int, wanted: Policy, in_force: Policy | None) -> bool:
    """A lifecycle keeping more than ``MAX_KEEP`` copies (and more than the one in force keeps) waits."""
    if not max_keep:
        return False
    wanted_bound = keep_bound(wanted)
    current = keep_bound(in_force) if in_force is not None else None
    return wanted_bound is not None and wanted_bound > max(max_keep, current or 0)


@dataclass(frozen=True)
class Holding:
    """What one source held after its last lifecycle pass."""

    source_acct: str
    kind: str
    source_name: str
    held: int


def room(
    *,
    kind: str,
    source_acct: str,
    source_name: str,
    quota: Quota | None,
    holdings: Iterable[Holding],
    account_in_flight: int,
    source_in_flight: int,
    source_limit: int,
) -> str:
    """Why a copy of this source can't start now ("" when it can); see the module docstring."""
    holdings = [h for h in holdings if h.kind == kind]
    own = sum(h.held for h in holdings if (h.source_acct, h.source_name) == (source_acct, source_name))
    own += source_in_flight
    if own + 1 > source_limit:
        return (
            f"{source_name} holds its share of DR's {kind} snapshots ({own} of {source_limit}: MAX_KEEP, "
            "or what an approved lifecycle keeps)"
        )
    if quota is None or not quota.max:
        return ""
    accounts = {h.source_acct for h in holdings if h.held > 0} | {source_acct}
    share = quota.max // len(accounts)
    used = sum(h.held for h in holdings if h.source_acct == source_acct) + account_in_flight
    if used + 1 > share:
        return f"account {source_acct} holds its share of DR's {kind} snapshot quota ({used} of {share})"
    if quota.used + 1 > quota.max:
        return f"DR's manual snapshot quota for {kind} is full ({quota.used} of {quota.max})"
    return ""
