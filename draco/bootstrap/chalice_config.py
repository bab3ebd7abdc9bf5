"""The stage bootstrap writes into each app's Chalice project.

* ``stages.<stage>.environment_variables``: the app's configuration;
* ``manage_iam_role: false`` and ``iam_role_arn``: every function runs as the
  role bootstrap made (Chalice uses a pre-created role for every function on
  both paths: ``chalice deploy`` passes the ARN to CreateFunction, ``chalice
  package`` writes it as each function's ``Role``);
* ``.chalice/function-names-<stage>.json``, a template for ``chalice package
  --merge-template``: it gives each function in the SAM template the name
  ``chalice deploy`` gives it (``<app>-<stage>-<handler>``), and each schedule
  rule the app switches (the poller's; production's wake-up's) its name too
  (``<function>-event``), where CloudFormation would otherwise make names up. So
  the role's log and switch statements, the poller alarm, ``POLLER_RULE`` and
  ``WAKE_RULE`` name what exists whichever way the app is deployed;
* ``stages.<stage>.lambda_functions.<fn>.reserved_concurrency``, only when asked
  (``--reserved-concurrency``): none by default, so a new account, whose
  concurrency quota is all unreserved, deploys (see ``_settings_explained``);
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
    """The SAM fragment naming each function, and each rule the app switches, as ``chalice deploy`` does.

    The keys are Chalice's own resource names (``to_cfn_resource_name`` of the handler,
    and of ``<handler>-event`` for a schedule); Chalice deep-merges this over its template.
    """
    from chalice.utils import to_cfn_resource_name  # only when writing: the CLI registers without Chalice

    resources: dict[str, Any] = {
        to_cfn_resource_name(handler): {"Properties": {"FunctionName": name}}
        for handler, name in deployment.functions.items()
    }
    for handler, rule in deployment.switched.items():
        event = {to_cfn_resource_name(f"{handler}-event"): {"Properties": {"Name": rule}}}
        resources[to_cfn_resource_name(handler)]["Properties"]["Events"] = event
    return {"Resources": resources}


def write_stage_config(
    app_dir: Path,
    stage: str,
    env: Mapping[str, str],
    deployment: Deployment | None = None,
    reserved: Mapping[str, int] | None = None,
) -> list[Path]:
    """Merge ``env`` (and, with ``deployment``, the role and the names) into the app's stage; the files changed.

    ``reserved``: reserved concurrency by function name, written into the stage's
    ``lambda_functions`` (``None``: leave the stage's as it is; empty: remove any).
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
    if reserved is not None:
        _reserve(stage_config, reserved)
    if _write_if_changed(path, _text(config)):
        changed.append(path)
    return changed


def _reserve(stage_config: dict[str, Any], reserved: Mapping[str, int]) -> None:
    functions = stage_config.setdefault("lambda_functions", {})
    for settings in functions.values():
        settings.pop("reserved_concurrency", None)
    for name, count in reserved.items():
        functions.setdefault(name, {})["reserved_concurrency"] = count
    for name in [name for name, settings in functions.items() if not settings]:
        del functions[name]
    if not functions:
        del stage_config["lambda_functions"]


def remove_stage(app_dir: Path, stage: str) -> list[Path]:
    """Take the stage bootstrap wrote out of the app's project (``remove``); the files changed or deleted.

    The stage's block of config.json goes (every other stage and key stays), and the two
    files bootstrap wrote beside it. A project without the stage changes nothing.
    """
    chalice_dir = Path(app_dir) / ".chalice"
    changed = []
    for name in (merge_template_name(stage), role_policy_name(stage)):
        if (chalice_dir / name).is_file():
            (chalice_dir / name).unlink()
            changed.append(chalice_dir / name)
    path = chalice_dir / "config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        if config.get("stages", {}).pop(stage, None) is not None and _write_if_changed(path, _text(config)):
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
