"""Which lifecycle governs a source's DR copies, and what a lifecycle pass may delete.

The source's ``Draco_Lifecycle`` tag (travelling in production's messages)
*asks* for a lifecycle; DR decides what is in force, because a compromised
production account must not be able to shorten DR's history:

* a source's first lifecycle is in force at once;
* a lifecycle that keeps at least as much as the one in force (``keeps_at_least``)
  replaces it at once: production may lengthen retention;
* any other change waits for approval in DR (``draco approve``); meanwhile a pass
  deletes only what *both* lifecycles would delete, and reports the change;
* a lifecycle keeping more than ``MAX_KEEP`` copies (``capacity.keep_bound``) waits
  for approval too, a source's first included: DR's snapshot quota is DR's; until
  then a first lifecycle deletes nothing, and the source's share of the quota
  (``capacity``) bounds what it holds;
* a change an operator rejected (``draco reject``) is dismissed: the lifecycle in
  force applies alone, with no alert, until production asks for something else;
* ``RETENTION_LOCK=off`` gives up that authority: every change is in force at once
  (``MAX_KEEP`` still holds: capacity is not history);
* whatever is in force, a pass never deletes one of the source's newest
  ``MIN_KEEP`` copies, nor a copy locked against deletion;
* a tag naming no usable lifecycle (``Ignore`` on a protected source, a typo)
  changes nothing and deletes nothing.

Everything here is pure: the consumer, the status report, the demo and the
soak checks all judge a source with these same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib_shared.capacity import DEFAULT_MAX_KEEP, needs_approval
from chalicelib_shared.naming import LIFECYCLE_TAG
from chalicelib_shared.retention import Duration, Policy, Rule, apply_policy, resolve_lifecycle
from chalicelib_shared.sources import SourceRecord


@dataclass(frozen=True)
class Lifecycles:
    """The DR account's lifecycle settings (from the consumer's configuration)."""

    custom: Mapping[str, str]
    default: str = ""
    lock: bool = True  # RETENTION_LOCK: shortening needs approval in DR
    min_keep: int = 3  # MIN_KEEP: the newest copies no lifecycle deletes
    max_keep: int = DEFAULT_MAX_KEEP  # MAX_KEEP: a lifecycle keeping more waits for approval (0: off)

    def requested(self, tags: Mapping[str, str]) -> str:
        """The lifecycle a source's tags ask for, as text (the default when untagged)."""
        return (tags.get(LIFECYCLE_TAG) or "").strip() or self.default.strip()

    def policy(self, text: str) -> Policy:
        return resolve_lifecycle(text, self.custom)

    def source_lifecycle(self, tags: Mapping[str, str]) -> Policy:
        """The policy a source's tags ask for; what decides whether a new snapshot is copied."""
        return resolve_lifecycle(tags.get(LIFECYCLE_TAG), self.custom, self.default)


def _usable(policy: Policy) -> bool:
    return not (policy.ignore or policy.keep_all)


def _dominates(wider: Rule, narrower: Rule) -> bool:
    if wider.key != narrower.key:
        return False
    if isinstance(wider.value, Duration) and isinstance(narrower.value, Duration):
        a, b = wider.value, narrower.value
        return a.years >= b.years and a.months >= b.months and a.days >= b.days and a.hours >= b.hours
    return isinstance(wider.value, int) and isinstance(narrower.value, int) and wider.value >= narrower.value


def keeps_at_least(wider: Policy, narrower: Policy) -> bool:
    """True when ``wider`` keeps every copy ``narrower`` keeps, whatever the copies.

    A policy keeps the union of what its rules select, and each rule selects more
    with a larger count or a longer window; so ``wider`` keeps at least as much
    when each of ``narrower``'s rules has one of the same key and no smaller
    value in ``wider``. Rules of different keys are never compared: such a
    change waits for approval, which is the safe side.
    """
    if not (_usable(wider) and _usable(narrower)):
        return False
    return all(any(_dominates(rule, theirs) for rule in wider.rules) for theirs in narrower.rules)


@dataclass(frozen=True)
class LifecyclePass:
    """What one pass over a source's copies decided."""

    in_force: str  # the lifecycle in force after the pass
    requested: str  # what production's newest copy asks for
    pending: str  # a shortening waiting for approval ("" when none)
    newly_pending: bool  # this pass found the change (alert once)
    delete: tuple[str, ...]  # copies to delete now, newest first
    held: tuple[str, ...]  # copies the requested lifecycle would delete that this pass keeps
    problem: str = ""  # why nothing could be deleted (no usable lifecycle)
    rejected: str = ""  # a change an operator dismissed, still asked for (kept in the source's record)


def plan_pass(
    settings: Lifecycles,
    record: SourceRecord | None,
    requested: str,
    copies: Iterable[tuple[str, datetime]],
    now: datetime,
    locked: Iterable[str] = (),
    arrived: Mapping[str, datetime] | None = None,
) -> LifecyclePass:
    """Decide the lifecycle in force and the copies a pass deletes; see the module docstring.

    ``arrived``: when DR learnt of each copy, so a late one never displaces a timely one (``retention``).
    """
    copies = list(copies)
    in_force = record.lifecycle if record and record.lifecycle else ""
    wanted = settings.policy(requested)  # "" resolves to no lifecycle
    if not _usable(wanted):
        kept = in_force or requested
        return LifecyclePass(kept, requested, record.pending if record else "", False, (), (), wanted.problem or "")
    rejected = record.rejected if record and record.rejected == requested else ""
    current = settings.policy(in_force) if in_force else None
    pending = ""
    if needs_approval(settings.max_keep, wanted, current) or (
        in_force and settings.lock and not keeps_at_least(wanted, settings.policy(in_force))
    ):
        pending = "" if requested in (in_force, rejected) else requested
    else:
        in_force = requested
    newly = bool(pending) and (record is None or record.pending != pending)
    if not in_force:  # a first lifecycle keeping more than MAX_KEEP: nothing is deleted until it is approved
        return LifecyclePass("", requested, pending, newly, (), (), rejected=rejected)
    current = settings.policy(in_force)
    if not _usable(current):
        return LifecyclePass(in_force, requested, pending, False, (), (), current.problem or "", rejected)
    deletable = apply_policy(current, copies, now, arrived).delete
    asked = apply_policy(wanted, copies, now, arrived).delete
    if pending:
        deletable = [copy for copy in deletable if copy in set(asked)]
    floor = {copy for copy, _ in sorted(copies, key=lambda c: c[1], reverse=True)[: settings.min_keep]}
    untouchable = floor | set(locked)
    delete = tuple(copy for copy in deletable if copy not in untouchable)
    held = tuple(copy for copy in asked if copy not in delete)
    return LifecyclePass(in_force, requested, pending, newly, delete, held, rejected=rejected)
