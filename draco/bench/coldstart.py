"""Cold start: importing each app and making its AWS clients, in a fresh interpreter each time.

Measured the same way on today's code and on today's code with the client
module of the round's start (commit ``ROUND_START``, which made one boto3
session per client; now one session per set of credentials makes them all).
Runs alternate between the two so both see the same load; the median of each
is reported. No AWS call is made: making a client reads botocore's service
models and resolves credentials (fake ones here), nothing more.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
ROUND_START = "92ec865"
CLIENT_MODULE = "chalicelib_shared/aws.py"
#: The clients each app's runs make (``handlers.make_producer``/``make_consumer`` and the kinds' APIs),
#: besides its job table.
CLIENTS = {
    "producer_app": ("events", "sns", "rds", "ec2"),
    "consumer_app": ("events", "sns", "rds", "ec2", "kms", "sts"),
}
SCRIPT = """
import importlib, json, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
importlib.import_module({app!r} + ".app")
imported = time.perf_counter()
from chalicelib_shared import aws
aws.table("jobs", aws.region())
for service in {services!r}:
    aws.client(service, aws.region())
print(json.dumps({{"import": imported - start, "clients": time.perf_counter() - imported}}))
"""
ENV = {
    "AWS_ACCESS_KEY_ID": "cold-start",
    "AWS_SECRET_ACCESS_KEY": "cold-start",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def measure(repetitions: int) -> dict[str, Any]:
    """Median seconds to import each app and to make its clients, before and now (before: None if unavailable)."""
    with tempfile.TemporaryDirectory(prefix="draco-cold-") as scratch:
        before = _round_start_tree(Path(scratch))
        runs: dict[str, dict[str, list[dict[str, float]]]] = {app: {"before": [], "now": []} for app in CLIENTS}
        for _ in range(repetitions):
            for app in CLIENTS:
                runs[app]["now"].append(_once(REPO, app))
                if before is not None:
                    runs[app]["before"].append(_once(before, app))
    return {
        "repetitions": repetitions,
        "round_start": ROUND_START,
        "apps": {app: _medians(times) for app, times in runs.items()},
    }


def _medians(times: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, samples in times.items():
        if samples:
            out[f"{label}_import"] = statistics.median(s["import"] for s in samples)
            out[f"{label}_clients"] = statistics.median(s["clients"] for s in samples)
            out[label] = statistics.median(s["import"] + s["clients"] for s in samples)
        else:
            out[label] = None
    return out


def _once(root: Path, app: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")} | ENV
    script = SCRIPT.format(root=str(root), app=app, services=CLIENTS[app])
    return json.loads(subprocess.check_output([sys.executable, "-c", script], text=True, env=env, cwd=root))


def _round_start_tree(scratch: Path) -> Path | None:
    """Today's apps and shared code, with the client module as it was at the round's start."""
    try:
        old = subprocess.check_output(
            ["git", "show", f"{ROUND_START}:{CLIENT_MODULE}"], cwd=REPO, text=True, stderr=subprocess.DEVNULL
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    tree = scratch / "round-start"
    for part in ("chalicelib_shared", *CLIENTS):
        shutil.copytree(REPO / part, tree / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / CLIENT_MODULE).write_text(old)
    return tree
