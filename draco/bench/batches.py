"""Calls per snapshot at any batch size and any DR inventory, counted in the local world.

A lean pipeline costs the same per snapshot whether a snapshot is taken alone or
with 40 others in the same minute (the copy limits and the transit pool then
full), and whatever the DR account already holds. ``batches`` takes one
snapshot of each of ``n`` sources at once, after a few days of history (so the
lifecycle deletes old copies, as it does every day), and counts every Lambda
run EventBridge and SNS would start (``every_poll``) and every AWS call both
apps make until no job is active; ``inventories`` does the same for one source
when DR already holds many copies of other sources.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from draco.bench.usage import COPY_TIME, run_days
from draco.world.core import LocalWorld

BATCHES = (1, 10, 20, 40)
INVENTORIES = (100, 1_000, 10_000)
HISTORY_DAYS = 3
#: Every source's DR key exists by the measured burst, as after onboarding: ``KEY_CAP`` (10 new keys a day
#: per account) would keep 40 new sources onboarding for four days, and the burst would measure that.
ONBOARDED = {"consumer": {"KEY_CAP": "1000"}}


def per_snapshot(world: LocalWorld, snapshots: int) -> dict[str, float]:
    """What the world counted since its counters were cleared, per snapshot."""
    stats = world.stats
    dynamodb = sum(n for (_, _, service, _), n in stats.calls.items() if service == "dynamodb")
    other = sum(n for (_, _, service, _), n in stats.calls.items() if service != "dynamodb")
    return {
        "dynamodb_calls": dynamodb / snapshots,
        "lambda_runs": sum(stats.invocations.values()) / snapshots,
        "cold_runs": sum(stats.cold_runs.values()) / snapshots,
        "other_calls": other / snapshots,
        "poll_rounds": sum(n for name, n in stats.invocations.items() if name.endswith(":poll_jobs")) / snapshots,
    }


def _operations(world: LocalWorld, snapshots: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for (_function, _account, service, operation), n in world.stats.calls.items():
        key = f"{service}:{operation}"
        out[key] = out.get(key, 0) + n / snapshots
    return dict(sorted(out.items()))


def batch(n: int, held: int = 0) -> dict[str, Any]:
    """One snapshot of each of ``n`` sources at once (``held``: DR copies of other sources already there)."""
    sources = [f"db{i}" for i in range(n)]
    with LocalWorld(
        log_stream=io.StringIO(), live=True, copy_time=COPY_TIME, every_poll=True, app_env=ONBOARDED
    ) as world:
        if held:
            world.seed_dr_copies(held, per_source=50)
        for name in sources:
            world.add_instance(name, {"Draco_Lifecycle": "Standard"})
        run_days(world, sources, 0, HISTORY_DAYS)
        world.run_until_quiet()
        world.stats.clear()
        for name in sources:
            world.take_snapshot(name, automated=True)
        world.run_until_quiet()
        return {"sources": n, "dr_copies_held": held, **per_snapshot(world, n), "operations": _operations(world, n)}


def batches(sizes: Iterable[int] = BATCHES) -> list[dict[str, Any]]:
    return [batch(n) for n in sizes]


def inventories(held: Iterable[int] = INVENTORIES) -> list[dict[str, Any]]:
    return [batch(1, count) for count in held]


def table(rows: list[dict[str, Any]], label: str, key: str) -> list[str]:
    """Markdown rows: DynamoDB calls, Lambda runs (cold), other calls, poll rounds per snapshot."""
    lines = [
        f"| {label} | DynamoDB calls | Lambda runs (cold) | other AWS calls | poll rounds |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row[key]:,} | {row['dynamodb_calls']:.1f} | {row['lambda_runs']:.1f} ({row['cold_runs']:.1f}) "
            f"| {row['other_calls']:.1f} | {row['poll_rounds']:.1f} |"
        )
    return lines


def markdown(results: dict[str, Any]) -> list[str]:
    """The calls-per-snapshot section of RESULTS.md."""
    return [
        "## Calls per snapshot, alone and in batches",
        "",
        f"One automated snapshot of each of n RDS instances in the same minute (Standard lifecycle, {HISTORY_DAYS} "
        "days of history, so old DR copies are deleted as every day), counted until no job is active: every "
        "Lambda run EventBridge and SNS would start (pollers every minute while their rule is on, wake-ups "
        "hourly) and every AWS call of both apps. Copy limits 20 (instances) and 10 (`TRANSIT_LIMIT`): at 20 "
        "and 40 the transit pool is full and copies queue. Every source's DR key exists (`KEY_CAP` raised, as "
        "after onboarding).",
        "",
        *table(results["batches"], "simultaneous sources", "sources"),
        "",
        "One snapshot of one source when DR already holds many copies of others (50 per source):",
        "",
        *table(results["inventories"], "DR copies held", "dr_copies_held"),
        "",
    ]


def main() -> None:  # pragma: no cover - a manual run: python -m draco.bench.batches [n ...] [--held n ...]
    """Print each row as soon as it is measured (JSON lines on stderr), then the tables."""
    import json
    import sys
    import time

    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", "100000")  # as the runner: moto's limit would stop a big inventory
    args = sys.argv[1:]
    cut = args.index("--held") if "--held" in args else len(args)
    sizes, held = [int(a) for a in args[:cut]], [int(a) for a in args[cut + 1 :]]
    if not args:
        sizes, held = list(BATCHES), list(INVENTORIES)
    rows: dict[str, list[dict[str, Any]]] = {"batches": [], "inventories": []}
    for label, key, counts in (("batches", "sources", sizes), ("inventories", "held", held)):
        for n in counts:
            started = time.process_time()
            row = batch(n) if key == "sources" else batch(1, n)
            row["cpu_seconds"] = time.process_time() - started
            rows[label].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("\n".join(markdown(rows)))


if __name__ == "__main__":  # pragma: no cover
    main()
