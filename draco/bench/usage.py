"""From what the local world counted to the cost model's inputs (``draco.bench.costs``), and the cost tables.

``run_days`` drives a world through days of snapshots; ``usage`` turns its
counters into a ``costs.Usage``; ``deployment`` counts what a deployment pays
for by the month (keys, alarms); ``cost`` prices DRACO per snapshot, per idle
day and per protected database-month beside the original design, and across Regions.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from rich.progress import Progress

from chalicelib_shared import clock
from chalicelib_shared.kinds import KINDS
from draco.bench import costs
from draco.bench.costs import Assumptions, Fixed, Usage
from draco.world.core import DR, PROD, LocalWorld

COPY_OPERATIONS = ("CopyDBSnapshot", "CopyDBClusterSnapshot", "CopySnapshot")
SNS_HANDLERS = ("on_producer_topic", "on_consumer_topic", "on_inbox")  # on_inbox: production's messages to DR
DRACO_ALIAS = "alias/DRACO"
SIZES_GB = (10, 100, 1000)  # snapshot sizes for the cross-Region table
COPY_TIME = timedelta(minutes=30)
SNAPSHOT_HOUR = timedelta(hours=3)


def run_days(world: LocalWorld, sources: list[str], first: int, last: int, progress: Progress | None = None) -> None:
    """Days ``first`` to ``last`` - 1: every source's automated snapshot at 03:00; ends at 03:00 of day ``last``."""
    task = progress.add_task("steady state: simulated days", total=last - first) if progress else None
    for day in range(first, last):
        world.advance(world.start + timedelta(days=day) + SNAPSHOT_HOUR - clock.now())
        for name in sources:
            world.take_snapshot(name, automated=True)
        if progress and task is not None:
            progress.advance(task)
    world.advance(world.start + timedelta(days=last) + SNAPSHOT_HOUR - clock.now())


def usage(world: LocalWorld, assume: Assumptions, skip: tuple[str, ...] = ()) -> Usage:
    """What the apps' runs used since the counters were last cleared (but the functions named in ``skip``).

    SNS publishes: the apps' own, and every notification the world sends as RDS
    would (each is delivered once, to one app).
    """
    stats = world.stats
    calls = Counter[str]()
    for (function, _account, service, operation), n in stats.calls.items():
        if function in skip:
            continue
        calls["dynamodb" if service == "dynamodb" else "other"] += n
        calls["kms"] += n if service == "kms" else 0
        calls["copies"] += n if operation in COPY_OPERATIONS else 0
        calls["publishes"] += n if (service, operation) == ("sns", "Publish") else 0
    runs = {name: n for name, n in stats.invocations.items() if name.split(":")[1] not in skip}
    units = Counter[str]()
    for (function, _account, kind), n in stats.units.items():
        units[kind] += 0 if function in skip else n
    return Usage(
        runs=sum(runs.values()),
        cold_runs=sum(stats.cold_runs[name] for name in runs),
        dynamodb_calls=calls["dynamodb"],
        other_calls=calls["other"],
        log_bytes=sum(stats.log_bytes[name] for name in runs),
        read_units=units["read"],
        write_units=units["write"],
        publishes=calls["publishes"] + notices(world),
        kms_requests=calls["kms"] + calls["copies"] * assume.kms_requests_per_copy,
    )


def notices(world: LocalWorld) -> int:
    """The notifications the world sent as RDS would: every delivery that no app published."""
    stats = world.stats
    published = sum(n for (_, _, service, op), n in stats.calls.items() if (service, op) == ("sns", "Publish"))
    return stats.deliveries - published


def handler_profile(world: LocalWorld) -> dict[str, float]:
    """The SNS handlers' runs: how many, how many cold, how much each logged (for what the world doesn't send)."""
    stats = world.stats
    names = [name for name in stats.invocations if name.split(":")[1] in SNS_HANDLERS]
    runs = sum(stats.invocations[name] for name in names)
    return {
        "runs": runs,
        "cold_share": sum(stats.cold_runs[name] for name in names) / max(1, runs),
        "log_bytes_per_run": sum(stats.log_bytes[name] for name in names) / max(1, runs),
    }


def runs_by_function(world: LocalWorld, days: float) -> dict[str, float]:
    return {name: n / days for name, n in sorted(world.stats.invocations.items())}


def deployment(world: LocalWorld, sources: list[str]) -> dict[str, Any]:
    """DRACO's keys (per protected database, and the rest) and alarms, as the world holds them."""
    per_database = 0
    shared = 0
    rotation = True
    for account in (PROD, DR):
        kms = world.client("kms", account)
        for alias in kms.list_aliases()["Aliases"]:
            name = alias["AliasName"]
            if not name.startswith(DRACO_ALIAS) or "TargetKeyId" not in alias:
                continue
            if account == DR and name.removeprefix(DRACO_ALIAS + "-") in sources:
                per_database += 1
            else:
                shared += 1
            rotation &= kms.get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"]
    alarms = sum(len(world.client("cloudwatch", a).describe_alarms()["MetricAlarms"]) for a in (PROD, DR))
    return {"per_database_keys": per_database, "shared_keys": shared, "rotation": rotation, "alarms": alarms}


def cost(steady: dict[str, Any], assume: Assumptions) -> dict[str, Any]:
    """DRACO beside the original: per snapshot, per idle day, per protected database-month, across Regions."""
    snapshots, days = steady["snapshots"], steady["days_measured"]
    idle_day = Usage(**steady["idle_usage_per_day"])
    handlers = steady["handlers"]
    unseen = Usage(runs=1, cold_runs=handlers["cold_share"], publishes=1) * costs.UNSEEN_NOTICES
    own = (Usage(**steady["usage"]) + idle_day * -days) * (1 / snapshots) + unseen
    notices = steady["notices_per_snapshot"] + costs.UNSEEN_NOTICES
    original = costs.original_per_snapshot(
        sources=steady["sources"],
        dr_copies=steady["dr_copies"],
        copy_time=timedelta(minutes=steady["copy_time_minutes"]),
        notices=notices,
        handler_log_bytes=handlers["log_bytes_per_run"],
        handler_cold_share=handlers["cold_share"],
        assume=assume,
    )
    setup = steady["deployment"]
    fixed = Fixed(setup["shared_keys"], setup["rotation"], steady["metric_hours_per_day"], setup["alarms"])
    sources, per_day = steady["sources"], snapshots / days
    month = {
        label: costs.per_database_month(
            costs.bill(usage_, assume),
            idle,
            fixed_,
            databases=sources,
            snapshots_per_day=per_day / sources,
            keys_per_database=keys,
            key_price=costs.key_month(year, rotation),
        )
        for label, usage_, idle, fixed_, keys, year, rotation in (
            ("DRACO, first year", own, costs.bill(idle_day, assume), costs.monthly(fixed), 1, 1, fixed.rotation),
            ("DRACO, from the third year", own, costs.bill(idle_day, assume), costs.monthly(fixed, 3), 1, 3, True),
            ("DRACO, KEY_SCOPE=account", own, costs.bill(idle_day, assume), costs.monthly(fixed), 1 / sources, 1, True),
            ("original, first year", original.usage, {}, {}, 1, 1, True),
            ("original, from the third year", original.usage, {}, {}, 1, 3, True),
        )
    }
    return {
        "per_snapshot": {"DRACO": costs.bill(own, assume), "original": costs.bill(original.usage, assume)},
        "usage_per_snapshot": {"DRACO": vars(own), "original": vars(original.usage)},
        "original_derivation": original.derivation,
        "idle_per_day": costs.bill(idle_day, assume),
        "fixed_per_month": costs.monthly(fixed),
        "per_database_month": month,
        "notices_per_snapshot": notices,
        "across_regions": _across(costs.bill(own, assume), steady["copy_time_minutes"], assume),
        "assumptions": vars(assume),
    }


def _across(per_snapshot: dict[str, float], copy_minutes: float, assume: Assumptions) -> list[dict[str, Any]]:
    """Per snapshot, same Region and across Regions, by kind and size."""
    same = sum(per_snapshot.values())
    rows = []
    for kind in ("RDS", "RDS Cluster"):
        for size in SIZES_GB:
            added = costs.across_regions(
                size,
                one_step=KINDS[kind].one_step_across_regions,
                relay_hours=copy_minutes / 60,
                storage_gb_month=KINDS[kind].storage_price,
                assume=assume,
            )
            rows.append({"kind": kind, "size_gb": size, "same_region": same, "added": added})
    return rows
