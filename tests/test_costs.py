"""The cost model's arithmetic (``draco.bench.costs``): each line item from usage, keys and rotation, the
shares per database, the original's derived flow, and what crossing Regions adds. Expected figures
are worked out by hand from the published prices."""

from __future__ import annotations

from datetime import timedelta

import pytest

from draco.bench import costs
from draco.bench.costs import Assumptions, Fixed, Usage

ASSUME = Assumptions(
    memory_mb=256,
    run_seconds=0.02,
    dynamodb_call_seconds=0.015,
    api_call_seconds=0.1,
    init_seconds=0.5,
    platform_log_bytes=300,
    log_months=3.0,
    kms_requests_per_copy=6,
)


def test_lambda_bills_requests_and_each_runs_work_calls_and_cold_start_at_the_deployed_memory() -> None:
    usage = Usage(runs=1000, cold_runs=10, dynamodb_calls=2000, other_calls=100)
    # 1000 x 20 ms + 10 x 0.5 s + 2000 x 15 ms + 100 x 100 ms = 20 + 5 + 30 + 10 = 65 s at a quarter GB
    expected = 1000 * 0.20 / 1e6 + 65 * 0.25 * 0.0000166667
    assert costs.bill(usage, ASSUME)["Lambda"] == pytest.approx(expected)
    half = Assumptions(memory_mb=128, run_seconds=0.02, dynamodb_call_seconds=0.015, api_call_seconds=0.1)
    assert costs.bill(Usage(runs=1000, dynamodb_calls=2000), half)["Lambda"] == pytest.approx(
        1000 * 0.20 / 1e6 + 50 * 0.125 * 0.0000166667
    )


def test_logs_add_lambdas_own_lines_per_run_and_their_storage() -> None:
    usage = Usage(runs=1_000_000, log_bytes=700 * 1_000_000)  # 700 bytes logged a run, plus 300 of Lambda's
    gigabytes = 1000 * 1_000_000 / 1024**3
    assert costs.bill(usage, ASSUME)["CloudWatch Logs"] == pytest.approx(gigabytes * (0.50 + 3 * 0.03))


@pytest.mark.parametrize(
    ("usage", "line", "dollars"),
    [
        (Usage(read_units=8e6, write_units=2e6), "DynamoDB", 8 * 0.125 + 2 * 0.625),
        (Usage(publishes=3e6), "SNS", 1.50),
        (Usage(kms_requests=20_000), "KMS requests", 0.06),
        (Usage(transitions=4000), "Step Functions", 0.10),
    ],
)
def test_each_request_priced_line(usage: Usage, line: str, dollars: float) -> None:
    bill = costs.bill(usage, ASSUME)
    assert bill[line] == pytest.approx(dollars)
    assert sum(bill.values()) == pytest.approx(dollars)  # nothing else is billed for it


def test_usage_adds_and_scales_field_by_field() -> None:
    a, b = Usage(runs=2, publishes=1, read_units=0.5), Usage(runs=4, transitions=3)
    assert a + b == Usage(runs=6, publishes=1, read_units=0.5, transitions=3)
    assert (a + b) * 0.5 == Usage(runs=3, publishes=0.5, read_units=0.25, transitions=1.5)
    assert 2 * a == a + a


@pytest.mark.parametrize(("year", "rotation", "dollars"), [(1, True, 1), (2, True, 2), (3, True, 3), (9, True, 3)])
def test_a_rotating_key_costs_a_dollar_more_for_each_of_its_first_two_rotations(year, rotation, dollars) -> None:
    assert costs.key_month(year, rotation) == dollars
    assert costs.key_month(year, rotation=False) == 1


def test_monthly_costs_keys_metrics_by_the_hour_and_alarms() -> None:
    fixed = Fixed(keys=3, rotation=True, metric_hours_per_day=48 + 6, alarm_metrics=9)
    month = costs.monthly(fixed, year=2)
    # two metrics sent every hour and one sent 6 hours a day: 2.25 metric-months
    assert month == pytest.approx({"KMS keys": 6.0, "custom metrics": 2.25 * 0.30, "alarms": 0.90})


def test_a_database_month_carries_its_snapshots_its_key_and_a_share_of_the_rest() -> None:
    month = costs.per_database_month(
        {"Lambda": 0.001, "SNS": 0.0005},
        {"Lambda": 0.01},
        {"KMS keys": 3.0, "alarms": 1.0},
        databases=4,
        snapshots_per_day=2,
        keys_per_database=1,
        key_price=2.0,
    )
    days = 365.25 / 12
    assert month == pytest.approx(
        {
            "Lambda": 0.001 * 2 * days + 0.01 * days / 4,
            "SNS": 0.0005 * 2 * days,
            "KMS keys": 3.0 / 4 + 2.0,
            "alarms": 0.25,
        }
    )


def test_the_originals_flow_for_half_hour_copies() -> None:
    flow = costs.original_per_snapshot(
        sources=20,
        dr_copies=1000,
        copy_time=timedelta(minutes=30),
        notices=8,
        handler_log_bytes=500,
        handler_cold_share=0.5,
        assume=ASSUME,
    )
    assert (flow.iterations, flow.pages, flow.handler_calls) == (12, 10, 17 + 20 + 10)
    usage = flow.usage
    assert usage.transitions == 2 * 4 + 3 * 12
    assert usage.runs == 7 + 7 + 12  # working runs, the 7 notices that start no work, one per wait
    assert usage.cold_runs == 14 * 0.5 + 2  # the first run of each wait loop is cold
    assert usage.other_calls == 47 + 12 and usage.dynamodb_calls == 0
    assert (usage.publishes, usage.kms_requests, usage.log_bytes) == (4 + 8, 12, 7 * 500)
    assert costs.bill(usage, ASSUME)["Step Functions"] == pytest.approx(44 * 0.000025)


def test_a_copy_shorter_than_one_wait_still_waits_once_per_stage() -> None:
    flow = costs.original_per_snapshot(
        sources=1, dr_copies=0, copy_time=timedelta(minutes=3), notices=1, handler_log_bytes=0, handler_cold_share=0
    )
    assert (flow.iterations, flow.pages, flow.usage.transitions) == (2, 0, 14)


def test_across_regions_one_step_adds_the_transfer_and_two_steps_the_relay_copy_too() -> None:
    assert costs.across_regions(100, one_step=True, relay_hours=1, storage_gb_month=0.095, assume=ASSUME) == {
        "data transfer": pytest.approx(2.0)
    }
    added = costs.across_regions(100, one_step=False, relay_hours=0.5, storage_gb_month=0.095, assume=ASSUME)
    hours = 365.25 / 12 * 24
    assert added == pytest.approx(
        {"data transfer": 2.0, "relay copy storage": 100 * 0.095 * 0.5 / hours, "relay copy KMS requests": 6 * 3e-6}
    )


def test_every_price_names_its_source() -> None:
    assert all(p.source and p.per and p.dollars >= 0 for p in costs.PRICES.values())
