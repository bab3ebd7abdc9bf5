"""How long retention takes on a long history: ``python -m draco.bench.retention [N]``.

Times ``apply_policy`` over N hourly snapshots (best of 3, in seconds) for the
Standard lifecycle and for a rule using every key, so a regression in the
engine shows up before a consumer Lambda runs out of time.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

from chalicelib_shared.retention import apply_policy, parse_policy

EVERY_KEY = (
    "last=24 hourly=48 daily=14 weekly=8 monthly=24 yearly=10 within=2d within_hourly=3d "
    "within_daily=1m within_weekly=3m within_monthly=1y within_yearly=10y"
)
NOW = datetime(2025, 6, 18, 6, tzinfo=timezone.utc)


def run(n: int = 100_000) -> dict[str, float]:
    """Best-of-3 seconds per policy for ``n`` hourly snapshots ending at a fixed moment."""
    snapshots = [(f"snap-{i}", NOW - timedelta(hours=i)) for i in range(n)]
    timings = {}
    for label, text in (("standard", "Standard"), ("every_key", EVERY_KEY)):
        policy = parse_policy(text)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            apply_policy(policy, snapshots, NOW)
            runs.append(time.perf_counter() - start)
        timings[label] = min(runs)
    return timings


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for label, seconds in run(count).items():
        print(f"{label:<10} {count} hourly snapshots: {seconds * 1000:.1f} ms")
