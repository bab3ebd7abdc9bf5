"""Decisions only the DR account takes about a source, and their history.

Production may lengthen how long DR keeps a source's copies, never shorten it, nor
make DR keep more than ``MAX_KEEP`` copies of one source, without a decision in DR
(``chalicelib_shared.lifecycles``). With DR credentials an operator:

* **approves** a change: ``approve`` puts exactly the lifecycle text the operator
  names in force. If production changed what waits since the operator looked (the
  approve-swap: ``Weekly`` shown, ``last=1`` waiting by the time they approve), the
  command refuses and shows both, and nothing changes;
* **rejects** it: ``reject`` dismisses what waits; the lifecycle in force goes on
  alone and the alarm clears, until production's tag asks for something else;
* **retires** a source gone on purpose: ``retire``; its copies stay and its lifecycle
  keeps running, and it no longer counts for the recovery-point alarm (a copy that
  comes later watches it again);
* **budgets keys** for onboarding a production account: ``budget``, N new DR keys
  past ``KEY_CAP`` for that account within the hours given (``chalicelib_shared.room``).

Every decision is appended to the history in the consumer's job table (who, when,
what, from what), in the same transaction as the change it makes; an entry is
never overwritten (it is written only if its key is new). ``status`` shows it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.job_table import KEY, JobTable
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.room import key_budget
from chalicelib_shared.sources import SourceRecord

DECISION_PREFIX = "#decision#"
ACTIONS = ("approve", "reject", "retire", "budget")
MAX_BUDGET = 10000


class DecisionError(Exception):
    """A decision refused, with the reason; nothing was changed."""


@dataclass(frozen=True)
class Decision:
    """One entry of the history: ``who`` did ``action`` at ``at`` to ``source`` (an inventory key or account)."""

    source: str
    action: str
    what: str  # the lifecycle approved or rejected; the budget granted
    was: str  # the lifecycle in force before (approve, reject, retire)
    who: str
    at: str
    asked: str = ""  # what production asked for at the time (approve)

    def to_item(self) -> dict[str, Any]:
        key = f"{DECISION_PREFIX}{self.at}#{secrets.token_hex(4)}"
        fields = {"source": self.source, "action": self.action, "what": self.what, "was": self.was}
        return {KEY: key, **fields, "who": self.who, "at": self.at, "asked": self.asked}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Decision:
        return cls(*(str(item.get(name, "")) for name in ("source", "action", "what", "was", "who", "at", "asked")))


def decisions(items: Iterable[Mapping[str, Any]]) -> list[Decision]:
    """The history among a job table's items, oldest first."""
    found = [Decision.from_item(item) for item in items if str(item.get(KEY, "")).startswith(DECISION_PREFIX)]
    return sorted(found, key=lambda decision: decision.at)


def find_source(records: list[SourceRecord], source: str) -> SourceRecord:
    """The one record SOURCE names; ``DecisionError`` when none or several do."""
    wanted = source.strip()
    found = [
        record
        for record in records
        if wanted in (record.inventory_key, record.source_name, f"{record.source_acct}/{record.source_name}")
    ]
    if not found:
        known = ", ".join(sorted(record.source_name for record in records)) or "none yet"
        raise DecisionError(f"no protected source {wanted!r} in this DR account (sources: {known})")
    if len(found) > 1:
        keys = ", ".join(record.inventory_key for record in found)
        raise DecisionError(f"{wanted!r} names {len(found)} sources; give one of: {keys}")
    return found[0]


def _rules(settings: Lifecycles, text: str) -> str:
    policy = settings.policy(text)
    return str(policy) if not policy.keep_all else f"{text} (not a lifecycle)"


def _save(table: JobTable, record: SourceRecord, decision: Decision) -> SourceRecord:
    saved = table.save_source(record, decision.to_item())
    if saved is None:
        raise DecisionError(f"{record.inventory_key} changed meanwhile; look at draco status and run the command again")
    return saved


def approve(table: JobTable, settings: Lifecycles, source: str, who: str, lifecycle: str) -> SourceRecord:
    """Put exactly ``lifecycle`` in force for one source; refused if a different change waits."""
    record = find_source(table.sources(), source)
    text = lifecycle.strip()
    if not text:
        raise DecisionError("--lifecycle is empty: name the lifecycle you approve, as draco status shows it")
    if record.pending and record.pending != text:
        raise DecisionError(
            f"{record.inventory_key}: the change waiting for approval is {record.pending!r}, not {text!r}; "
            f"nothing approved.\n  waiting:  {_rules(settings, record.pending)}\n"
            f"  you gave: {_rules(settings, text)}\n"
            "Production may have changed its tag since you looked: check draco status, then approve what waits "
            "(or draco reject it)"
        )
    policy = settings.policy(text)
    if policy.ignore or policy.keep_all:
        raise DecisionError(f"--lifecycle {text!r} is not a lifecycle DR can apply ({policy.problem or 'Ignore'})")
    now = clock.iso(clock.now())
    decision = Decision(record.inventory_key, "approve", text, record.lifecycle, who, now, record.pending)
    changed = replace(
        record, lifecycle=text, pending="", pending_since="", rejected="", approved_by=who, approved_at=now
    )
    return _save(table, changed, decision)


def reject(table: JobTable, source: str, who: str, lifecycle: str | None = None) -> SourceRecord:
    """Dismiss the change waiting for one source, until production asks for another."""
    record = find_source(table.sources(), source)
    if not record.pending:
        raise DecisionError(f"no change waits for approval for {record.inventory_key}; nothing to reject")
    if lifecycle is not None and lifecycle.strip() != record.pending:
        raise DecisionError(
            f"{record.inventory_key}: the change waiting is {record.pending!r}, not {lifecycle.strip()!r}; "
            "nothing rejected"
        )
    decision = Decision(record.inventory_key, "reject", record.pending, record.lifecycle, who, clock.iso(clock.now()))
    return _save(table, replace(record, rejected=record.pending, pending="", pending_since=""), decision)


def retire(table: JobTable, source: str, who: str) -> SourceRecord:
    """Stop watching a source gone on purpose; its copies and its lifecycle stay."""
    record = find_source(table.sources(), source)
    now = clock.iso(clock.now())
    decision = Decision(record.inventory_key, "retire", record.lifecycle, record.lifecycle, who, now)
    return _save(table, replace(record, retired_by=who, retired_at=now), decision)


def budget(table: JobTable, accounts: Iterable[str], account: str, keys: int, hours: int, who: str) -> str:
    """Let one source account make ``keys`` new DR keys past ``KEY_CAP`` within ``hours``; the budget's end."""
    if account not in set(accounts):
        raise DecisionError(f"{account} is not one of the consumer's source accounts (SOURCE_ACCTS)")
    if not 1 <= keys <= MAX_BUDGET or not 1 <= hours <= 24 * 7:
        raise DecisionError(f"--keys must be 1 to {MAX_BUDGET} and --hours 1 to 168")
    now = clock.now()
    until = clock.iso(now + timedelta(hours=hours))
    table.append(Decision(account, "budget", f"{keys} keys until {until}", "", who, clock.iso(now)).to_item())
    table.grant(key_budget(account), keys, until, approved_by=who, approved_at=clock.iso(now))
    return until
