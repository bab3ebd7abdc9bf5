"""``python -m draco soak``: seeded runs of the local world under injected faults.

Each run takes daily snapshots of a few sources while deliveries are dropped,
repeated and reordered, AWS calls fail and Lambda runs die part way; then the
faults stop and the pollers and the production sweep run until all is quiet,
as they would on the next calm day. After every run the invariants hold:

* every tagged snapshot has exactly one DR copy, or a job reported ``failed``;
* no transit copy is left, except for jobs reported ``failed``;
* no production snapshot was deleted;
* nothing was deleted in DR that its lifecycle keeps.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

from chalicelib_shared import provenance
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.naming import SOURCE_ARN_TAG, dr_copy_id, is_transit_id
from chalicelib_shared.retention import apply_policy
from draco.outputs import progress
from draco.world.faults import FaultPlan
from draco.world.local_aws import without_aws_profile

if TYPE_CHECKING:
    from draco.world.core import LocalWorld

#: (name, cluster, lifecycle or None for untagged)
SOAK_SOURCES = (("orders", False, "Test"), ("ledger", True, "Test"), ("scratch", False, None))


@dataclass
class SoakRun:
    seed: int
    injected: Counter[str] = field(default_factory=Counter)
    taken: int = 0
    copied: int = 0
    failed: int = 0
    violations: list[str] = field(default_factory=list)


def plan_for(seed: int, rate: float) -> FaultPlan:
    return FaultPlan(seed=seed, drop=rate, duplicate=rate, reorder=True, error=rate / 2, kill=rate / 4)


def run_once(seed: int, days: int = 3, rate: float = 0.2, live: bool = True) -> SoakRun:
    """One seeded run; see the module docstring."""
    from draco.world.core import LocalWorld

    faults = plan_for(seed, rate)
    result = SoakRun(seed=seed)
    with LocalWorld(live=live, faults=faults, log_stream=io.StringIO()) as world:
        for name, cluster, lifecycle in SOAK_SOURCES:
            add = world.add_cluster if cluster else world.add_instance
            add(name, {"Draco_Lifecycle": lifecycle} if lifecycle else {})
        taken: dict[str, tuple[str, bool]] = {}
        world.move_to(world.start + timedelta(hours=3))
        for day in range(days):
            for name, cluster, lifecycle in SOAK_SOURCES:
                snapshot_id = world.take_snapshot(name, automated=day % 2 == 0)
                if lifecycle:
                    taken[snapshot_id] = (name, cluster)
            world.advance(timedelta(hours=24))
        faults.error = faults.kill = faults.drop = faults.duplicate = 0.0  # a calm day follows
        world.advance(timedelta(hours=6))
        world.sweep()
        world.run_until_quiet(limit=timedelta(days=3))
        result.injected = faults.counts + Counter({"runs retried": sum(world.stats.failed_runs.values())})
        result.taken = len(taken)
        _check(world, taken, live, result)
    return result


def _check(world: LocalWorld, taken: dict[str, tuple[str, bool]], live: bool, result: SoakRun) -> None:
    from draco.world.core import DR, PROD

    dr_jobs = {job.job_id: job for job in world.jobs(DR)}
    failed = {job.source_id for job in world.jobs(PROD) + list(dr_jobs.values()) if job.state is State.FAILED}
    result.failed = len(failed)
    dr_copies = {s.snapshot_id: s for kind in KINDS.values() for s in kind.api(world.client(kind.service, DR)).owned()}
    prod_ids = {s.snapshot_id for kind in KINDS.values() for s in kind.api(world.client(kind.service, PROD)).owned()}
    for snapshot_id in taken:
        copy_id = dr_copy_id(PROD, snapshot_id)
        job = dr_jobs.get(copy_id)
        if snapshot_id not in prod_ids:
            result.violations.append(f"production snapshot {snapshot_id} was deleted")
        if copy_id in dr_copies or (job and job.state is State.EXPIRED):
            result.copied += 1
        elif snapshot_id not in failed:
            result.violations.append(f"{snapshot_id}: no DR copy and no failed job (state {job and job.state})")
    sources = [copy.tags.get(SOURCE_ARN_TAG, "") for copy in dr_copies.values()]
    if len(sources) != len(set(sources)):
        result.violations.append("a source snapshot has more than one DR copy")
    for transit in (s for s in prod_ids if is_transit_id(s)):
        job_states = [j.state for j in world.jobs(PROD) if j.job_id == transit]
        if job_states != [State.FAILED]:
            result.violations.append(f"transit copy {transit} left behind (job {job_states})")
    if live:
        _check_retention(ConsumerConfig.from_env(world.env["consumer"]).lifecycles, dr_jobs, dr_copies, result)


def _check_retention(
    lifecycles: Lifecycles, dr_jobs: dict[str, Any], dr_copies: dict[str, Any], result: SoakRun
) -> None:
    """Nothing its lifecycle keeps may be gone: recompute each source's keep set from all its copies.

    The lifecycle is resolved as the consumer resolves it; what it keeps is computed afresh here
    (the floor and a pending change only ever keep more, so this bound holds for them too).
    """
    by_source: dict[str, list[Any]] = {}
    for job in dr_jobs.values():
        if job.state in (State.DONE, State.EXPIRED):
            by_source.setdefault(job.inventory_key, []).append(job)
    for jobs in by_source.values():
        newest = max(jobs, key=lambda job: job.source_time)
        policy = lifecycles.source_lifecycle(newest.tags)
        arrived = {j.job_id: at for j in jobs if (at := provenance.arrival(j)) is not None}
        keep = apply_policy(policy, [(j.job_id, j.source_created) for j in jobs], arrived=arrived)
        lost = [copy_id for copy_id in keep.keep if copy_id not in dr_copies]
        if lost:
            result.violations.append(f"deleted although its lifecycle keeps them: {lost}")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("soak", help="seeded fault-injection runs in the local world")
    parser.add_argument("--runs", type=int, default=10, help="how many seeded runs (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run (default 1)")
    parser.add_argument("--days", type=int, default=3, help="simulated days per run (default 3)")
    parser.add_argument("--rate", type=float, default=0.2, help="fault rate, 0 to 0.5 (default 0.2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (1 <= args.runs <= 1000 and 1 <= args.days <= 60 and 0 <= args.rate <= 0.5):
        print("soak: --runs 1..1000, --days 1..60, --rate 0..0.5", file=sys.stderr)
        return 2
    results = []
    with without_aws_profile(), progress(quiet=args.json) as shown:
        task = shown.add_task("seeded runs", total=args.runs)
        for seed in range(args.seed, args.seed + args.runs):
            results.append(run_once(seed, args.days, args.rate))
            shown.advance(task)
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2, default=dict))
    else:
        console = Console()
        console.print(_table(results, console.width))
    return 1 if any(r.violations for r in results) else 0


def _table(results: list[SoakRun], width: int) -> Table:
    """One row per run: a column per kind of fault where the terminal is wide enough, else one folded cell."""
    kinds = sorted({k for r in results for k in r.injected})
    names = [kind.replace("InvalidParameterCombination", "CopyLimit") for kind in kinds]
    columns = ("taken", "copied", "failed", "violations")
    wide = sum(len(name) + 3 for name in ("seed", *names, *columns)) <= width
    table = Table(
        title="DRACO soak: what was injected, and what survived",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
    )
    for column in ("seed", *(names if wide else ["injected"]), *columns):
        table.add_column(column, justify="left" if column in ("injected", "violations") else "right", overflow="fold")
    for r in results:
        counts = [str(r.injected.get(k, 0)) for k in kinds]
        injected = counts if wide else [", ".join(f"{name} {n}" for name, n in zip(names, counts, strict=True))]
        violations = "; ".join(r.violations) or "none"
        table.add_row(str(r.seed), *injected, str(r.taken), str(r.copied), str(r.failed), violations)
    return table
