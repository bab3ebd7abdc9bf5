"""Cold start: importing each app and making the AWS clients a run uses, in a fresh interpreter each time.

Each run imports the app, makes its job table and then, one by one, every
client the app is wired with, timing each step, so the report says what a cold
start is made of. A wake-up with nothing due (most of an idle day's runs) uses
only the job table and the RDS client (one DescribeAccountAttributes for both
RDS quotas): clients are made on first use (``chalicelib_shared.aws``). Before,
the use-cases were wired with ready-made clients, so every run made all of
them (``WIRED``), the EC2 one for a quota EBS doesn't report and, in DR, KMS and
STS that a wake-up never calls. The median of each step is reported. No AWS
call is made: making a client reads botocore's service models and resolves
credentials (fake ones here), nothing more.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: The clients each app's use-cases are wired with (``handlers.make_producer``/``make_consumer``, the kinds' APIs).
WIRED = {
    "producer_app": ("events", "sns", "rds", "ec2"),
    "consumer_app": ("events", "sns", "rds", "ec2", "kms", "sts"),
}
#: What an hourly wake-up with nothing due uses besides its job table.
WAKE_UP = ("rds",)
SCRIPT = """
import importlib, json, sys, time
sys.path.insert(0, {root!r})
times = {{}}
start = time.perf_counter()
importlib.import_module({app!r} + ".app")
times["import"] = time.perf_counter() - start
from chalicelib_shared import aws
start = time.perf_counter()
aws.table("jobs", aws.region()).meta
times["table"] = time.perf_counter() - start
for service in {services!r}:
    start = time.perf_counter()
    aws.client(service, aws.region()).meta  # the first use makes it
    times[service] = time.perf_counter() - start
print(json.dumps(times))
"""
ENV = {
    "AWS_ACCESS_KEY_ID": "cold-start",
    "AWS_SECRET_ACCESS_KEY": "cold-start",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def measure(repetitions: int) -> dict[str, Any]:
    """Median seconds of each step of each app's cold start; a wake-up's now and before (every wired client)."""
    samples: dict[str, list[dict[str, float]]] = {app: [] for app in WIRED}
    for _ in range(repetitions):
        for app in WIRED:
            samples[app].append(_once(app))
    return {
        "repetitions": repetitions,
        "wake_up_clients": WAKE_UP,
        "apps": {a: _medians(a, s) for a, s in samples.items()},
    }


def _medians(app: str, samples: list[dict[str, float]]) -> dict[str, Any]:
    parts = {step: statistics.median(s[step] for s in samples) for step in samples[0]}
    before = parts["table"] + sum(parts[c] for c in WIRED[app])
    now = parts["table"] + sum(parts[c] for c in WAKE_UP)
    return {
        "parts": parts,
        "before_import": parts["import"],
        "before_clients": before,
        "before": parts["import"] + before,
        "now_import": parts["import"],
        "now_clients": now,
        "now": parts["import"] + now,
    }


def _once(app: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")} | ENV
    script = SCRIPT.format(root=str(REPO), app=app, services=WIRED[app])
    return json.loads(subprocess.check_output([sys.executable, "-c", script], text=True, env=env, cwd=REPO))


if __name__ == "__main__":  # pragma: no cover - python -m draco.bench.coldstart [repetitions]
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=1))
