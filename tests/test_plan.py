"""The operator's preview: schedules, the calendar, the SVG timeline and the command."""

from __future__ import annotations

import argparse
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib_shared.retention import apply_policy, parse_policy, resolve_lifecycle
from draco import plan

UTC = timezone.utc
NOW = datetime(2025, 6, 18, 12, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    plan.register(parser.add_subparsers())
    args = parser.parse_args(["plan", *argv])
    return args.func(args)


def small() -> list[tuple[str, datetime]]:
    return [
        ("a", datetime(2025, 6, 18, 6, tzinfo=UTC)),
        ("b", datetime(2025, 6, 17, 6, tzinfo=UTC)),
        ("c", datetime(2025, 6, 16, 6, tzinfo=UTC)),
        ("d", datetime(2025, 5, 31, 6, tzinfo=UTC)),
        ("e", datetime(2025, 6, 18, 1, tzinfo=UTC)),
    ]


def test_calendar_of_a_small_schedule() -> None:
    policy = parse_policy("daily=2 monthly=2")
    result = apply_policy(policy, small(), NOW)
    text = plan.render_calendar(policy, small(), result, NOW)
    lines = text.splitlines()
    assert lines[:5] == [
        "daily=2 monthly=2",
        "5 snapshots from 2025-05-31T06:00Z to 2025-06-18T06:00Z, now 2025-06-18T12:00Z: 3 kept, 2 deleted",
        "",
        "         1   5    10   15   20   25   30",
        "2025-05  ..............................M  kept 1 of 1",
    ]
    assert lines[5] == "2025-06  ...............-DM............   kept 2 of 4"
    assert "M monthly   D daily   - deleted   . no snapshot" in text
    assert "  2025-06-18T06:00Z  daily, monthly  (a)" in lines
    assert "  2025-05-31T06:00Z  monthly  (d)" in lines


def test_calendar_marks_future_oldest_and_keep_all() -> None:
    snapshots = [("x", NOW + timedelta(days=2)), ("y", NOW - timedelta(hours=30)), ("z", NOW - timedelta(hours=29))]
    policy = parse_policy("daily=5")
    text = plan.render_calendar(policy, snapshots, apply_policy(policy, snapshots, NOW), NOW)
    assert "2025-06  ................D..F..........   kept 3 of 3" in text  # y (oldest) shares z's day
    assert "F future   D daily   O oldest   - deleted   . no snapshot" in text
    assert "oldest: a rule with fewer periods than it asks for keeps the oldest snapshot" in text
    unknown = resolve_lifecycle("Nope")
    text = plan.render_calendar(unknown, snapshots, apply_policy(unknown, snapshots, NOW), NOW)
    assert text.startswith("keep everything (unknown lifecycle 'Nope'")
    assert "2025-06  ................A..A" in text


def test_calendar_without_snapshots() -> None:
    policy = parse_policy("Test")
    text = plan.render_calendar(policy, [], apply_policy(policy, [], NOW), NOW)
    assert text == "Test (last=3 within=5d)\nno snapshots (now 2025-06-18T12:00Z)\n"


def test_long_kept_lists_are_cut() -> None:
    snapshots = plan.synthetic_schedule(NOW, 60, timedelta(days=1))
    policy = parse_policy("last=50")
    text = plan.render_calendar(policy, snapshots, apply_policy(policy, snapshots, NOW), NOW)
    assert "kept, newest first (50):" in text and "  ... and 10 more" in text


@pytest.mark.parametrize("policy_text", ["Standard", "Test", "Ignore", "hourly=5 within=2d last=1"])
def test_svg_is_well_formed_with_one_mark_per_snapshot(policy_text: str) -> None:
    snapshots = plan.synthetic_schedule(NOW, 90, timedelta(hours=6)) + [("later", NOW + timedelta(days=1))]
    policy = parse_policy(policy_text)
    result = apply_policy(policy, snapshots, NOW)
    root = ET.fromstring(plan.render_svg(policy, snapshots, result, NOW))
    assert root.tag == f"{SVG}svg"
    kept = [r for r in root.iter(f"{SVG}rect") if r.get("class", "").startswith("kept ")]
    assert len(kept) == len(result.keep)
    assert sorted(r.find(f"{SVG}title").text.split()[0] for r in kept) == sorted(result.keep)
    (deleted,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "deleted"]
    assert len(re.findall("M", deleted.get("d"))) == int(deleted.get("data-count")) == len(result.delete)
    texts = "".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert str(policy) in texts and "now" in texts


def test_svg_lanes_are_labelled_by_family() -> None:
    policy = parse_policy("Standard")
    snapshots = plan.synthetic_schedule(NOW, 400, timedelta(days=1))
    svg = plan.render_svg(policy, snapshots, apply_policy(policy, snapshots, NOW), NOW)
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert {"yearly (2)", "monthly (10)", "weekly (4)", "daily (5)", "oldest (1)", "deleted (378)"} <= set(labels)
    assert "Jan 2025" in labels


def test_svg_of_nothing() -> None:
    policy = parse_policy("Test")
    ET.fromstring(plan.render_svg(policy, [], apply_policy(policy, [], NOW), NOW))


def test_families() -> None:
    assert plan.family("within_daily 1m") == "daily"
    assert plan.family("within 5d") == "within"
    assert plan.family("oldest within_daily") == "oldest"
    assert plan.family("keep_all") == plan.family("ignore") == "all"
    assert plan.primary_family(["daily", "weekly", "oldest yearly"]) == "weekly"


def test_synthetic_schedule() -> None:
    snapshots = plan.synthetic_schedule(NOW, 2, timedelta(hours=6))
    assert [t for _, t in snapshots] == [NOW - timedelta(hours=6 * i) for i in range(8)]
    assert snapshots[0][0] == "2025-06-18T12:00Z"
    assert len(plan.synthetic_schedule(NOW, 1, timedelta(hours=7))) == 4  # 0, 7, 14, 21 hours back
    with pytest.raises(ValueError, match="--days must be 1 to 36,525"):
        plan.synthetic_schedule(NOW, 0, timedelta(days=1))


def test_every() -> None:
    assert plan.parse_every("1d12h") == timedelta(hours=36)
    with pytest.raises(ValueError, match="not months or years"):
        plan.parse_every("1m")
    with pytest.raises(ValueError, match="bad duration"):
        plan.parse_every("6x")


def test_read_schedule() -> None:
    text = "# taken by hand\n2025-06-18T06:00:00Z\n\n2025-06-17 06:00\n2025-06-17T08:00:00+02:00\n"
    assert plan.read_schedule(text) == [
        ("line 2", datetime(2025, 6, 18, 6, tzinfo=UTC)),
        ("line 4", datetime(2025, 6, 17, 6, tzinfo=UTC)),
        ("line 5", datetime(2025, 6, 17, 6, tzinfo=UTC)),
    ]
    with pytest.raises(ValueError, match="line 2: 'yesterday' is not an ISO-8601 timestamp"):
        plan.read_schedule("2025-06-18\nyesterday\n")
    with pytest.raises(ValueError, match="no timestamps"):
        plan.read_schedule("# nothing\n")


def test_command_prints_the_calendar_and_writes_the_svg(tmp_path, capsys) -> None:
    svg = tmp_path / "weekly.svg"
    assert run(["weekly", "--days", "21", "--now", "2025-06-18T06:00Z", "--svg", str(svg)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Weekly (daily=7)\n21 snapshots from 2025-05-29T06:00Z")
    assert "2025-06  -----------DDDDDDD............   kept 7 of 18" in out
    assert out.rstrip().endswith(f"wrote {svg}")
    ET.parse(svg)


def test_command_reads_a_schedule_file(tmp_path, capsys) -> None:
    schedule = tmp_path / "times.txt"
    schedule.write_text("2025-06-18T06:00Z\n2025-06-18T05:00Z\n2025-06-17T05:00Z\n")
    assert run(["daily=1", "--from", str(schedule), "--now", "2025-06-18T07:00"]) == 0
    assert "3 snapshots from 2025-06-17T05:00Z to 2025-06-18T06:00Z, now 2025-06-18T07:00Z: 1 kept, 2 deleted" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Standrad"], "draco plan: unknown lifecycle 'Standrad'"),
        (["daily=0"], "draco plan: 'daily=0': a count must be at least 1, not 0"),
        (["Test", "--now", "noon"], "draco plan: 'noon' is not an ISO-8601 timestamp"),
        (["Test", "--every", "1y"], "draco plan: --every '1y': use days and hours"),
        (["Test", "--days", "0"], "draco plan: --days must be 1 to 36,525 (a century), not 0"),
        (["Standard", "--days", "99999999"], "draco plan: --days must be 1 to 36,525 (a century), not 99,999,999"),
        (["Test", "--days", "36525", "--every", "1h"], "draco plan: --days 36,525 --every 1:00:00 makes 876,600"),
        (["Test", "--from", "/nonexistent/times.txt"], "draco plan: [Errno 2] No such file or directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys) -> None:
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(message) and captured.err.count("\n") == 1
