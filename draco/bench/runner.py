"""``python -m draco bench``: cost, latency and throughput, counted in the local world.

Every DRACO number comes from counting what happens in the local world, where
EventBridge runs the scheduled functions at their real rates (``draco.world.runs``):
the AWS calls both apps make (by account, service and operation), their Lambda
runs by function, the bytes they log, the metrics they emit, the DynamoDB
request units they use, and simulated time. The original DRACO's design is
derived from its documented flow. Both are priced the same way by
``draco.bench.costs``; ``markdown`` (``draco.bench.report``) makes the tables of ``benchmarks/RESULTS.md``.

Scenarios (size ``small`` keeps each to seconds; ``full`` takes about half an hour):

1. steady state: daily snapshots of many sources under Standard, then idle days;
2. inventory growth: one more snapshot when DR already holds many copies;
3. burst: many snapshots at once against the copy limits;
4. added latency: snapshot taken to DR copy available, minus the copy times;
5. cost: per snapshot and per protected database-month, beside the original's;
6. idle: the pollers resting, against always on, and nothing left waiting (``draco.bench.idle``);
7. re-sends while long copies run, paced and at a fixed 30 minutes (``draco.bench.idle``);
8. cold start, and what it is made of (``draco.bench.coldstart``);
9. calls per snapshot alone, in batches of up to 40 and against large DR inventories (``draco.bench.batches``);
10. the whole bill per protected database-month, storage and keys included (``draco.bench.bill``).
"""

from __future__ import annotations

import io
import math
import os
import platform
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from chalicelib_shared import clock
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from draco.bench import batches as bench_batches
from draco.bench import bill as bench_bill
from draco.bench import coldstart as bench_coldstart
from draco.bench import costs
from draco.bench import idle as bench_idle
from draco.bench import usage as bench_usage
from draco.bench.report import markdown
from draco.bench.retention import run as retention_benchmark
from draco.bench.usage import COPY_TIME, SNAPSHOT_HOUR, run_days
from draco.world.core import DR, PROD, LocalWorld

__all__ = ["SIZES", "markdown", "run_all"]
REPO = Path(__file__).resolve().parents[2]
SIZES: dict[str, dict[str, Any]] = {
    "small": {
        "sources": 3,
        "days": 5,
        "idle_days": 2,
        "inventory": (100, 300),
        "burst": (24, 6),
        "retention": 10_000,
        "cold_starts": 3,
        "batches": (1, 10, 20, 40),
        "batch_inventories": (100, 1_000),
    },
    "full": {
        "sources": 20,
        "days": 40,
        "idle_days": 5,
        "inventory": (100, 1_000, 10_000),
        "burst": (160, 40),
        "retention": 100_000,
        "cold_starts": 7,
        "batches": (1, 10, 20, 40),
        "batch_inventories": (100, 1_000, 10_000),
    },
}
#: The burst measures the copy limits: the transit limit and the new-key cap (safeguards that
#: hold copies back on purpose) are raised, as for sources whose DR keys exist already.
ROOMY = {"producer": {"TRANSIT_LIMIT": "100"}, "consumer": {"KEY_CAP": "1000"}}


def _calls(world: LocalWorld, functions: tuple[str, ...] | None = None) -> Counter[str]:
    """The apps' AWS calls as "service:Operation" (of some functions, or all)."""
    counted: Counter[str] = Counter()
    for (function, _account, service, operation), n in world.stats.calls.items():
        if functions is None or function in functions:
            counted[f"{service}:{operation}"] += n
    return counted


def _by_account(world: LocalWorld) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {PROD: Counter(), DR: Counter()}
    for (_function, account, service, operation), n in world.stats.calls.items():
        out[account][f"{service}:{operation}"] += n
    return {("production" if a == PROD else "DR"): dict(sorted(c.items())) for a, c in out.items()}


# --- 1. steady state, then idle days -------------------------------------------------------
def steady_state(size: dict[str, Any], progress: Progress | None, assume: costs.Assumptions) -> dict[str, Any]:
    sources = [f"db{n}" for n in range(size["sources"])]
    with LocalWorld(log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, every_poll=True) as world:
        for name in sources:
            world.add_instance(name, {"Draco_Lifecycle": "Standard"})
        warmup = min(10, size["days"] // 2)  # the first days fill each source's history
        run_days(world, sources, 0, warmup)
        world.stats.clear()
        run_days(world, sources, warmup, size["days"], progress)
        days, snapshots = size["days"] - warmup, (size["days"] - warmup) * len(sources)
        stats = world.stats
        result = {
            "sources": len(sources),
            "warmup_days": warmup,
            "days_measured": days,
            "snapshots": snapshots,
            "copy_time_minutes": COPY_TIME.total_seconds() / 60,
            "usage": vars(bench_usage.usage(world, assume)),
            "handlers": bench_usage.handler_profile(world),
            "runs_per_day": bench_usage.runs_by_function(world, days),
            "notices_per_snapshot": bench_usage.notices(world) / snapshots,
            "metric_hours_per_day": len(stats.metric_hours) / days,
            "calls_by_account": {
                account: {op: round(n / snapshots, 2) for op, n in ops.items()}
                for account, ops in _by_account(world).items()
            },
            "dr_copies": len(list(KINDS["RDS"].api(world.client("rds", DR)).owned())),
        }
        world.stats.clear()
        world.advance(timedelta(days=size["idle_days"]))
        result["idle_days"] = size["idle_days"]
        result["idle_usage_per_day"] = vars(bench_usage.usage(world, assume) * (1 / size["idle_days"]))
        result["idle_runs_per_day"] = bench_usage.runs_by_function(world, size["idle_days"])
        result["deployment"] = bench_usage.deployment(world, sources)
    return result


# --- 2. inventory growth ---------------------------------------------------------------------
def inventory_growth(size: dict[str, Any], progress: Progress | None) -> list[dict[str, Any]]:
    rows = []
    handlers = bench_usage.SNS_HANDLERS
    for held in size["inventory"]:
        with LocalWorld(log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, every_poll=True) as world:
            world.seed_dr_copies(held, per_source=50)
            world.add_instance("orders", {"Draco_Lifecycle": "Standard"})
            run_days(world, ["orders"], 0, 3)
            world.stats.clear()
            world.take_snapshot("orders", automated=True)
            world.run_until_quiet()
            handler, polls = _calls(world, handlers), _calls(world, ("poll_jobs",))
            rounds = (
                world.stats.invocations["DracoProducer:poll_jobs"] + world.stats.invocations["DracoConsumer:poll_jobs"]
            )
            rows.append(
                {
                    "dr_copies_held": held,
                    "sources_held": math.ceil(held / 50),
                    "handler_calls": sum(handler.values()),
                    "poll_calls": sum(polls.values()),
                    "poll_rounds": rounds,
                    "calls_per_poll_round": sum(polls.values()) / max(1, rounds),
                    "original_handler_calls": costs.original_handler_calls(math.ceil(held / 50) + 1, held),
                }
            )
        if progress:
            progress.log(f"inventory {held}: done")
    return rows


# --- 3. burst --------------------------------------------------------------------------------
def burst(size: dict[str, Any]) -> dict[str, Any]:
    instances, clusters = size["burst"]
    with LocalWorld(log_stream=io.StringIO(), copy_time=COPY_TIME, app_env=ROOMY) as world:
        for n in range(instances):
            world.add_instance(f"db{n}", {"Draco_Lifecycle": "Test"})
        for n in range(clusters):
            world.add_cluster(f"cl{n}", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + SNAPSHOT_HOUR)
        began = clock.now()
        for n in range(instances):
            world.take_snapshot(f"db{n}")
        for n in range(clusters):
            world.take_snapshot(f"cl{n}")
        world.run_until_quiet(limit=timedelta(days=7))
        finished = max(clock.parse_iso(job.updated) for job in world.jobs(DR) if job.state is State.DONE)
        copied = sum(len(list(kind.api(world.client(kind.service, DR)).owned())) for kind in KINDS.values())
        peaks = dict(world.stats.in_flight_peak)
    bound = max((math.ceil(n / limit) + 1) * COPY_TIME for n, limit in ((instances, 20), (clusters, 5)) if n)
    makespan = finished - began
    return {
        "snapshots": instances + clusters,
        "instances": instances,
        "clusters": clusters,
        "copy_time_minutes": COPY_TIME.total_seconds() / 60,
        "makespan_minutes": makespan.total_seconds() / 60,
        "lower_bound_minutes": bound.total_seconds() / 60,
        "target_minutes": (bound * 1.1 + 2 * timedelta(minutes=1)).total_seconds() / 60,
        "peak_in_flight": peaks,
        "lost": instances + clusters - copied,
    }


# --- 4. added latency ------------------------------------------------------------------------
def added_latency() -> list[dict[str, Any]]:
    rows = []
    for events in (True, False):
        with LocalWorld(log_stream=io.StringIO(), copy_time=COPY_TIME, copy_events=events) as world:
            world.add_instance("orders", {"Draco_Lifecycle": "Test"})
            world.add_cluster("ledger", {"Draco_Lifecycle": "Test"})
            world.move_to(world.start + SNAPSHOT_HOUR + timedelta(seconds=17))  # not on a poll tick
            taken = clock.now()
            world.take_snapshot("orders")
            world.take_snapshot("ledger")
            world.run_until_quiet()
            for job in world.jobs(DR):
                added = clock.parse_iso(job.updated) - taken - 2 * COPY_TIME
                rows.append(
                    {
                        "kind": job.kind,
                        "events_sent": events,
                        "copy_finished_event": events and job.kind == "RDS",
                        "added_seconds": added.total_seconds(),
                        "original_added_seconds_worst": 2 * costs.ORIGINAL_WAIT.total_seconds(),
                    }
                )
    return rows


# --- running ---------------------------------------------------------------------------------
def run_all(size_name: str, progress: Progress | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    started = time.perf_counter()
    # moto's account-wide snapshot limit (1000) would stop a long history; AWS's quota is per type and raisable.
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "100000")
    cold = bench_coldstart.measure(size["cold_starts"])
    assume = costs.Assumptions(init_seconds=max(row["now"] for row in cold["apps"].values()))
    steady = steady_state(size, progress, assume)
    results = {
        "size": size_name,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "steady_state": steady,
        "cost": bench_usage.cost(steady, assume),
        "idle": bench_idle.idle(steady, assume),
        "resends": bench_idle.resends(),
        "cold_start": cold,
        "inventory_growth": inventory_growth(size, progress),
        "burst": burst(size),
        "added_latency": added_latency(),
        "shared_code_bytes": sum(p.stat().st_size for p in (REPO / "chalicelib_shared").rglob("*.py")),
        "retention_count": size["retention"],
        "retention_seconds": retention_benchmark(size["retention"]),
    }
    results["bill"] = bench_bill.run(results["cost"], steady)
    results["calls"] = {
        "batches": bench_batches.batches(size["batches"]),
        "inventories": bench_batches.inventories(size["batch_inventories"]),
    }
    results["bench_seconds"] = time.perf_counter() - started
    return results
