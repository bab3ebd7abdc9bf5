"""The whole bill: copies each lifecycle keeps (from the retention engine), storage at each kind's price,
keys by scope, and the recommended key scope."""

from __future__ import annotations

import pytest

from chalicelib_shared.kinds import KINDS
from draco.bench import bill, costs


@pytest.mark.parametrize(("lifecycle", "one", "seven"), [("Weekly", 7, 7), ("Test", 5, 5), ("Biweekly", 2, 2)])
def test_copies_kept_come_from_the_retention_engine(lifecycle: str, one: int, seven: int) -> None:
    assert (bill.copies_kept(lifecycle, 1), bill.copies_kept(lifecycle, 7)) == (one, seven)


def test_standard_keeps_more_copies_after_seven_years_than_after_one() -> None:
    one, seven = bill.copies_kept("Standard", 1), bill.copies_kept("Standard", 7)
    assert 7 + 5 + 12 > one > 12 and one < seven <= 7 + 5 + 12 + 7  # daily, weekly, monthly (and yearly) overlap


def test_each_kind_is_priced_at_its_own_storage_price() -> None:
    assert (KINDS["RDS"].storage_price, KINDS["RDS Cluster"].storage_price, KINDS["EBS"].storage_price) == (
        0.095,
        0.021,
        0.05,
    )
    weekly = next(row for row in bill.lifecycles() if row["lifecycle"] == "Weekly")
    assert weekly["storage_per_month"]["RDS Cluster"][1] == pytest.approx(7 * bill.SIZE_GB * 0.021)


def test_transit_copies_cost_the_hours_they_exist() -> None:
    month = bill.transit_per_month("RDS", snapshots_per_day=1, size_gb=100)
    assert month == pytest.approx(100 * 0.095 * costs.DAYS_PER_MONTH / costs.HOURS_PER_MONTH)


def measured() -> tuple[dict, dict]:
    cost = {
        "per_snapshot": {"DRACO": {"Lambda": 0.0001}},
        "idle_per_day": {"Lambda": 0.001},
        "fixed_per_month": {"KMS keys": 3.0, "custom metrics": 1.0, "alarms": 0.5},
    }
    steady = {
        "snapshots": 20,
        "days_measured": 1,
        "sources": 20,
        "deployment": {"shared_keys": 3, "rotation": True},
    }
    return cost, steady


def test_the_whole_bill_shares_the_deployment_and_prices_keys_by_scope() -> None:
    rows = bill.whole(*measured())
    assert len(rows) == len(bill.DATABASES) * 2 * 2
    one = {(r["key_scope"], r["year"]): r for r in rows if r["databases"] == 1}
    many = {(r["key_scope"], r["year"]): r for r in rows if r["databases"] == 100}
    assert one[("database", 1)]["KMS keys"] == pytest.approx(3 + 1)  # the shared keys and its own
    assert many[("account", 3)]["KMS keys"] == pytest.approx((3 + 1) * costs.key_month(3, True) / 100)
    assert many[("database", 3)]["KMS keys"] == pytest.approx(3 * 3 / 100 + 3)
    dr = one[("database", 1)]["DR copies after 7 y (full)"]
    assert dr == bill.copies_kept("Standard", 7) * bill.SIZE_GB * 0.095  # storage dwarfs DRACO's own
    assert dr > 20 * one[("database", 1)]["DRACO's own"]
    assert bill.recommended_scope(rows) == "account"


def test_the_new_sections_render_every_measured_row() -> None:
    from draco.bench import batches, report

    cost, steady = measured()
    text = "\n".join(bill.markdown(bill.run(cost, steady)))
    assert "Recommended default: `KEY_SCOPE=account`" in text and "| Standard | 22 | 27 |" in text
    row = {"sources": 40, "dr_copies_held": 0, "dynamodb_calls": 24.0, "lambda_runs": 11.0, "cold_runs": 0.5}
    row |= {"other_calls": 16.0, "poll_rounds": 2.0}
    calls = "\n".join(batches.markdown({"batches": [row], "inventories": [row | {"dr_copies_held": 10_000}]}))
    assert "| 40 | 24.0 | 11.0 (0.5) | 16.0 | 2.0 |" in calls and "| 10,000 |" in calls
    parts = {"import": 0.3, "table": 0.1, "rds": 0.05, "ec2": 0.2}
    timing = {"parts": parts, "before_import": 0.3, "before_clients": 0.35, "before": 0.65}
    timing |= {"now_import": 0.3, "now_clients": 0.15, "now": 0.45}
    cold = "\n".join(
        report._cold({"cold_start": {"repetitions": 3, "wake_up_clients": ["rds"], "apps": {"p": timing}}})
    )
    assert "| p | cold start | 650 ms | 450 ms |" in cold and "ec2 200 ms" in cold
