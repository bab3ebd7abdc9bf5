"""``chalice package`` for both apps: what goes into each Lambda bundle, and the templates.

Slow (``chalice package`` downloads the wheels named in each app's requirements.txt
from PyPI, ~20-40 s for both apps, run in parallel): marked ``packaging``, so
``pytest -m "not packaging"`` leaves it out; it runs by default.

Each app is packaged as ``python -m draco package`` packages it (``draco.package``: a
clean copy of its folder, the vendor symlink resolved, no bytecode, no AWS credentials,
and ``--merge-template`` with the function names bootstrap wrote), with the stage
written as bootstrap writes it (environment, ``manage_iam_role: false`` with the role
bootstrap makes, ``function-names-<stage>.json`` and the role's policy record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib_shared import config as cfg
from draco import bootstrap, package
from draco.bootstrap.instructions import resolve
from draco.bootstrap.models import Deployment, consumer_stack, producer_stack
from draco.bootstrap.names import Account
from draco.bootstrap.options import consumer_options, producer_options

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parent.parent
PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"
STAGE = "ci"
# What the Lambda Python runtime provides besides the standard library (boto3 and its dependencies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

APPS = {
    "producer": {
        "topic": cfg.PRODUCER_TOPIC,
        "handler": "on_producer_topic",
        # function -> (resource name in the template, timeout, reserved concurrency, schedule)
        "functions": {
            "on_producer_topic": ("OnProducerTopic", 120, None, None),
            "poll_jobs": ("PollJobs", 300, None, "rate(1 minute)"),  # no reservation: see _settings_explained
            "wake_poller": ("WakePoller", 60, None, "rate(1 hour)"),
            "sweep_snapshots": ("SweepSnapshots", 300, None, "rate(6 hours)"),
        },
        "env": {
            cfg.DR_ACCT: DR,
            cfg.OUTBOX_TOPIC_ARN: f"arn:aws:sns:{REGION}:{PROD}:{cfg.OUTBOX_TOPIC}",
            cfg.TRANSIT_KEY_ARN: f"arn:aws:kms:{REGION}:{PROD}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            cfg.TAG_KEY: cfg.DEFAULT_TAG_KEY,
            cfg.TAG_VALUE: cfg.DEFAULT_TAG_VALUE,
            cfg.JOB_TABLE: cfg.PRODUCER_TABLE,
            cfg.POLLER_RULE: f"draco-producer-{STAGE}-poll_jobs-event",
            cfg.WAKE_RULE: f"draco-producer-{STAGE}-wake_poller-event",
            cfg.TRANSIT_LIMIT: "10",
            cfg.TRANSIT_KEEP_DAYS: "7",
        },
    },
    "consumer": {
        "topic": cfg.CONSUMER_TOPIC,
        "handler": "on_consumer_topic",
        "functions": {
            "on_consumer_topic": ("OnConsumerTopic", 120, None, None),
            "on_inbox": ("OnInbox", 120, None, None),
            "poll_jobs": ("PollJobs", 300, None, "rate(1 minute)"),
            "wake_poller": ("WakePoller", 60, None, "rate(1 hour)"),
            "run_drills": ("RunDrills", 300, None, "rate(10 minutes)"),
        },
        "env": {
            cfg.SOURCE_ACCTS: PROD,
            cfg.SOURCE_ORG: "",
            cfg.SOURCE_OUS: "",
            cfg.TAG_KEY: cfg.DEFAULT_TAG_KEY,
            cfg.TAG_VALUE: cfg.DEFAULT_TAG_VALUE,
            cfg.NO_DRY_RUN: "",
            cfg.DEFAULT_LIFECYCLE: "",
            cfg.CUSTOM_LIFECYCLES: "",
            cfg.JOB_TABLE: cfg.CONSUMER_TABLE,
            cfg.PRODUCER_TOPIC_NAME: cfg.PRODUCER_TOPIC,
            cfg.CONSUMER_ROLE_ARN: f"arn:aws:iam::{DR}:role/draco-consumer-{STAGE}",
            cfg.POLLER_RULE: f"draco-consumer-{STAGE}-poll_jobs-event",
            cfg.DRILL_RULE: f"draco-consumer-{STAGE}-run_drills-event",
            cfg.SOURCE_REGION: "",
            cfg.RETENTION_LOCK: "on",
            cfg.MIN_KEEP: "3",
            cfg.KEY_CAP: "10",
            cfg.MAX_KEEP: "40",
            cfg.RPO_HOURS: "26",
            cfg.KEY_SCOPE: "database",
        },
    },
}


def deployment(kind: str) -> Deployment:
    """The role, the names and the role's policy bootstrap writes for the app (the transit key as in its env)."""
    if kind == "producer":
        stack = producer_stack(producer_options(REGION, DR, stage=STAGE), Account("aws", PROD, REGION))
    else:
        stack = consumer_stack(consumer_options(REGION, [PROD], stage=STAGE), Account("aws", DR, REGION))
    assert (
        resolve(dict(stack.env), {"transit key.arn": APPS[kind]["env"].get(cfg.TRANSIT_KEY_ARN, "")})
        == APPS[kind]["env"]
    )
    known = {"transit key.arn": APPS["producer"]["env"][cfg.TRANSIT_KEY_ARN]}
    return replace(stack.deployment, role_policy=resolve(stack.deployment.role_policy, known))


def clean_copy(kind: str, dest: Path) -> Path:
    """The app folder with its vendor symlink resolved and no bytecode, bootstrapped for STAGE."""
    app_dir = package.clean_copy(REPO / f"{kind}_app", dest)
    bootstrap.write_stage_config(app_dir, STAGE, APPS[kind]["env"], deployment(kind))
    return app_dir


@dataclass
class Packaged:
    kind: str
    out: Path
    seconds: float

    @property
    def bundle(self) -> Path:
        return self.out / "deployment.zip"

    @property
    def template(self) -> dict[str, Any]:
        return json.loads((self.out / "sam.json").read_text())

    def names(self) -> list[str]:
        with zipfile.ZipFile(self.bundle) as zf:
            return zf.namelist()


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Packaged]]:
    """Both apps bootstrapped for STAGE and packaged by ``python -m draco package`` (CloudFormation/SAM),
    in parallel, from another folder than the checkout."""
    root = tmp_path_factory.mktemp("packaging")
    started = time.monotonic()
    running = {}
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    for kind in APPS:
        app_dir = clean_copy(kind, root)
        command = ["package", kind, "--stage", STAGE, "--out", f"{kind}-out", "--app-dir", str(app_dir)]
        running[kind] = subprocess.Popen(
            [sys.executable, "-m", "draco", *command],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    results = {}
    for kind, process in running.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, f"draco package failed for {kind}:\n{output}"
        assert f"packaged {kind}_app stage {STAGE} for {REGION} into {root / f'{kind}-out'}" in output
        results[kind] = Packaged(kind, root / f"{kind}-out", time.monotonic() - started)
    yield results


@pytest.mark.parametrize("kind", APPS)
def test_bundle_holds_the_app_and_powertools_but_no_tests_bytecode_or_boto3(packaged, kind: str) -> None:
    result = packaged[kind]
    names = result.names()
    size = result.bundle.stat().st_size
    print(f"\n{kind} deployment.zip: {size / 1e6:.2f} MB, {len(names)} files (packaged in {result.seconds:.0f} s)")
    tops = {name.split("/")[0] for name in names}
    assert "app.py" in names
    shared = {f"chalicelib_shared/{module.name}" for module in (REPO / "chalicelib_shared").glob("*.py")}
    assert shared <= set(names) and "chalicelib_shared/handlers.py" in shared
    assert "chalice/app.py" in names  # Chalice packs its runtime; app.py imports it from the bundle
    assert "aws_lambda_powertools" in tops
    assert not tops & {"boto3", "botocore", "s3transfer", "moto", "pytest", "tests", "draco"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[0] != "chalice" and "/tests/" in f"/{n}"]
    assert not [n for n in names if Path(n).name.startswith("test_")]
    assert size < 20e6, "the bundle has grown past 20 MB: check what requirements.txt pulls in"


@pytest.mark.parametrize("kind", APPS)
def test_app_imports_from_the_bundle_and_boto3_alone(packaged, kind: str, tmp_path: Path) -> None:
    """As on Lambda: the bundle, plus the boto3 the runtime provides, and nothing else."""
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(packaged[kind].bundle) as zf:
        zf.extractall(bundle)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        module = __import__(name)
        source = Path(module.__file__)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    probe = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(bundle)!r}, {str(runtime)!r}]
        import app
        import chalice, chalicelib_shared, aws_lambda_powertools
        for module in (app, chalice, chalicelib_shared, aws_lambda_powertools):
            assert module.__file__.startswith({str(bundle)!r}), module.__file__
        print(sorted(app.app.handler_map))
        """
    )
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": REGION, "PYTHONDONTWRITEBYTECODE": "1"}
    # -I: isolated (no user site, no PYTHONPATH); -S: no site-packages at all.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(sorted(APPS[kind]["functions"]))


@pytest.mark.parametrize("kind", APPS)
def test_template_subscribes_the_topic_schedules_the_poller_and_uses_the_role(packaged, kind: str) -> None:
    resources = packaged[kind].template["Resources"]
    by_type: dict[str, dict[str, Any]] = {}
    for name, resource in resources.items():
        by_type.setdefault(resource["Type"], {})[name] = resource
    functions = by_type["AWS::Serverless::Function"]
    expected = APPS[kind]["functions"]
    assert set(functions) == {name for name, *_ in expected.values()}
    role = deployment(kind)
    for handler, (name, timeout, concurrency, schedule) in expected.items():
        properties = functions[name]["Properties"]
        assert properties["Handler"] == f"app.{handler}"
        # The names chalice deploy gives, and the role bootstrap made: both known before deploy.
        assert properties["FunctionName"] == role.functions[handler] == f"draco-{kind}-{STAGE}-{handler}"
        own = "draco-drill" if handler == "run_drills" else f"draco-{kind}"  # the drill runs as its own role
        assert (
            properties["Role"]
            == role.function_roles.get(handler, role.role_arn)
            == f"arn:aws:iam::{PROD if kind == 'producer' else DR}:role/{own}-{STAGE}"
        )
        assert properties["Timeout"] == timeout and properties["MemorySize"] == 256
        assert properties.get("ReservedConcurrentExecutions") == concurrency
        assert properties["Environment"]["Variables"] == APPS[kind]["env"]
        events = properties.get("Events", {}).values()
        schedules = [e["Properties"]["Schedule"] for e in events if e["Type"] == "Schedule"]
        assert schedules == ([schedule] if schedule else [])
    # The poller's rule has the name chalice deploy gives it, which the app switches (POLLER_RULE).
    (poller_event,) = functions["PollJobs"]["Properties"]["Events"].values()
    assert poller_event["Properties"]["Name"] == APPS[kind]["env"][cfg.POLLER_RULE] == role.switched["poll_jobs"]
    if kind == "producer":  # and production's wake-up's (WAKE_RULE), which rests while no job has work left
        (wake_event,) = functions["WakePoller"]["Properties"]["Events"].values()
        assert wake_event["Properties"]["Name"] == APPS[kind]["env"][cfg.WAKE_RULE] == role.switched["wake_poller"]

    # The topic handler is subscribed to the app's own topic, once.
    on_topic = functions[expected[APPS[kind]["handler"]][0]]["Properties"]
    sns_events = [e for e in on_topic["Events"].values() if e["Type"] == "SNS"]
    assert len(sns_events) == 1
    assert sns_events[0]["Properties"]["Topic"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{APPS[kind]['topic']}"
    }

    # The role is bootstrap's: the template makes none.
    assert "AWS::IAM::Role" not in by_type

    # Each log group is named after its function, so /aws/lambda/<app>-<stage>-<handler>.
    log_groups = by_type["AWS::Logs::LogGroup"].values()
    assert [g["Properties"]["RetentionInDays"] for g in log_groups] == [90] * len(functions)
    assert sorted(g["Properties"]["LogGroupName"]["Fn::Sub"] for g in log_groups) == sorted(
        f"/aws/lambda/${{{name}}}" for name in functions
    )


@pytest.mark.parametrize("kind", APPS)
def test_template_passes_cfn_lint(packaged, kind: str) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run(
        [str(cfn_lint), "--regions", REGION, "--", str(packaged[kind].out / "sam.json")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
