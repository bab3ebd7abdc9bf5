"""``python -m draco package producer|consumer --stage S --out DIR``: ``chalice package``, done safely.

What it adds to running ``chalice package`` in the app folder:

* **It refuses a stage bootstrap hasn't written**: one without environment
  variables, without the role bootstrap made (``manage_iam_role: false`` and
  ``iam_role_arn``) or without the files bootstrap writes beside it, which
  Chalice would package anyway into functions that do nothing (invalid
  configuration) or into a role with a generated policy.
* **Functions are named as ``chalice deploy`` names them**: it passes Chalice
  ``--merge-template`` with bootstrap's ``function-names-<stage>.json``, so the
  names the role's policy, the alarms and ``POLLER_RULE`` use exist.
* **The Region comes from the stage**: Chalice needs one to package, and the
  stage's settings already name it, in the ARNs bootstrap wrote of the app's
  own resources (the job table in the record of the role's policy; the
  producer's ``TRANSIT_KEY_ARN``). Settings naming two Regions are refused.
* **It packages a clean copy** of the app folder: the ``vendor/chalicelib_shared``
  symlink resolved into a real folder, no ``__pycache__``/``*.pyc`` and no earlier
  ``deployments``, and ``PYTHONDONTWRITEBYTECODE=1`` for Chalice, which imports
  ``app.py`` before it zips ``vendor/`` and would otherwise write bytecode into the
  very folder it packs. A developer's checkout where tests ran is full of
  ``__pycache__``; a copy keeps it out whatever the checkout holds.
  ``tests/test_packaging.py`` packages both apps through the same functions.

``chalice package`` needs no credentials: the operator's ``AWS_*`` variables are
left out of its environment, so a stale profile can't get in the way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from chalicelib_shared.config import JOB_TABLE, TRANSIT_KEY_ARN
from draco import ops
from draco.bootstrap.chalice_config import merge_template_name, role_policy_name

#: What a release copy leaves out: bytecode, Chalice's earlier packages and its local venv.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "deployments", "venv")
_ARN = re.compile(r"^arn:[^:]+:[^:]+:([a-z]{2}(?:-[a-z]+)+-\d+):")


def clean_copy(app_dir: Path, dest: Path) -> Path:
    """A copy of the Chalice project ``app_dir`` in ``dest``, symlinks resolved and no bytecode."""
    copy = dest / app_dir.name
    shutil.copytree(app_dir, copy, symlinks=False, ignore=IGNORED)
    return copy


def packaging_env(region: str) -> dict[str, str]:
    """The environment for ``chalice package``: no AWS credentials or profile, the Region, no bytecode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_DEFAULT_REGION=region, PYTHONDONTWRITEBYTECODE="1", AWS_EC2_METADATA_DISABLED="true")
    return env


def chalice_command(stage: str, out: Path) -> list[str]:
    """``chalice package`` for CloudFormation/SAM (``sam.json`` and ``deployment.zip`` in ``out``), run in the app."""
    beside = Path(sys.executable).with_name("chalice")
    chalice = str(beside) if beside.is_file() else shutil.which("chalice")
    if not chalice:
        raise ops.OperatorError("chalice not found: pip install -r requirements-dev.txt")
    names = f".chalice/{merge_template_name(stage)}"
    return [chalice, "package", "--stage", stage, "--pkg-format", "cloudformation", "--merge-template", names, str(out)]


def bootstrapped_stage(app: str, stage: str, app_dir: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The stage's environment and its role's policy, or ``OperatorError`` when bootstrap hasn't written them."""
    config = ops.stage_config(app, stage, app_dir)
    again = f"run python -m draco bootstrap {app} --stage {stage} first"
    env = {str(k): str(v) for k, v in (config.get("environment_variables") or {}).items()}
    if not env:
        raise ops.OperatorError(f"stage {stage!r} of {app_dir} has no environment variables: {again}")
    if config.get("manage_iam_role") is not False or not config.get("iam_role_arn"):
        raise ops.OperatorError(f"stage {stage!r} of {app_dir} doesn't run as the role bootstrap makes: {again}")
    chalice_dir = app_dir / ".chalice"
    for name in (merge_template_name(stage), role_policy_name(stage)):
        if not (chalice_dir / name).is_file():
            raise ops.OperatorError(f"{chalice_dir / name} is missing: {again}")
    policy_path = chalice_dir / role_policy_name(stage)
    try:
        policy = json.loads(policy_path.read_text())
    except (OSError, ValueError) as err:
        raise ops.OperatorError(f"cannot read {policy_path}: {err}") from None
    return env, policy


def _resources(policy: Mapping[str, Any]) -> Iterator[str]:
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        yield from [resources] if isinstance(resources, str) else resources


def stage_region(app: str, env: Mapping[str, str], policy: Mapping[str, Any]) -> str:
    """The Region the stage's bootstrapped settings name (see the module docstring)."""
    table = env.get(JOB_TABLE) or ops.DEFAULT_TABLES[app]
    arns = [arn for arn in _resources(policy) if ":dynamodb:" in arn and arn.endswith(f":table/{table}")]
    arns += [env[TRANSIT_KEY_ARN]] if env.get(TRANSIT_KEY_ARN) else []
    regions = sorted({match[1] for arn in arns if (match := _ARN.match(arn))})
    if len(regions) != 1:
        found = f"name several Regions ({', '.join(regions)})" if regions else "name no Region"
        raise ops.OperatorError(f"the stage's settings {found}: run python -m draco bootstrap {app} again")
    return regions[0]


def package(
    app: str, stage: str, out: Path, app_dir: Path | None = None
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Package a bootstrapped stage into ``out``: (its Region, Chalice's run)."""
    folder = ops.app_dir(app, app_dir)
    env, policy = bootstrapped_stage(app, stage, folder)
    region = stage_region(app, env, policy)
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise ops.OperatorError(f"--out {out}: not a folder")
    if not out.parent.is_dir():
        raise ops.OperatorError(f"--out {out}: there is no folder {out.parent}")
    command = chalice_command(stage, out)
    with tempfile.TemporaryDirectory(prefix="draco-package-") as scratch:
        copy = clean_copy(folder, Path(scratch))
        done = subprocess.run(command, cwd=copy, env=packaging_env(region), capture_output=True, text=True)
    return region, done


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "package",
        help="chalice package a bootstrapped stage from a clean copy of the app (CloudFormation/SAM)",
        description="Writes sam.json and deployment.zip for CloudFormation; refuses a stage bootstrap hasn't written.",
    )
    parser.add_argument("app", choices=("producer", "consumer"), help="which app")
    parser.add_argument("--stage", default="dev", help="the bootstrapped Chalice stage (default: dev)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for sam.json and deployment.zip")
    parser.add_argument(
        "--app-dir", type=Path, metavar="DIR", help="the app's Chalice folder (default: the checkout's <app>_app)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def go() -> int:
        region, done = package(args.app, args.stage, args.out, args.app_dir)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise ops.OperatorError(f"chalice package failed (exit {done.returncode}), its output is above")
        print(f"packaged {args.app}_app stage {args.stage} for {region} into {args.out.resolve()}")
        return 0

    return ops.guarded("package", go)
