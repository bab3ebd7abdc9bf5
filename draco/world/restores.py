"""Restore drills in the local world: how long restores take here, and a drill run as the DR operator would.

**How long a restore takes.** AWS publishes no restore-time figure for any of
these services; what it documents is what the time depends on:

* RDS DB instance: the instance is created and becomes available while its
  data is still being loaded from S3 in the background (lazy loading), so
  the first reads of each block are slow; a restore's time grows with the
  storage provisioned and the instance class
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RestoreFromSnapshot.html).
* Aurora (and the clusters built like it, DocumentDB and Neptune): the
  cluster volume is provisioned across three zones and the data is loaded
  from S3 *before* the cluster becomes available, with no lazy loading, and
  the time is "non-linear" in the data's size
  (https://repost.aws/knowledge-center/aurora-mysql-snapshot-restore-options);
  then the instance the drill adds is created.
* EBS: a volume created from a snapshot is available at once and its blocks
  are loaded lazily on first access
  (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-initialize.html).

The model below is an **assumption** shaped by those statements, not a
measurement: a fixed provisioning time per kind plus a time per GB, longer for
burstable classes (``RESTORE_MODEL``). It makes RTO figures non-zero and
ordered as AWS describes them (EBS fastest, clusters slowest), nothing more.
It is installed as ``moto_gaps.restoring.restore_time`` while ``drill`` runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib_shared import metrics
from chalicelib_shared.drills.checks import Validator
from chalicelib_shared.drills.model import Drill
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.drills.table import DrillTable
from chalicelib_shared.drills.use_case import Drills, Skipped
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.kinds import KINDS
from draco.bootstrap.drill_alarms import fired
from draco.world.moto_gaps import restoring

if TYPE_CHECKING:
    from draco.world.core import LocalWorld

#: kind -> (fixed provisioning time, time per GB): an assumption (see the module docstring).
RESTORE_MODEL: dict[str, tuple[timedelta, timedelta]] = {
    "RDS": (timedelta(minutes=8), timedelta(seconds=6)),
    "RDS Cluster": (timedelta(minutes=15), timedelta(seconds=12)),
    "EBS": (timedelta(minutes=1), timedelta(seconds=0.6)),
}
#: Burstable classes restore slower (less network and I/O bandwidth): an assumption too.
BURSTABLE_FACTOR = 1.5


def restore_time(kind: str, size_gb: int, instance_class: str) -> timedelta:
    fixed, per_gb = RESTORE_MODEL[kind]
    factor = BURSTABLE_FACTOR if instance_class.startswith(("db.t", "db.m1")) else 1.0
    return (fixed + per_gb * size_gb) * factor


@contextlib.contextmanager
def timed_restores() -> Iterator[None]:
    """Restores take ``restore_time`` while inside."""
    previous = restoring.restore_time
    restoring.restore_time = restore_time
    try:
        yield
    finally:
        restoring.restore_time = previous


@dataclass
class DrillOutcome:
    drills: list[Drill]
    skipped: list[Skipped]
    leftovers: list[str]  # what drills made that still exists in DR
    emitted: dict[str, list[float]] = field(default_factory=dict)  # the drill metrics, by name
    alarms: list[str] = field(default_factory=list)  # the drill alarms those metrics raise

    def rows(self) -> list[dict[str, Any]]:
        """The demo's ``drills``: one row per source drilled."""
        return [
            {
                "source": drill.source_name,
                "kind": drill.kind,
                "result": drill.result,
                "rto_seconds": drill.rto_seconds,
                "copy": drill.copy_id,
                "reason": drill.reason,
                "instance_class": drill.instance_class,
                "cost_usd": round(drill.cost_usd, 4),
            }
            for drill in self.drills
        ]


def drills_of(world: LocalWorld, settings: DrillSettings, validator: Validator | None = None) -> Drills:
    """The drill use-case on the world's DR account, as ``draco drill`` builds it on AWS."""
    from draco.world.core import DR

    table = world.job_table(DR)
    return Drills(
        DrillTable(table),
        JobTable(table, inventory=True),
        lambda kind: KINDS[kind].restores(world.client(KINDS[kind].service, DR)),
        settings,
        validator,
    )


def leftovers(world: LocalWorld) -> list[str]:
    """Everything carrying ``Draco_Drill`` in the DR account, in DR's Region."""
    from draco.world.core import DR

    return [r.resource_id for kind in KINDS.values() for r in kind.restores(world.client(kind.service, DR)).drilled()]


def drill(
    world: LocalWorld,
    *,
    source: str = "",
    tag: tuple[str, str] | None = None,
    keep: bool = False,
    settings: DrillSettings | None = None,
    validator: Validator | None = None,
    poll: timedelta = timedelta(minutes=1),
) -> DrillOutcome:
    """Drill the chosen sources (default: every protected one) while the world's time passes."""
    chosen = (settings or DrillSettings()).checked()
    if chosen.problems:
        raise ValueError("; ".join(chosen.problems))
    drills = drills_of(world, chosen, validator)
    metrics.metrics.clear_metrics()
    with timed_restores():
        results = drills.run(drills.choose(source, tag), wait=world.advance, keep=keep, poll=poll)
    emitted = {
        name: [float(v) for v in metric.get("Value", [])]
        for name, metric in metrics.metrics.metric_set.items()
        if name in ("RestoreSeconds", "DrillsFailed")
    }
    metrics.metrics.clear_metrics()
    return DrillOutcome(
        drills=[r for r in results if isinstance(r, Drill)],
        skipped=[r for r in results if isinstance(r, Skipped)],
        leftovers=leftovers(world),
        emitted=emitted,
        alarms=fired(emitted, chosen.rto_target),
    )
