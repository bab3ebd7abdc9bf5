"""Quota planning: how many DR copies each kind will hold at steady state, against the account's quota.

AWS lets an account hold 100 manual DB snapshots and 100 manual DB cluster snapshots
per Region by default (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html);
``Standard`` keeps about 31 copies of a daily source, so three such sources fill it.
When the quota is full DR's copies wait (they don't fail), and the newest recovery
points stop arriving: the operator must know before.

For each protected source, the plan takes the lifecycle in force and how often the
source's snapshots come (the median spacing of its copies' source times; a day
when there are fewer than two), and counts what that lifecycle keeps once the source
has run long enough that nothing kept is ever let go later (``steady_state``). It
sums those per kind and sets them against the quota the kind reads from AWS
(``SnapshotApi.quota``; EBS reports none: its 100,000 snapshots per Region are out
of DRACO's reach). ``status`` shows it (and exits 1 when a kind's plan is over its
quota), ``draco plan --quota`` prints it alone, and bootstrap warns with it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib_shared.kinds import KINDS
from chalicelib_shared.kinds.base import Quota
from chalicelib_shared.retention import Policy
from chalicelib_shared.steady_state import steady_state

DAY = timedelta(days=1)


def spacing(times: Iterable[datetime]) -> timedelta:
    """How often a source's snapshots come: the median gap of its copies' source times (a day if unknown)."""
    ordered = sorted(times)
    gaps = [later - earlier for earlier, later in zip(ordered, ordered[1:], strict=False) if later > earlier]
    return statistics.median(gaps) if gaps else DAY


@dataclass(frozen=True)
class SourcePlan:
    kind: str
    source: str  # account#kind#name
    policy: Policy
    every: timedelta
    copies: int  # at steady state


@dataclass(frozen=True)
class KindPlan:
    """One kind's copies at steady state in DR's Region, against its quota there."""

    kind: str
    sources: int
    planned: int
    used: int | None  # manual snapshots now (None: the kind reports no quota)
    quota: int | None

    @property
    def over(self) -> bool:
        return self.quota is not None and self.planned > self.quota

    @property
    def percent(self) -> float | None:
        return None if not self.quota else round(100 * self.planned / self.quota, 1)

    def line(self) -> str:
        label = f"{self.kind} snapshots"
        if self.quota is None:
            return f"{label}: {self.planned} copies at steady state from {self.sources} source(s); no quota to read"
        verdict = "OVER the quota" if self.over else "within the quota"
        return (
            f"{label}: {self.planned} copies at steady state from {self.sources} source(s), "
            f"quota {self.quota} ({self.percent:g} %, {self.used} used now): {verdict}"
        )


def plan(
    sources: Iterable[tuple[str, str, Policy, Iterable[datetime]]], quotas: Mapping[str, Quota | None]
) -> list[KindPlan]:
    """``sources``: (kind, source key, lifecycle in force, its copies' source times); ``quotas``: by kind."""
    by_kind: dict[str, list[SourcePlan]] = defaultdict(list)
    for kind, key, policy, times in sources:
        every = spacing(times)
        by_kind[kind].append(SourcePlan(kind, key, policy, every, steady_state(policy, every)))
    kinds = sorted(set(by_kind) | {kind for kind, quota in quotas.items() if quota is not None})
    return [
        KindPlan(
            kind,
            len(by_kind[kind]),
            sum(p.copies for p in by_kind[kind]),
            quotas[kind].used if quotas.get(kind) else None,  # type: ignore[union-attr]
            quotas[kind].max if quotas.get(kind) else None,  # type: ignore[union-attr]
        )
        for kind in kinds
    ]


def read_quotas(client: Callable[[str], object]) -> dict[str, Quota | None]:
    """Each kind's snapshot quota in the account and Region ``client`` reaches (``None``: none to read)."""
    return {name: kind.api(client(kind.service)).quota() for name, kind in KINDS.items()}


def to_json(plans: Iterable[KindPlan]) -> list[dict[str, object]]:
    return [
        {
            "kind": p.kind,
            "sources": p.sources,
            "planned_copies": p.planned,
            "used_now": p.used,
            "quota": p.quota,
            "percent_of_quota": p.percent,
            "over_quota": p.over,
        }
        for p in plans
    ]


def run(args: object) -> int:
    """``draco plan --quota``: read the DR account as ``status`` does; print the plan; 1 when a kind is over."""
    from rich.console import Console

    from draco import ops
    from draco.status.command import planned_sources
    from draco.status.readers import collect, consumer_config

    def go() -> int:
        config = consumer_config(args.stage, args.table, args.app_dir)  # type: ignore[attr-defined]
        session = ops.session_for(args)
        table = session.resource("dynamodb").Table(config.job_table)
        plans = plan(planned_sources(collect(table, session.client, config)), read_quotas(session.client))
        console = Console()
        console.print("Manual snapshot quota, at steady state:")
        for kind in plans:
            console.print(f"  {kind.line()}")
        return 1 if any(kind.over for kind in plans) else 0

    return ops.guarded("plan", go)
