"""``python -m draco bench``: cost, latency and throughput, counted in the local world.

Every number comes from counting what happens in the local world: the AWS calls
both apps make (by account, service and operation, as botocore sends them),
their Lambda runs, and simulated time. Figures for the original DRACO's design
are derived from its documented flow, and each derivation is written next to
its number (``ORIGINAL``). ``markdown`` makes the tables of ``benchmarks/RESULTS.md``;
the command (``draco.bench_cli``) writes them there only when asked.

Scenarios (size ``small`` keeps each to seconds; ``full`` takes about half an hour):

1. steady state: daily snapshots of many sources under Standard, per snapshot;
2. inventory growth: one more snapshot when DR already holds many copies;
3. burst: many snapshots at once against the copy limits;
4. added latency: snapshot taken to DR copy available, minus the copy times;
5. cost per snapshot in dollars, idle pollers included;
6. footprint: the shared code's size and the apps' import time.
"""

from __future__ import annotations

import io
import math
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from chalicelib_shared import clock
from chalicelib_shared.jobs import State
from chalicelib_shared.kinds import KINDS
from draco.bench_retention import run as retention_benchmark
from draco.world import DR, PROD, LocalWorld

REPO = Path(__file__).resolve().parent.parent
SIZES: dict[str, dict[str, Any]] = {
    "small": {"sources": 3, "days": 5, "inventory": (100, 300), "burst": (24, 6), "retention": 10_000},
    "full": {"sources": 20, "days": 60, "inventory": (100, 1_000, 10_000), "burst": (160, 40), "retention": 100_000},
}
COPY_TIME = timedelta(minutes=30)
POLLS_PER_DAY = 24 * 60  # both pollers run every minute

# Public prices, us-east-1, on-demand, as published in 2026 (no free tier).
PRICES = {
    "lambda_gb_second": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "kms_request": 0.03 / 1e4,
    "step_functions_transition": 0.025 / 1e3,
}
LAMBDA_GB = 0.125  # 128 MB
LAMBDA_FLOOR_SECONDS = 0.05  # a warm run that makes one or two AWS calls, at the least
ORIGINAL_PUBLISHED_COST = 1.375e-3
# Request units per call (items under 1 KB / 4 KB): a two-item transaction costs 2 x 2 write units;
# a strongly consistent get 1 read unit, an index query (eventually consistent, one page) 0.5,
# the sweep's batch get (eventually consistent, up to 100 items) at most 50.
DYNAMODB_WRITES = {"PutItem": 1, "UpdateItem": 1, "TransactWriteItems": 4}
DYNAMODB_READS = {"GetItem": 1, "Query": 0.5, "BatchGetItem": 50}


def _calls(world: LocalWorld, run: str | None = None) -> Counter[str]:
    """The apps' AWS calls as "service:Operation" (of one kind of run, or all)."""
    counted: Counter[str] = Counter()
    for (label, _account, service, operation), n in world.stats.calls.items():
        if run is None or label == run:
            counted[f"{service}:{operation}"] += n
    return counted


def _by_account(world: LocalWorld) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {PROD: Counter(), DR: Counter()}
    for (_label, account, service, operation), n in world.stats.calls.items():
        out[account][f"{service}:{operation}"] += n
    return {("production" if a == PROD else "DR"): dict(sorted(c.items())) for a, c in out.items()}


def _count(calls: Counter[str], operations: dict[str, float]) -> int:
    """How many of ``calls`` are DynamoDB operations of this set."""
    return sum(n for op, n in calls.items() if op.startswith("dynamodb:") and op.split(":")[1] in operations)


def _reset(world: LocalWorld) -> None:
    world.stats.calls.clear()
    world.stats.invocations.clear()
    world.stats.seconds.clear()


def _daily(world: LocalWorld, sources: list[str], days: int, progress: Progress | None = None) -> int:
    task = progress.add_task("steady state: simulated days", total=days) if progress else None
    for day in range(days):
        world.move_to(world.start + timedelta(days=day, hours=3))
        for name in sources:
            world.take_snapshot(name, automated=True)
        world.run_until_quiet()
        if progress and task is not None:
            progress.advance(task)
    return days * len(sources)


# --- 1. steady state -------------------------------------------------------------------------
def idle_poll(world: LocalWorld, rounds: int = 30) -> dict[str, float]:
    """Calls and seconds per app per poll round when nothing is in flight (hourly checks included)."""
    _reset(world)
    for _ in range(rounds):
        world.poll()
    calls = sum(_calls(world, "poll").values())
    return {
        "calls_per_round_per_app": calls / rounds / 2,
        "seconds_per_run": sum(world.stats.seconds.values()) / (2 * rounds),
    }


def steady_state(size: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
    sources = [f"db{n}" for n in range(size["sources"])]
    with LocalWorld(log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, poll_while_busy=True) as world:
        for name in sources:
            world.add_instance(name, {"Draco_Lifecycle": "Standard"})
        # the first days fill each source's history; measure the days after
        warmup = min(10, size["days"] // 2)
        _daily(world, sources, warmup)
        _reset(world)
        snapshots = 0
        for day in range(warmup, size["days"]):
            world.move_to(world.start + timedelta(days=day, hours=3))
            for name in sources:
                world.take_snapshot(name, automated=True)
                snapshots += 1
            world.run_until_quiet()
        handler_calls, poll_calls = _calls(world, "sns"), _calls(world, "poll") + _calls(world, "sweep")
        invocations = sum(world.stats.invocations.values())
        seconds = dict(world.stats.seconds)
        runs = dict(world.stats.invocations)
        by_account = _by_account(world)
        idle = idle_poll(world)
    return {
        "sources": len(sources),
        "days_measured": size["days"] - warmup,
        "snapshots": snapshots,
        "per_snapshot": {
            "handler_calls": sum(handler_calls.values()) / snapshots,
            "poll_and_sweep_calls_while_copying": sum(poll_calls.values()) / snapshots,
            "lambda_runs": invocations / snapshots,
            "table_reads": _count(handler_calls + poll_calls, DYNAMODB_READS) / snapshots,
            "table_writes": _count(handler_calls + poll_calls, DYNAMODB_WRITES) / snapshots,
        },
        "calls_by_account": {
            acct: {op: round(n / snapshots, 2) for op, n in ops.items()} for acct, ops in by_account.items()
        },
        "handler_calls_by_operation": {op: round(n / snapshots, 2) for op, n in sorted(handler_calls.items())},
        "calls_by_operation": {op: n / snapshots for op, n in sorted((handler_calls + poll_calls).items())},
        "idle_poll": idle,
        "run_seconds": {k: seconds[k] / runs[k] for k in runs},
        "copy_time_minutes": COPY_TIME.total_seconds() / 60,
        "original": original_per_snapshot(len(sources), size["days"] * len(sources)),
    }


def original_per_snapshot(sources: int, dr_copies: int) -> dict[str, Any]:
    """The original DRACO's design doing the same work, from its documented flow.

    Handlers: 17 AWS calls to carry one snapshot (describe, tags, copy, share,
    publish, copy in DR, tag, delete...), plus one tag read per protected
    source and one page per 100 DR copies of the type in its lifecycle pass,
    which lists every manual snapshot on each copy. Waiting: a Step Functions
    loop per copy stage (two stages) that waits 5 minutes, invokes a Lambda
    that describes the copy and branches: 3 state transitions and 1 Lambda run
    and 1 AWS call per iteration, plus 4 transitions to start and end.
    """
    iterations = 2 * math.ceil(COPY_TIME / timedelta(minutes=5))
    pages = math.ceil(dr_copies / 100)
    return {
        "handler_calls": 17 + sources + pages,
        "poll_calls": iterations,
        "lambda_runs": 6 + iterations,
        "state_transitions": 2 * 4 + 3 * iterations,
        "derivation": f"17 + {sources} sources + {pages} listing pages; {iterations} five-minute waits",
    }


# --- 2. inventory growth ---------------------------------------------------------------------
def inventory_growth(size: dict[str, Any], progress: Progress | None) -> list[dict[str, Any]]:
    rows = []
    for held in size["inventory"]:
        with LocalWorld(log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, every_poll=True) as world:
            world.seed_dr_copies(held, per_source=50)
            world.add_instance("orders", {"Draco_Lifecycle": "Standard"})
            _daily(world, ["orders"], 3)
            _reset(world)
            world.move_to(world.start + timedelta(days=3, hours=3))
            world.take_snapshot("orders", automated=True)
            world.run_until_quiet()
            handler, polls = _calls(world, "sns"), _calls(world, "poll")
            rounds = world.stats.invocations.get("DracoProducer:poll", 0)
            rows.append(
                {
                    "dr_copies_held": held,
                    "sources_held": math.ceil(held / 50),
                    "handler_calls": sum(handler.values()),
                    "poll_calls": sum(polls.values()),
                    "poll_rounds": rounds,
                    "calls_per_poll_round_per_app": sum(polls.values()) / max(1, 2 * rounds),
                    "original_handler_calls": original_per_snapshot(math.ceil(held / 50) + 1, held)["handler_calls"],
                }
            )
        if progress:
            progress.log(f"inventory {held}: done")
    return rows


# --- 3. burst --------------------------------------------------------------------------------
def burst(size: dict[str, Any]) -> dict[str, Any]:
    instances, clusters = size["burst"]
    with LocalWorld(log_stream=io.StringIO(), copy_time=COPY_TIME) as world:
        for n in range(instances):
            world.add_instance(f"db{n}", {"Draco_Lifecycle": "Test"})
        for n in range(clusters):
            world.add_cluster(f"cl{n}", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
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
            world.move_to(world.start + timedelta(hours=3, seconds=17))  # not on a poll tick
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
                        "original_added_seconds_worst": 2 * 5 * 60,
                    }
                )
    return rows


# --- 5. cost ---------------------------------------------------------------------------------
def cost(steady: dict[str, Any], snapshots_per_day: int = 10) -> dict[str, Any]:
    """Dollars per snapshot from the counts, with the idle pollers of a day spread over its snapshots."""
    per = steady["per_snapshot"]
    ops = steady["calls_by_operation"]
    lambda_seconds = sum(steady["run_seconds"].values()) / max(1, len(steady["run_seconds"]))

    def units(table: dict[str, float]) -> float:
        return sum(n * table[op.split(":")[1]] for op, n in ops.items() if op.split(":")[1] in table)

    active = (
        per["lambda_runs"] * (PRICES["lambda_request"] + LAMBDA_GB * lambda_seconds * PRICES["lambda_gb_second"])
        + ops.get("sns:Publish", 0) * PRICES["sns_publish"]
        + units(DYNAMODB_WRITES) * PRICES["dynamodb_write_unit"]
        + units(DYNAMODB_READS) * PRICES["dynamodb_read_unit"]
        + sum(n for op, n in ops.items() if op.startswith("kms:")) * PRICES["kms_request"]
    )
    idle = steady["idle_poll"]
    per_poll = (
        PRICES["lambda_request"]
        + LAMBDA_GB * idle["seconds_per_run"] * PRICES["lambda_gb_second"]
        + idle["calls_per_round_per_app"] * DYNAMODB_READS["Query"] * PRICES["dynamodb_read_unit"]
    )
    idle_per_day = 2 * POLLS_PER_DAY * per_poll
    # In-process moto answers faster than AWS does: also price every run at a conservative floor.
    floor = max(lambda_seconds, LAMBDA_FLOOR_SECONDS) - lambda_seconds
    idle_floor = max(idle["seconds_per_run"], LAMBDA_FLOOR_SECONDS) - idle["seconds_per_run"]
    at_floor = (
        active
        + per["lambda_runs"] * LAMBDA_GB * floor * PRICES["lambda_gb_second"]
        + (idle_per_day + 2 * POLLS_PER_DAY * LAMBDA_GB * idle_floor * PRICES["lambda_gb_second"]) / snapshots_per_day
    )
    original = steady["original"]
    return {
        "snapshots_per_day": snapshots_per_day,
        "draco_active_per_snapshot": active,
        "draco_idle_per_day": idle_per_day,
        "draco_per_snapshot": active + idle_per_day / snapshots_per_day,
        "draco_per_snapshot_at_floor": at_floor,
        "original_state_transitions_per_snapshot": original["state_transitions"],
        "original_per_snapshot_published": ORIGINAL_PUBLISHED_COST,
        "original_transitions_cost": original["state_transitions"] * PRICES["step_functions_transition"],
        "target": ORIGINAL_PUBLISHED_COST / 10,
        "lambda_seconds_per_run_measured": lambda_seconds,
        "prices": PRICES,
    }


# --- 6. footprint ----------------------------------------------------------------------------
def footprint() -> dict[str, Any]:
    """Size of what DRACO adds to each bundle, and how long each app takes to import."""
    shared = sum(p.stat().st_size for p in (REPO / "chalicelib_shared").glob("*.py"))
    out: dict[str, Any] = {"shared_code_bytes": shared}
    for app in ("producer_app", "consumer_app"):
        script = (
            f"import sys, time; sys.path.insert(0, {str(REPO)!r}); start = time.perf_counter(); "
            f"import {app}.app; print(time.perf_counter() - start)"
        )
        times = [float(subprocess.check_output([sys.executable, "-c", script], text=True)) for _ in range(3)]
        out[f"{app}_import_seconds"] = min(times)
    return out


# --- running and writing ---------------------------------------------------------------------
def run_all(size_name: str, progress: Progress | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    started = time.perf_counter()
    # moto's account-wide snapshot limit (1000) would stop a long history; AWS's quota is per type and raisable.
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "100000")
    steady = steady_state(size, progress)
    results = {
        "size": size_name,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "steady_state": steady,
        "inventory_growth": inventory_growth(size, progress),
        "burst": burst(size),
        "added_latency": added_latency(),
        "cost": cost(steady),
        "footprint": footprint(),
        "retention_seconds": retention_benchmark(size["retention"]),
    }
    results["bench_seconds"] = time.perf_counter() - started
    return results


def markdown(r: dict[str, Any]) -> str:
    """RESULTS.md: one table per scenario, with the machine and date."""
    st, cost_, burst_ = r["steady_state"], r["cost"], r["burst"]
    per, orig = st["per_snapshot"], st["original"]
    lines = [
        "# DRACO benchmarks",
        "",
        f"Size `{r['size']}`, {r['date']}, {r['machine']}; the whole run took {r['bench_seconds']:.0f} s.",
        "Reproduce: `python -m draco bench` (writes this file; `--size small` for a quick run, `--json` for machines).",
        "Every DRACO figure is counted in the local world (moto); the original's are derived from its",
        f"documented flow, as each row says. Copies take {st['copy_time_minutes']:.0f} simulated minutes per stage.",
        "",
        "## 1. Steady state",
        "",
        f"{st['sources']} sources, daily automated snapshots, Standard lifecycle, live deletion; measured over "
        f"{st['days_measured']} days ({st['snapshots']} snapshots) after the history filled.",
        "",
        "| per snapshot | DRACO | original design |",
        "| --- | ---: | ---: |",
        f"| AWS calls by the handlers | {per['handler_calls']:.1f} | {orig['handler_calls']} ({orig['derivation']}) |",
        f"| AWS calls by pollers (every minute while copies run) and the sweep "
        f"| {per['poll_and_sweep_calls_while_copying']:.1f} "
        f"| {orig['poll_calls']} (one describe per five-minute wait) |",
        f"| Lambda runs | {per['lambda_runs']:.1f} | {orig['lambda_runs']} (6 handlers + one per wait) |",
        f"| job-table reads / writes | {per['table_reads']:.1f} / {per['table_writes']:.1f} | none |",
        f"| Step Functions state transitions | 0 | {orig['state_transitions']} (4 per execution x 2, 3 per wait) |",
        f"| idle poll round (nothing in flight), AWS calls per app | {st['idle_poll']['calls_per_round_per_app']:.2f} "
        "| (no poller) |",
        "",
        "AWS calls per snapshot by account and operation (handlers, pollers and sweep):",
        "",
        "| account | operation | calls |",
        "| --- | --- | ---: |",
    ]
    for account, ops in st["calls_by_account"].items():
        lines += [f"| {account} | {op} | {n} |" for op, n in ops.items()]
    lines += [
        "",
        "## 2. Inventory growth",
        "",
        "One more snapshot of a source when the DR account already holds many copies (50 per source).",
        "",
        "| DR copies held | DRACO handler calls | DRACO poll calls (rounds) | calls per poll round per app "
        "| original handler calls (17 + sources + pages of 100) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {row['dr_copies_held']} | {row['handler_calls']} | {row['poll_calls']} ({row['poll_rounds']}) "
        f"| {row['calls_per_poll_round_per_app']:.2f} | {row['original_handler_calls']} |"
        for row in r["inventory_growth"]
    ]
    lines += [
        "",
        "## 3. Burst",
        "",
        f"{burst_['instances']} DB instance and {burst_['clusters']} cluster snapshots at once; limits 20 and 5; "
        f"copies take {burst_['copy_time_minutes']:.0f} min. Lower bound: (ceil(N/L) + 1) x T, the two copy "
        "stages overlapping; target: 10 % over it plus two poll intervals.",
        "",
        "| makespan | lower bound | target | most copies in flight | snapshots lost |",
        "| ---: | ---: | ---: | --- | ---: |",
        f"| {burst_['makespan_minutes']:.0f} min | {burst_['lower_bound_minutes']:.0f} min "
        f"| {burst_['target_minutes']:.0f} min | {burst_['peak_in_flight']} | {burst_['lost']} |",
        "",
        "## 4. Added latency",
        "",
        "Snapshot taken to DR copy available, minus the two copy times. The original waits up to 5 minutes per stage.",
        "",
        "| RDS sends copy-finished events | kind | the copies end by | added | original, worst case |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    lines += [
        f"| {'yes' if row['events_sent'] else 'no'} | {row['kind']} "
        f"| {'the event' if row['copy_finished_event'] else 'the poller (every minute)'} "
        f"| {max(0.0, row['added_seconds']):.0f} s | {row['original_added_seconds_worst']} s |"
        for row in sorted(r["added_latency"], key=lambda row: (not row["events_sent"], row["kind"]))
    ]
    lines += [
        "",
        "## 5. Cost per snapshot",
        "",
        f"At {cost_['snapshots_per_day']} snapshots a day, with both pollers running every minute all day. "
        "Lambda at 128 MB for the measured run time "
        f"({cost_['lambda_seconds_per_run_measured'] * 1000:.0f} ms a run in the local world, where AWS answers "
        "in-process; the floor row bills every run at least 50 ms), SNS publishes, DynamoDB on-demand request "
        "units, KMS requests. "
        "Prices: " + ", ".join(f"{k} ${v:.3g}" for k, v in cost_["prices"].items()) + ".",
        "",
        "| | dollars per snapshot |",
        "| --- | ---: |",
        f"| DRACO, the snapshot's own work | {cost_['draco_active_per_snapshot']:.2e} |",
        f"| DRACO, idle pollers (a day's cost / {cost_['snapshots_per_day']}) "
        f"| {cost_['draco_idle_per_day'] / cost_['snapshots_per_day']:.2e} |",
        f"| **DRACO, total** | **{cost_['draco_per_snapshot']:.2e}** |",
        f"| DRACO, total, every run billed at least {LAMBDA_FLOOR_SECONDS * 1000:.0f} ms "
        f"| {cost_['draco_per_snapshot_at_floor']:.2e} |",
        f"| target: a tenth of the original | {cost_['target']:.2e} |",
        f"| original, as published | {cost_['original_per_snapshot_published']:.2e} |",
        f"| original, state transitions alone ({cost_['original_state_transitions_per_snapshot']} per snapshot) "
        f"| {cost_['original_transitions_cost']:.2e} |",
        "",
        "## 6. Footprint",
        "",
        "| | |",
        "| --- | ---: |",
        f"| shared code (chalicelib_shared, source) | {r['footprint']['shared_code_bytes'] / 1024:.0f} KiB |",
        *(
            f"| {app} import time (cold, this machine) | {r['footprint'][f'{app}_app_import_seconds'] * 1000:.0f} ms |"
            for app in ("producer", "consumer")
        ),
        "",
        "Each deployment bundle's size is printed by the packaging test (`tests/test_packaging.py`).",
        "",
        "## Retention engine",
        "",
        "| snapshots | Standard | every rule |",
        "| ---: | ---: | ---: |",
        f"| {SIZES[r['size']]['retention']} | {_ms(r['retention_seconds'], 'standard')} "
        f"| {_ms(r['retention_seconds'], 'every')} |",
        "",
    ]
    return "\n".join(lines)


def _ms(timings: dict[str, float], word: str) -> str:
    value = next((v for k, v in timings.items() if word in k.lower()), None)
    return f"{value * 1000:.0f} ms" if value is not None else "-"
