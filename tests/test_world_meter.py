"""The meters behind the benchmark's cost model (``draco.world.meter``, ``draco.bench.usage``):
DynamoDB request units by the developer guide's rules, the metrics an EMF line creates, and the
usage the benchmark reads from the world's counters."""

from __future__ import annotations

import io
import json
from collections import Counter
from types import SimpleNamespace

import pytest

from draco.bench import usage as bench_usage
from draco.bench.costs import Assumptions, Usage
from draco.world.meter import LogTap, Stored, WorldStats, metric_names, read_units, write_units

DUE, INVENTORY = ("active", "due"), ("inventory_key", "source_time")


def item(size: int = 500, **attrs: str) -> Stored:
    return Stored({"job_id": "j", **attrs}, size)


@pytest.mark.parametrize(
    ("before", "after", "units"),
    [
        (None, item(), 1),  # a new item in no index
        (None, item(active="1", due="t1"), 2),  # a new item enters the due index
        (item(active="1", due="t1"), item(active="1", due="t2"), 3),  # its index key changes: out and in
        (item(active="1", due="t1", state="a"), item(active="1", due="t1", state="b"), 2),  # a projected attribute
        (item(active="1", due="t1"), item(inventory_key="k", source_time="s"), 3),  # leaves one index, enters another
        (item(active="1", due="t1"), item(active="1", due="t1"), 1),  # unchanged (a failed condition)
        (item(active="1", due="t1"), None, 2),  # deleted: gone from the index too
        (item(1500), item(2100, active="1", due="t"), 3 + 3),  # the larger size, in 1 KB units, for the index too
    ],
)
def test_write_units_count_each_index_the_item_enters_leaves_or_changes_in(before, after, units) -> None:
    assert write_units(before, after, [DUE, INVENTORY], tx=False) == units
    assert write_units(before, after, [DUE, INVENTORY], tx=True) == 2 * units


@pytest.mark.parametrize(
    ("sizes", "consistent", "units"),
    [([], True, 1), ([100], False, 0.5), ([4096], True, 1), ([4097], True, 2), ([3000, 3000, 3000], False, 1.5)],
)
def test_read_units_are_4_kb_of_what_one_request_read_halved_when_eventually_consistent(sizes, consistent, units):
    assert read_units(sizes, consistent) == units


def test_metric_names_come_from_emf_lines_only() -> None:
    emf = {
        "_aws": {"CloudWatchMetrics": [{"Namespace": "DRACO", "Metrics": [{"Name": "A"}, {"Name": "B"}]}]},
        "A": 1,
    }
    assert metric_names(json.dumps(emf)) == ["A", "B"]
    assert metric_names('{"message": "copied", "_aws": "not a directive"}') == []
    assert metric_names('"_aws" but not JSON') == [] and metric_names("plain line") == []


def test_the_log_tap_writes_through_and_shows_every_piece() -> None:
    seen: list[str] = []
    stream = io.StringIO()
    tap = LogTap(stream, seen.append)
    print("one", file=tap)
    tap.write("two\n")
    assert stream.getvalue() == tap.getvalue() == "one\ntwo\n" and "".join(seen) == "one\ntwo\n"


def test_usage_reads_every_counter_and_leaves_out_the_functions_skipped() -> None:
    stats = WorldStats()
    stats.invocations.update({"DracoProducer:poll_jobs": 10, "DracoProducer:wake_poller": 2})
    stats.cold_runs.update({"DracoProducer:poll_jobs": 1, "DracoProducer:wake_poller": 2})
    stats.log_bytes.update({"DracoProducer:poll_jobs": 1000, "DracoProducer:wake_poller": 300})
    stats.calls.update(
        {
            ("poll_jobs", "1", "dynamodb", "Query"): 10,
            ("poll_jobs", "1", "rds", "CopyDBSnapshot"): 2,
            ("poll_jobs", "1", "sns", "Publish"): 3,
            ("wake_poller", "1", "kms", "DescribeKey"): 1,
        }
    )
    stats.units.update({("poll_jobs", "1", "read"): 5, ("wake_poller", "1", "write"): 4})
    stats.deliveries = 3 + 2  # the apps' three messages and two notifications from "RDS"
    world = SimpleNamespace(stats=stats)
    assume = Assumptions(kms_requests_per_copy=6)
    assert bench_usage.usage(world, assume) == Usage(
        runs=12, cold_runs=3, dynamodb_calls=10, other_calls=6, log_bytes=1300,
        read_units=5, write_units=4, publishes=5, kms_requests=1 + 2 * 6,
    )  # fmt: skip
    assert bench_usage.usage(world, assume, skip=("wake_poller",)) == Usage(
        runs=10, cold_runs=1, dynamodb_calls=10, other_calls=5, log_bytes=1000,
        read_units=5, write_units=0, publishes=5, kms_requests=12,
    )  # fmt: skip
    assert bench_usage.notices(world) == 2


def test_stats_clear_starts_counting_afresh_but_keeps_the_peaks() -> None:
    stats = WorldStats(deliveries=4, in_flight_peak=Counter({"x": 3}))
    stats.invocations["f"] += 1
    stats.metric_hours.add(("1", "M", "h"))
    stats.clear()
    assert (stats.deliveries, stats.invocations, stats.metric_hours, stats.in_flight_peak) == (0, {}, set(), {"x": 3})
