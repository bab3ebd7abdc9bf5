"""What running DRACO, or the original DRACO's design, costs: pure arithmetic on counted usage.

The benchmark (``draco.bench.runner``) counts DRACO's usage in the local world and
derives the original's from its documented flow (``original_per_snapshot``);
both are priced here the same way, line by line (``bill``):

* **Lambda**: requests, and duration at the deployed memory. moto answers in
  process, so its time says nothing of AWS's: a run is billed for its own work
  (``Assumptions.run_seconds``), each AWS call it makes (``dynamodb_call_seconds``,
  ``api_call_seconds``) and, for a cold run, the start-up (``init_seconds``,
  measured on this machine; billed since 1 August 2025).
* **CloudWatch Logs**: the bytes the apps logged (measured) plus Lambda's own
  START/END/REPORT lines per run, ingested once and kept for the log retention.
* **DynamoDB**: on-demand request units, indexes included (measured).
* **SNS**: publishes: DRACO's messages and every RDS notification the event
  subscriptions send (deliveries to Lambda are free).
* **KMS**: requests (DRACO's own, measured; those RDS makes for each copy,
  ``Assumptions.kms_requests_per_copy``), and key-months (``key_month``).
* **Step Functions**: the original's state transitions.
* **EventBridge**: scheduled rules and AWS service events are free; neither
  design sends custom events, so it costs nothing and has no line.
* **Custom metrics and alarms**: by the month (``monthly``).

No free tier is counted: a DR account runs other things too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import timedelta

DAYS_PER_MONTH = 365.25 / 12
HOURS_PER_MONTH = DAYS_PER_MONTH * 24
GB = 1024**3
READ = "2026-11-30"  # when the prices below were read (each says where)


@dataclass(frozen=True)
class Price:
    dollars: float
    per: str
    source: str  # "[3rd-party]" when not read on an AWS page; "not confirmed" when commonly cited only


PRICES: dict[str, Price] = {
    "lambda_request": Price(0.20 / 1e6, "request", "[3rd-party] cloudchipr.com, US East"),
    "lambda_gb_second": Price(0.0000166667, "GB-second, x86", "[3rd-party] cloudchipr.com, US East"),
    "logs_ingested_gb": Price(0.50, "GB ingested, standard class", "[3rd-party] factualminds.com, cloudburn.io"),
    "logs_stored_gb_month": Price(0.03, "GB-month stored", "not confirmed (commonly cited)"),
    "dynamodb_write_unit": Price(0.625 / 1e6, "write request unit, on-demand", "[3rd-party] airbyte, jusdb (Nov 2024)"),
    "dynamodb_read_unit": Price(0.125 / 1e6, "read request unit, on-demand", "[3rd-party] airbyte, jusdb (Nov 2024)"),
    "sns_publish": Price(0.50 / 1e6, "publish, standard topic", "[3rd-party] factualminds.com"),
    "kms_request": Price(0.03 / 1e4, "request", "[3rd-party] wring.co"),
    "kms_key_month": Price(1.00, "customer managed key-month", "AWS KMS pricing page"),
    "kms_rotation_month": Price(
        1.00,
        "rotated key material-month, first two rotations only",
        "AWS KMS pricing page ($1 a month per rotation); the cap at two rotations (AWS, April 2024) not confirmed",
    ),
    "metric_month": Price(0.30, "custom metric-month, prorated by the hour", "[3rd-party] signoz.io"),
    "alarm_metric_month": Price(0.10, "standard alarm metric-month", "not confirmed (commonly cited)"),
    "step_functions_transition": Price(0.025 / 1e3, "state transition, standard", "AWS Step Functions pricing page"),
    "inter_region_gb": Price(0.02, "GB copied between US Regions", "AWS whitepaper (model); $0.02 not confirmed"),
}


def price(name: str) -> float:
    return PRICES[name].dollars


@dataclass(frozen=True)
class Assumptions:
    """What the model cannot count in the local world; each default says why it is what it is."""

    #: The apps' ``lambda_memory_size`` (each app's .chalice/config.json).
    memory_mb: int = 256
    #: A run's own work besides its AWS calls (parsing, logging, its decisions): 256 MB gets
    #: about a seventh of a vCPU (one vCPU at 1,769 MB, Lambda developer guide).
    run_seconds: float = 0.020
    #: DynamoDB answers in single-digit milliseconds (AWS); plus botocore's own work on the call.
    dynamodb_call_seconds: float = 0.015
    #: Other AWS APIs (RDS, EC2, KMS, SNS, EventBridge, STS) publish no latency: a conservative 100 ms.
    api_call_seconds: float = 0.100
    #: A cold run's start-up: importing the app and making its clients (measured; see the benchmark).
    init_seconds: float = 0.5
    #: Lambda's START, END and REPORT lines per run.
    platform_log_bytes: int = 300
    #: 90 days' retention (each app's log_retention_in_days).
    log_months: float = 3.0
    #: KMS requests RDS makes for one copy to another key: DescribeKey and CreateGrant (every kind's
    #: copy needs them), decrypting the source's data key, a data key under the copy's key, RetireGrant
    #: and one more; AWS publishes no count.
    kms_requests_per_copy: int = 6

    def seconds(self, runs: float, cold_runs: float, dynamodb_calls: float, other_calls: float) -> float:
        """Billed Lambda seconds of this many runs and calls."""
        return (
            runs * self.run_seconds
            + cold_runs * self.init_seconds
            + dynamodb_calls * self.dynamodb_call_seconds
            + other_calls * self.api_call_seconds
        )


@dataclass(frozen=True)
class Usage:
    """What some work used: counted in the local world (DRACO) or derived from a documented flow (the original)."""

    runs: float = 0.0
    cold_runs: float = 0.0
    dynamodb_calls: float = 0.0
    other_calls: float = 0.0  # every other AWS API call the runs make
    log_bytes: float = 0.0  # the apps' own log lines (Lambda's platform lines are added per run)
    read_units: float = 0.0
    write_units: float = 0.0
    publishes: float = 0.0  # SNS publishes, RDS notifications included
    kms_requests: float = 0.0
    transitions: float = 0.0  # Step Functions state transitions

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __mul__(self, factor: float) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    __rmul__ = __mul__


def bill(usage: Usage, assume: Assumptions = Assumptions()) -> dict[str, float]:
    """Dollars by line item for ``usage``."""
    seconds = assume.seconds(usage.runs, usage.cold_runs, usage.dynamodb_calls, usage.other_calls)
    logged = (usage.log_bytes + usage.runs * assume.platform_log_bytes) / GB
    return {
        "Lambda": usage.runs * price("lambda_request") + seconds * assume.memory_mb / 1024 * price("lambda_gb_second"),
        "CloudWatch Logs": logged * (price("logs_ingested_gb") + assume.log_months * price("logs_stored_gb_month")),
        "DynamoDB": usage.read_units * price("dynamodb_read_unit") + usage.write_units * price("dynamodb_write_unit"),
        "SNS": usage.publishes * price("sns_publish"),
        "KMS requests": usage.kms_requests * price("kms_request"),
        "Step Functions": usage.transitions * price("step_functions_transition"),
    }


def key_month(year: int, rotation: bool) -> float:
    """One customer managed key for a month of its ``year``-th year: each rotation adds $1, two at most."""
    rotations = min(max(year - 1, 0), 2) if rotation else 0
    return price("kms_key_month") + rotations * price("kms_rotation_month")


@dataclass(frozen=True)
class Fixed:
    """What a deployment pays by the month whatever it copies."""

    keys: int  # customer managed keys not per protected database (transit key, topic keys...)
    rotation: bool  # keys rotate yearly
    metric_hours_per_day: float  # custom metrics, in hours with at least one data point, per day
    alarm_metrics: int


def monthly(fixed: Fixed, year: int = 1) -> dict[str, float]:
    """Dollars a month by line item for what ``fixed`` holds."""
    return {
        "KMS keys": fixed.keys * key_month(year, fixed.rotation),
        "custom metrics": fixed.metric_hours_per_day * DAYS_PER_MONTH / HOURS_PER_MONTH * price("metric_month"),
        "alarms": fixed.alarm_metrics * price("alarm_metric_month"),
    }


def per_database_month(
    per_snapshot: dict[str, float],
    idle_per_day: dict[str, float],
    fixed_per_month: dict[str, float],
    *,
    databases: int,
    snapshots_per_day: float,
    keys_per_database: float,
    key_price: float,
) -> dict[str, float]:
    """Dollars a month per protected database, by line item: its snapshots, a share of the rest, its key."""
    out = {name: value * snapshots_per_day * DAYS_PER_MONTH for name, value in per_snapshot.items()}
    for name, value in idle_per_day.items():
        out[name] = out.get(name, 0.0) + value * DAYS_PER_MONTH / databases
    for name, value in fixed_per_month.items():
        out[name] = out.get(name, 0.0) + value / databases
    out["KMS keys"] = out.get("KMS keys", 0.0) + keys_per_database * key_price
    return out


#: RDS notifications an instance snapshot brings besides those the local world sends (the
#: snapshot's "created" and each copy's "copy finished", 0197): the automated snapshot's
#: "creating" (0090), each copy's "copy started" (0196, two), the deletion of the transit copy
#: and, once the history is full, of one old DR copy by its lifecycle (0041, two). The event
#: subscriptions take every event of their source type (bootstrap), as the original's did.
UNSEEN_NOTICES = 5

# --- the original design ---------------------------------------------------------------------
#: Its handlers' AWS calls to carry one snapshot (describe, tags, copy, share, publish, copy in
#: DR, tag, delete...), besides one tag read per protected source and one page per 100 DR copies
#: in the lifecycle pass, which lists every manual snapshot of the type on each copy.
ORIGINAL_HANDLER_CALLS = 17
#: Runs that work: the snapshot's "created" event, the four messages, and each wait loop's end
#: (the state machine hands the finished copy back to the app).
ORIGINAL_WORK_RUNS = 7
ORIGINAL_MESSAGES = 4  # copy-request, copy-initiate, copy-shared, delete-shared
ORIGINAL_WAIT = timedelta(minutes=5)  # wait4copy's Wait state


def original_handler_calls(sources: int, dr_copies: int) -> int:
    """The original's handlers' AWS calls for one snapshot, with ``sources`` protected and ``dr_copies`` held."""
    return ORIGINAL_HANDLER_CALLS + sources + math.ceil(dr_copies / 100)


@dataclass(frozen=True)
class OriginalFlow:
    """The original's usage for one snapshot, and how it was derived."""

    usage: Usage
    iterations: int
    pages: int
    handler_calls: int

    @property
    def derivation(self) -> str:
        return (
            f"{ORIGINAL_HANDLER_CALLS} + sources + {self.pages} listing pages = {self.handler_calls} handler calls; "
            f"{self.iterations} five-minute waits"
        )


def original_per_snapshot(
    *,
    sources: int,
    dr_copies: int,
    copy_time: timedelta,
    notices: float,
    handler_log_bytes: float,
    handler_cold_share: float,
    assume: Assumptions = Assumptions(),
) -> OriginalFlow:
    """The original DRACO's design carrying one snapshot, from its documented flow.

    Waiting is a Step Functions loop per copy stage (two stages): Wait 5 minutes,
    a Lambda run that describes the copy, a Choice: 3 transitions, 1 run and 1
    call per iteration, plus 4 transitions to start and end each execution.
    ``notices``: every RDS notification a snapshot brings (the same subscriptions
    as DRACO's: one starts work, the others are runs that ignore them);
    ``handler_log_bytes`` and ``handler_cold_share``: its working runs are taken to
    log as much, and its handlers to start cold as often, as DRACO's SNS handlers
    (measured); a wait-loop run logs Lambda's lines only, and only the first of
    each loop starts cold (the next comes 5 minutes later).
    """
    iterations = 2 * math.ceil(copy_time / ORIGINAL_WAIT)
    pages = math.ceil(dr_copies / 100)
    handler_calls = original_handler_calls(sources, dr_copies)
    handler_runs = ORIGINAL_WORK_RUNS + notices - 1
    usage = Usage(
        runs=handler_runs + iterations,
        cold_runs=handler_runs * handler_cold_share + 2,
        other_calls=handler_calls + iterations,
        log_bytes=ORIGINAL_WORK_RUNS * handler_log_bytes,
        publishes=ORIGINAL_MESSAGES + notices,
        kms_requests=2 * assume.kms_requests_per_copy,
        transitions=2 * 4 + 3 * iterations,
    )
    return OriginalFlow(usage, iterations, pages, handler_calls)


# --- across Regions --------------------------------------------------------------------------
def across_regions(
    size_gb: float, *, one_step: bool, relay_hours: float, storage_gb_month: float, assume: Assumptions = Assumptions()
) -> dict[str, float]:
    """What copying one snapshot into another Region adds, by line item.

    The copy crosses once (data transfer per GB). A kind AWS can't copy across
    accounts and Regions in one step is first copied in the source Region (the
    relay copy): one more copy's KMS requests, and its storage until DR's copy
    from it is ready (``relay_hours``).
    """
    added = {"data transfer": size_gb * price("inter_region_gb")}
    if not one_step:
        added["relay copy storage"] = size_gb * storage_gb_month * relay_hours / HOURS_PER_MONTH
        added["relay copy KMS requests"] = assume.kms_requests_per_copy * price("kms_request")
    return added
