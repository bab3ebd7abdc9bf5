"""The stage bootstrap writes into each app's Chalice project.

* ``stages.<stage>.environment_variables``: the app's configuration;
* ``manage_iam_role: false`` and ``iam_role_arn``: every function runs as the
  role bootstrap made (Chalice uses a pre-created role for every function on
  both paths: ``chalice deploy`` passes the ARN to CreateFunction, ``chalice
  package`` writes it as each function's ``Role``);
* ``.chalice/function-names-<stage>.json``, a template for ``chalice package
  --merge-template``: it gives each function in the SAM template the name
  ``chalice deploy`` gives it (``<app>-<stage>-<handler>``), and the poller's
  schedule rule its name too (``<function>-event``), where CloudFormation would
  otherwise make names up. So the role's log and poller statements, the poller
  alarm and ``POLLER_RULE`` name what exists whichever way the app is deployed;
* ``.chalice/role-policy-<stage>.json``: the role's policy as bootstrap set it,
  a record to review in a diff (Chalice doesn't read it; ``draco package``
  takes the stage's Region from it).

Each file is replaced atomically and only when it changes, in a stable layout
(indent 2, trailing newline). Every other key and stage of config.json is kept.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from draco.bootstrap.models import Deployment

# Written by earlier versions of bootstrap, in place of the role it now makes.
_REPLACED_KEYS = ("autogen_policy", "iam_policy_file")


def merge_template_name(stage: str) -> str:
    return f"function-names-{stage}.json"


def role_policy_name(stage: str) -> str:
    return f"role-policy-{stage}.json"


def merge_template(deployment: Deployment) -> dict[str, Any]:
    """The SAM fragment naming each function, and the poller's rule, as ``chalice deploy`` does.

    The keys are Chalice's own resource names (``to_cfn_resource_name`` of the handler,
    and of ``<handler>-event`` for a schedule); Chalice deep-merges this over its template.
    """
    from chalice.utils import to_cfn_resource_name  # only when writing: the CLI registers without Chalice

    resources: dict[str, Any] = {
        to_cfn_resource_name(handler): {"Properties": {"FunctionName": name}}
        for handler, name in deployment.functions.items()
    }
    event = {to_cfn_resource_name(f"{deployment.poller}-event"): {"Properties": {"Name": deployment.poller_rule}}}
    resources[to_cfn_resource_name(deployment.poller)]["Properties"]["Events"] = event
    return {"Resources": resources}


def write_stage_config(
    app_dir: Path, stage: str, env: Mapping[str, str], deployment: Deployment | None = None
) -> list[Path]:
    """Merge ``env`` (and, with ``deployment``, the role and the names) into the app's stage; the files changed.

    The files the stage names are written before config.json, so it never names a missing one.
    """
    chalice_dir = Path(app_dir) / ".chalice"
    path = chalice_dir / "config.json"
    config = json.loads(path.read_text())
    stage_config = config.setdefault("stages", {}).setdefault(stage, {})
    stage_config.setdefault("environment_variables", {}).update(env)
    changed = []
    if deployment is not None:
        for name, value in (
            (merge_template_name(stage), merge_template(deployment)),
            (role_policy_name(stage), deployment.role_policy),
        ):
            if _write_if_changed(chalice_dir / name, _text(value)):
                changed.append(chalice_dir / name)
        for key in _REPLACED_KEYS:
            stage_config.pop(key, None)
        stage_config["manage_iam_role"] = False
        stage_config["iam_role_arn"] = deployment.role_arn
        for handler, role_arn in deployment.function_roles.items():  # run_drills: the drill role
            stage_config.setdefault("lambda_functions", {}).setdefault(handler, {})["iam_role_arn"] = role_arn
    if _write_if_changed(path, _text(config)):
        changed.append(path)
    return changed


def would_change(path: Path, value: Any) -> str:
    """How writing ``value`` would change ``path``: new file, changed or unchanged (for dry runs)."""
    if not path.is_file():
        return "new file"
    return "unchanged" if path.read_text() == _text(value) else "changed"


def _text(value: Any) -> str:
    return json.dumps(value, indent=2) + "\n"


def _write_if_changed(path: Path, text: str) -> bool:
    """Replace ``path`` atomically with ``text``; ``False`` when it already says that."""
    if path.is_file() and path.read_text() == text:
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
    return True
