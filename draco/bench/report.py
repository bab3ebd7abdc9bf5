"""``benchmarks/RESULTS.md``: the benchmark's results as markdown tables, with the machine, size and date."""

from __future__ import annotations

import math
from typing import Any

from draco.bench import batches as bench_batches
from draco.bench import bill as bench_bill
from draco.bench import costs
from draco.bench.usage import SIZES_GB

LINES = ("Lambda", "CloudWatch Logs", "DynamoDB", "SNS", "KMS requests", "Step Functions")
MONTHLY = ("KMS keys", "custom metrics", "alarms")
USAGE_ROWS = {
    "runs": "Lambda runs",
    "cold_runs": "of which cold",
    "dynamodb_calls": "DynamoDB calls",
    "other_calls": "other AWS calls",
    "log_bytes": "bytes logged by the apps",
    "read_units": "DynamoDB read request units",
    "write_units": "DynamoDB write request units (indexes included)",
    "publishes": "SNS publishes (RDS notifications included)",
    "kms_requests": "KMS requests (RDS's for the copies included)",
    "transitions": "Step Functions state transitions",
}


def _usd(value: float) -> str:
    """Dollars to cents from $1 up, else to three significant digits, never in exponent form."""
    if value == 0:
        return "$0"
    if abs(value) >= 0.995:
        return f"${value:,.2f}"
    return f"${value:.{2 - math.floor(math.log10(abs(value)))}f}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def markdown(r: dict[str, Any]) -> str:
    """RESULTS.md: one section per question, with how each number was made."""
    st = r["steady_state"]
    lines = [
        "# DRACO benchmarks",
        "",
        f"Size `{r['size']}`, {r['date']}, {r['machine']}; the whole run took {r['bench_seconds'] / 60:.0f} minutes.",
        "Reproduce: `python -m draco bench --size full --out benchmarks/RESULTS.md` (`--size small`: a quick run;",
        "`--json`: every number). DRACO's figures are counted in the local world (moto), where EventBridge runs",
        "each app's poller every minute while its rule is on, DR's wake-up every hour, production's while a job has",
        "work left, and the production sweep every 6 hours, and every Lambda run is counted by function with the",
        "AWS calls it made, the bytes it",
        "logged, the metrics it emitted and the DynamoDB request units it used. The original DRACO's design is",
        "derived from its documented flow. Both are priced the same way (`draco/bench/costs.py`).",
        f"Copies take {st['copy_time_minutes']:.0f} simulated minutes per stage.",
        "",
        *_cost(r),
        *_idle(r),
        *_resends(r),
        *_cold(r),
        *_steady(r),
        *_inventory(r),
        *_burst(r),
        *_latency(r),
        *_retention(r),
        *bench_batches.markdown(r["calls"]),
        *bench_bill.markdown(r["bill"]),
    ]
    return "\n".join(lines)


def _cost(r: dict[str, Any]) -> list[str]:
    st, cost = r["steady_state"], r["cost"]
    per, month = cost["per_snapshot"], cost["per_database_month"]
    columns = list(month)
    out = [
        "## 1. Cost",
        "",
        f"{st['sources']} RDS instances, a daily automated snapshot each, Standard lifecycle, measured over "
        f"{st['days_measured']} days ({st['snapshots']} snapshots) after {st['warmup_days']} days filled "
        f"the history, then {st['idle_days']} days with nothing to copy. A snapshot's own cost is the measured "
        "days' cost less that many idle days; the idle days' cost is shared among the databases. Dollars, "
        "us-east-1, no free tier.",
        "",
        "| per snapshot | DRACO | original design |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {_usd(per['DRACO'][name])} | {_usd(per['original'][name])} |" for name in LINES),
        "| EventBridge (scheduled rules, AWS service events: free) | $0 | $0 |",
        f"| **total** | **{_usd(sum(per['DRACO'].values()))}** | **{_usd(sum(per['original'].values()))}** |",
        "",
        f"Per protected database and month, at {st['sources']} databases, one snapshot a day "
        f"({costs.DAYS_PER_MONTH:.1f} a month); DRACO's idle time and what it pays by the month are shared among "
        "the databases. Keys: one per source database (`KEY_SCOPE=database`, as the original) plus, for DRACO, "
        f"{st['deployment']['shared_keys']} shared ones (transit key, topic keys), all rotating yearly; "
        "`KEY_SCOPE=account` makes one key per source account instead.",
        "",
        "| per database-month | " + " | ".join(columns) + " |",
        "| --- |" + " ---: |" * len(columns),
        *(
            f"| {name} | " + " | ".join(_usd(month[c].get(name, 0.0)) for c in columns) + " |"
            for name in (*LINES, *MONTHLY)
        ),
        "| **total** | " + " | ".join(f"**{_usd(sum(month[c].values()))}**" for c in columns) + " |",
        "",
        "What one snapshot used (DRACO counted; the original derived: "
        f"{cost['original_derivation']}; its handlers taken to log and start cold as DRACO's do):",
        "",
        "| per snapshot | DRACO | original design |",
        "| --- | ---: | ---: |",
        *(
            f"| {label} | {_num(cost['usage_per_snapshot']['DRACO'][key])} "
            f"| {_num(cost['usage_per_snapshot']['original'][key])} |"
            for key, label in USAGE_ROWS.items()
        ),
        "",
        f"RDS notifications per snapshot: {cost['notices_per_snapshot']:.0f} ({st['notices_per_snapshot']:.0f} sent "
        f"by the local world, {costs.UNSEEN_NOTICES} more that RDS sends and the world doesn't: see the assumptions).",
        "Snapshot storage is not DRACO's cost (the DR copies cost the same whatever makes them), but for scale: "
        "one full copy of a 100 GB database in DR costs $9.50 a month at RDS's $0.095 per GB-month.",
        "",
        *_across(cost),
        *_assumptions(cost),
    ]
    return out


def _across(cost: dict[str, Any]) -> list[str]:
    rows = [
        f"| {row['kind']} | {row['size_gb']} GB | {_usd(row['same_region'])} "
        f"| {', '.join(f'{k} {_usd(v)}' for k, v in row['added'].items())} "
        f"| {_usd(row['same_region'] + sum(row['added'].values()))} |"
        for row in cost["across_regions"]
    ]
    return [
        "Across Regions, per snapshot (modelled: the local world is one Region). The copy crosses once; a DB "
        "cluster snapshot is first copied in the source Region (the relay copy), kept until DR's copy is made "
        f"({', '.join(str(s) for s in SIZES_GB)} GB; same-Region cost as measured for instances):",
        "",
        "| kind | size | same Region | added across Regions | across Regions |",
        "| --- | ---: | ---: | --- | ---: |",
        *rows,
        "",
    ]


def _assumptions(cost: dict[str, Any]) -> list[str]:
    assume = cost["assumptions"]
    return [
        "Assumptions (`draco/bench/costs.py`, `Assumptions`):",
        "",
        f"- Lambda at {assume['memory_mb']} MB (the apps' `lambda_memory_size`), billed for the run's own work "
        f"({assume['run_seconds'] * 1000:.0f} ms), each DynamoDB call "
        f"({assume['dynamodb_call_seconds'] * 1000:.0f} ms: "
        f"AWS's single-digit milliseconds plus botocore's work), each other AWS call "
        f"({assume['api_call_seconds'] * 1000:.0f} ms: AWS publishes no latency for RDS, KMS, SNS or EventBridge; a "
        f"conservative constant), and a cold run's start-up ({assume['init_seconds']:.2f} s, the cold start measured "
        "below; billed since 1 August 2025). A run is cold when its function did not run in the 10 minutes before "
        "(AWS publishes no figure).",
        f"- CloudWatch Logs: the bytes logged (measured) plus {assume['platform_log_bytes']} bytes of Lambda's "
        f"START/END/REPORT lines per run, ingested, and stored {assume['log_months']:.0f} months uncompressed.",
        f"- KMS: {assume['kms_requests_per_copy']} requests per copy made by RDS (DescribeKey, CreateGrant, data keys, "
        "RetireGrant; AWS publishes no count), besides DRACO's own (measured).",
        f"- RDS notifications the world doesn't send: {costs.UNSEEN_NOTICES} per snapshot (the automated snapshot's "
        "0090, each copy's 0196, the deletion of the transit copy and of one old DR copy, 0041); the event "
        "subscriptions take every event of their source type, and the original's are taken to be the same.",
        "- The original: 17 handler calls plus one per protected source and one per 100 DR copies (its lifecycle "
        "pass lists every manual snapshot), 7 working runs, a Step Functions loop per copy stage (Wait 5 minutes, a "
        "Lambda run with one describe, a Choice), no DynamoDB, metrics or alarms, one key per database rotating "
        "yearly as DRACO's do.",
        "- Custom metrics are prorated by the hour in which they are sent; alarms: one metric each.",
        "",
        "Prices (us-east-1, read " + costs.READ + "; the source column says where each was read):",
        "",
        "| item | price | per | source |",
        "| --- | ---: | --- | --- |",
        *(f"| {name} | ${p.dollars:.3g} | {p.per} | {p.source} |" for name, p in costs.PRICES.items()),
        "",
    ]


def _idle(r: dict[str, Any]) -> list[str]:
    idle = r["idle"]
    runs, wait, lines = idle["runs_per_day"], idle["waiting"], idle["lines_per_day"]
    names = sorted(set(runs["resting"]) | set(runs["always_on"]))
    return [
        "## 2. Idle",
        "",
        f"A day with nothing in flight ({idle['sources']} sources with a day of history), pollers resting against "
        "always on (`POLLER_RULE` unset: a poll round every minute, as at the round's start). Always on is "
        "measured over 6 hours and counted 4 times. The pollers' cost is the poller's and the hourly wake-up's "
        "runs; before, the poller's alone (the round's start had no wake-up); the sweep runs alike either way.",
        "",
        "| Lambda runs a day | resting | always on |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {runs['resting'].get(n, 0):.0f} | {runs['always_on'].get(n, 0):.0f} |" for n in names),
        f"| **the pollers (before: without the wake-ups)** | **{idle['poller_runs']['resting']:.0f}** "
        f"| **{idle['poller_runs']['before']:.0f}** |",
        "",
        "| the pollers' dollars a day | resting | before |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {_usd(lines['resting'][n])} | {_usd(lines['before'][n])} |" for n in LINES if lines["before"][n]),
        f"| **total** | **{_usd(idle['dollars_per_day']['resting'])}** "
        f"| **{_usd(idle['dollars_per_day']['before'])}** |",
        f"| share of before | {idle['share_of_before']:.1%} | |",
        f"| share of before, cold starts not billed | {idle['share_without_init']:.1%} | |",
        f"| the sweep (4 runs, either way) | {_usd(idle['sweep_per_day'])} | {_usd(idle['sweep_per_day'])} |",
        "",
        f"Nothing waits: with DR unreachable for {wait['hours']} hours, production re-sent its copy-request "
        f"{wait['resends']} times, backing off past the hour, while its poller rested {wait['minutes_resting']} "
        f"minutes; the hourly wake-up's own round sent each (timers need no poller): the latest went out "
        f"{wait['latest_seconds']:.0f} s after falling due, within the hour. Once DR answered, the copy "
        f"{'was made' if wait['copied_after'] else 'was NOT made'}.",
        "",
    ]


def _resends(r: dict[str, Any]) -> list[str]:
    rs = r["resends"]
    return [
        "## 3. Re-sends while copies run",
        "",
        f"{rs['snapshots']} snapshots whose copies take {rs['copy_hours']:.0f} hours, nothing lost. Before: "
        "copy-shared re-sent every 30 minutes until DR answers; now: first after twice the transit copy's "
        "measured duration, then backing off.",
        "",
        "| per snapshot | before | now |",
        "| --- | ---: | ---: |",
        f"| re-sends | {rs['before']['resends_per_snapshot']:.1f} | {rs['now']['resends_per_snapshot']:.1f} |",
        f"| DR handler runs | {rs['before']['dr_handler_runs_per_snapshot']:.1f} "
        f"| {rs['now']['dr_handler_runs_per_snapshot']:.1f} |",
        "",
    ]


def _cold(r: dict[str, Any]) -> list[str]:
    cold = r["cold_start"]
    rows = []
    for app, t in cold["apps"].items():
        for part, label in (
            ("import", "import the app"),
            ("clients", "make its table and clients"),
            ("", "cold start"),
        ):
            key = f"_{part}" if part else ""
            rows.append(f"| {app} | {label} | {t[f'before{key}'] * 1000:.0f} ms | {t[f'now{key}'] * 1000:.0f} ms |")
    parts = [
        f"| {app} | " + ", ".join(f"{step} {seconds * 1000:.0f} ms" for step, seconds in t["parts"].items()) + " |"
        for app, t in cold["apps"].items()
    ]
    return [
        "## 4. Cold start",
        "",
        f"Importing each app and making what a wake-up uses in a fresh interpreter, median of {cold['repetitions']} "
        "runs on this machine. Now: clients are made on first use, and a wake-up with nothing due uses its job table "
        f"and {', '.join(cold['wake_up_clients'])} (one DescribeAccountAttributes for both RDS quotas); before: every "
        "client the use-cases are wired with was made at every start (EC2 for a quota EBS doesn't report; in DR, KMS "
        "and STS a wake-up never calls).",
        "",
        "| app | step | before | now |",
        "| --- | --- | ---: | ---: |",
        *rows,
        "",
        "What a cold start is made of (each client's first use, in the order made):",
        "",
        "| app | steps |",
        "| --- | --- |",
        *parts,
        "",
    ]


def _steady(r: dict[str, Any]) -> list[str]:
    st = r["steady_state"]
    names = sorted(set(st["runs_per_day"]) | set(st["idle_runs_per_day"]))
    out = [
        "## 5. Steady state",
        "",
        "Lambda runs a day by function, on snapshot days and on idle days:",
        "",
        "| function | snapshot days | idle days |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {st['runs_per_day'].get(n, 0):.1f} | {st['idle_runs_per_day'].get(n, 0):.1f} |" for n in names),
        "",
        "AWS calls per snapshot over the snapshot days, by account and operation (idle time included):",
        "",
        "| account | operation | calls |",
        "| --- | --- | ---: |",
    ]
    for account, ops in st["calls_by_account"].items():
        out += [f"| {account} | {op} | {n} |" for op, n in ops.items()]
    return [*out, ""]


def _inventory(r: dict[str, Any]) -> list[str]:
    return [
        "## 6. Inventory growth",
        "",
        "One more snapshot of a source when the DR account already holds many copies (50 per source).",
        "",
        "| DR copies held | DRACO handler calls | DRACO poll calls (rounds, both apps) | calls per poll round "
        "| original handler calls (17 + sources + pages of 100) |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {row['dr_copies_held']} | {row['handler_calls']} | {row['poll_calls']} ({row['poll_rounds']}) "
            f"| {row['calls_per_poll_round']:.2f} | {row['original_handler_calls']} |"
            for row in r["inventory_growth"]
        ),
        "",
    ]


def _burst(r: dict[str, Any]) -> list[str]:
    b = r["burst"]
    peaks = ", ".join(f"{k} {v}" for k, v in sorted(b["peak_in_flight"].items()))
    return [
        "## 7. Burst",
        "",
        f"{b['instances']} DB instance and {b['clusters']} cluster snapshots at once; copy limits 20 and 5 (the "
        "transit limit and the new-key cap raised, as for sources whose keys exist); copies take "
        f"{b['copy_time_minutes']:.0f} min. Lower bound: (ceil(N/L) + 1) x T, the two copy stages overlapping; "
        "target: 10 % over it plus two poll intervals.",
        "",
        "| makespan | lower bound | target | most copies in flight | snapshots lost |",
        "| ---: | ---: | ---: | --- | ---: |",
        f"| {b['makespan_minutes']:.0f} min | {b['lower_bound_minutes']:.0f} min | {b['target_minutes']:.0f} min "
        f"| {peaks} | {b['lost']} |",
        "",
    ]


def _latency(r: dict[str, Any]) -> list[str]:
    return [
        "## 8. Added latency",
        "",
        "Snapshot taken to DR copy available, minus the two copy times. The original waits up to 5 minutes per stage.",
        "",
        "| RDS sends copy-finished events | kind | the copies end by | added | original, worst case |",
        "| --- | --- | --- | ---: | ---: |",
        *(
            f"| {'yes' if row['events_sent'] else 'no'} | {row['kind']} "
            f"| {'the event' if row['copy_finished_event'] else 'the poller (every minute)'} "
            f"| {max(0.0, row['added_seconds']):.0f} s | {row['original_added_seconds_worst']:.0f} s |"
            for row in sorted(r["added_latency"], key=lambda row: (not row["events_sent"], row["kind"]))
        ),
        "",
    ]


def _retention(r: dict[str, Any]) -> list[str]:
    timings = r["retention_seconds"]
    return [
        "## Retention engine and code size",
        "",
        "| hourly snapshots | Standard | every rule | shared code (chalicelib_shared, source) |",
        "| ---: | ---: | ---: | ---: |",
        f"| {r['retention_count']:,} | {timings['standard'] * 1000:.0f} ms | {timings['every_key'] * 1000:.0f} ms "
        f"| {r['shared_code_bytes'] / 1024:.0f} KiB |",
        "",
    ]
