"""The whole bill of a protected database: DRACO's own costs, and the snapshot storage it leads to.

DRACO's own costs per protected database-month (``draco.bench.usage.cost`` measures
them per snapshot, per idle day and per month) hardly depend on how many databases
share a deployment; what people will see on the bill is keys and storage:

* **keys**: one customer managed key per source database (``KEY_SCOPE=database``)
  or per source account (``KEY_SCOPE=account``), each rotating yearly, plus the
  deployment's shared keys;
* **transit copies in production**: each snapshot's transit copy exists from
  its start until DR holds its own copy (about two copy times), a full copy
  under the transit key;
* **DR copies**: as many as the source's lifecycle keeps (``copies_kept``,
  from the retention engine: a year, then seven, of daily snapshots), each at
  its kind's price (``SnapshotKind.storage_price``).

Whether a DR copy is full or incremental is AWS's to decide, and AWS documents it
per kind; DRACO copies each snapshot from a transit copy shared by production,
under one DR key per source (or account):

* RDS: "Copying shared incremental snapshots in the same AWS Region is supported
  when they're unencrypted, or encrypted using the same KMS key as the initial
  full snapshot" (Amazon RDS User Guide, Incremental snapshot copying,
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_CopySnapshot.html#USER_CopySnapshot.Incremental).
  DRACO's copies of one source share its DR key, so they may be incremental;
  but each comes from a different transit copy, and AWS does not document that
  it chains copies of copies: the full size is the upper bound priced here.
* DB cluster snapshots (Neptune's guide): "For shared snapshots, copying
  incremental snapshots is not supported. For shared snapshots, all of the
  copies are full snapshots, even within the same region"
  (https://docs.aws.amazon.com/neptune/latest/userguide/backup-restore-copy-snapshot.html).
  Aurora, DocumentDB and Neptune bill a snapshot's storage by the data it holds.
* EBS: a copy across accounts is incremental when "the most recent snapshot copy
  still exists in the destination Region or account" and all copies are under
  the same KMS key (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-copy-snapshot.html).
  DR keeps its latest copy until the next one exists, under the source's key:
  EBS DR copies after the first can be incremental.

So the table prices every DR copy at full size (the most AWS can bill) and says
so; with incremental copies the DR storage is the first copy plus the changed
blocks of each later one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from chalicelib_shared.kinds import KINDS
from chalicelib_shared.retention import LIFECYCLES, apply_policy, parse_policy
from draco.bench import costs

DATABASES = (1, 5, 20, 100)
YEARS = (1, 7)
SIZE_GB = 100
#: The lifecycle of the bill's database (the original's default).
LIFECYCLE = "Standard"
START = datetime(2026, 1, 1, 3, tzinfo=timezone.utc)
#: How long a transit copy exists per snapshot: its own copy and DR's, each about ``COPY_HOURS``.
COPY_HOURS = 0.5


@cache
def copies_kept(lifecycle: str, years: int) -> int:
    """How many DR copies ``lifecycle`` holds after ``years`` of daily snapshots, each day's pass applied
    to what the passes before it kept (as the consumer applies it after each copy)."""
    policy = parse_policy(lifecycle)
    kept: list[tuple[str, datetime]] = []
    for day in range(round(years * 365.25)):
        now = START + timedelta(days=day)
        kept.append((f"s{day}", now))
        keep = set(apply_policy(policy, kept, now).keep)
        kept = [snapshot for snapshot in kept if snapshot[0] in keep]
    return len(kept)


def lifecycles() -> list[dict[str, Any]]:
    """Copies each built-in lifecycle keeps after each of ``YEARS``, and their storage per kind for ``SIZE_GB``."""
    rows = []
    for name in LIFECYCLES:
        kept = {years: copies_kept(name, years) for years in YEARS}
        storage = {
            kind.name: {years: kept[years] * SIZE_GB * kind.storage_price for years in YEARS} for kind in KINDS.values()
        }
        rows.append({"lifecycle": name, "kept": kept, "storage_per_month": storage})
    return rows


def transit_per_month(kind: str, snapshots_per_day: float, size_gb: float = SIZE_GB) -> float:
    """Production's transit copies of one database in a month, at the kind's price, each held about
    two copy times (a full copy: it is under the transit key, not the source's)."""
    held_hours = 2 * COPY_HOURS * snapshots_per_day * costs.DAYS_PER_MONTH
    return size_gb * KINDS[kind].storage_price * held_hours / costs.HOURS_PER_MONTH


def whole(cost: dict[str, Any], steady: dict[str, Any]) -> list[dict[str, Any]]:
    """Per protected database-month, by line, for ``DATABASES`` and year 1 and 3+, both key scopes:
    a ``SIZE_GB`` DB instance, daily snapshots, ``LIFECYCLE``, DR copies after one and seven years."""
    per_snapshot = cost["per_snapshot"]["DRACO"]
    idle, fixed = cost["idle_per_day"], steady["deployment"]
    metrics = cost["fixed_per_month"]
    per_day = steady["snapshots"] / steady["days_measured"] / steady["sources"]
    rows = []
    for databases in DATABASES:
        for year in (1, 3):
            for scope in ("database", "account"):
                compute = sum(per_snapshot.values()) * per_day * costs.DAYS_PER_MONTH
                compute += sum(idle.values()) * costs.DAYS_PER_MONTH / databases
                key_price = costs.key_month(year, fixed["rotation"])
                keys = (fixed["shared_keys"] * key_price) / databases
                keys += key_price * (1 if scope == "database" else 1 / databases)
                lines = {
                    "DRACO compute (Lambda, Logs, DynamoDB, SNS, KMS requests)": compute,
                    "KMS keys": keys,
                    "metrics and alarms": (metrics["custom metrics"] + metrics["alarms"]) / databases,
                    "transit copies in production": transit_per_month("RDS", per_day),
                }
                own = sum(lines.values())
                dr = {years: copies_kept(LIFECYCLE, years) * SIZE_GB * KINDS["RDS"].storage_price for years in YEARS}
                rows.append(
                    {"databases": databases, "year": year, "key_scope": scope, **lines, "DRACO's own": own}
                    | {f"DR copies after {years} y (full)": dr[years] for years in YEARS}
                )
    return rows


def recommended_scope(rows: list[dict[str, Any]]) -> str:
    """The key scope with the smaller bill at 20 databases from the third year (where keys weigh most)."""
    at = {row["key_scope"]: row["DRACO's own"] for row in rows if row["databases"] == 20 and row["year"] == 3}
    return min(at, key=lambda scope: at[scope])


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.995 else f"${value:.3f}"


def markdown(bill: dict[str, Any]) -> list[str]:
    """The whole bill's section of RESULTS.md."""
    rows, kept = bill["rows"], bill["lifecycles"]
    lines = [key for key in rows[0] if key not in ("databases", "year", "key_scope")]
    kinds = list(kept[0]["storage_per_month"])
    return [
        "## The whole bill",
        "",
        f"Per protected database-month: a {SIZE_GB} GB DB instance, a daily snapshot, the {LIFECYCLE} lifecycle; "
        "DRACO's compute as measured above (per snapshot, and the idle days shared among the databases), keys "
        "(the deployment's shared keys shared too), metrics and alarms shared, production's transit copies "
        f"(each held about {2 * COPY_HOURS:.0f} h, a full copy), and DR's copies after one and seven years, each "
        "priced at full size (what AWS documents about incremental copies: `draco/bench/bill.py`).",
        "",
        "| databases | year | KEY_SCOPE | " + " | ".join(lines) + " |",
        "| ---: | ---: | --- |" + " ---: |" * len(lines),
        *(
            f"| {row['databases']} | {'1' if row['year'] == 1 else '3+'} | {row['key_scope']} | "
            + " | ".join(_usd(row[line]) for line in lines)
            + " |"
            for row in rows
        ),
        "",
        f"Recommended default: `KEY_SCOPE={bill['recommended']}` (the smaller bill of DRACO's own from the third "
        "year at 20 databases; see the README).",
        "",
        f"DR copies each built-in lifecycle keeps after {' and '.join(f'{y}' for y in YEARS)} years of daily "
        f"snapshots (the retention engine, a pass a day), and their storage a month for a {SIZE_GB} GB source at "
        "each kind's price (" + ", ".join(f"{k} ${KINDS[k].storage_price}" for k in kinds) + " per GB-month, "
        "us-east-1; full copies):",
        "",
        "| lifecycle | copies after 1 y | after 7 y | "
        + " | ".join(f"{k} after 1 y | {k} after 7 y" for k in kinds)
        + " |",
        "| --- | ---: | ---: |" + " ---: | ---: |" * len(kinds),
        *(
            f"| {row['lifecycle']} | {row['kept'][1]} | {row['kept'][7]} | "
            + " | ".join(
                f"{_usd(row['storage_per_month'][k][1])} | {_usd(row['storage_per_month'][k][7])}" for k in kinds
            )
            + " |"
            for row in kept
        ),
        "",
    ]


def run(cost: dict[str, Any], steady: dict[str, Any]) -> dict[str, Any]:
    rows = whole(cost, steady)
    return {"rows": rows, "lifecycles": lifecycles(), "recommended": recommended_scope(rows)}


def main() -> None:  # pragma: no cover - python -m draco.bench.bill [small|full]: the steady state, then the bill
    import json
    import sys

    from draco.bench import coldstart, runner, usage

    size = runner.SIZES[sys.argv[1] if len(sys.argv) > 1 else "small"]
    cold = coldstart.measure(size["cold_starts"])
    assume = costs.Assumptions(init_seconds=max(row["now"] for row in cold["apps"].values()))
    steady = runner.steady_state(size, None, assume)
    cost = usage.cost(steady, assume)
    out = {"cold_start": cold, "steady_state": steady, "cost": cost, "bill": run(cost, steady)}
    print(json.dumps(out, default=str), file=sys.stderr)
    print("\n".join(markdown(out["bill"])))


if __name__ == "__main__":  # pragma: no cover
    main()
