"""Operator commands on the job tables: ``jobs``, ``retry`` and ``backfill``.

* ``python -m draco jobs [--failed] [--account consumer|producer]`` lists an
  app's jobs (a Scan with paging: fine for an operator, never done by the apps).
* ``python -m draco retry JOB`` / ``--all-failed`` moves failed jobs back to the
  state they failed in (``failed_from``), with ``attempts=0``, ``due=now`` and no
  reason, by the same conditional write the apps use (``JobTable.advance``), so a
  retry never races a running poller: if the job moved meanwhile, nothing happens.
  The next poll round picks the job up (a queued copy waits for a copy slot as any
  other). A job without ``failed_from`` (failed before DRACO recorded it) can't be
  retried: its state is unknown.
* ``python -m draco backfill [--since 30d] [--source NAME]``, in production, asks
  DR about existing snapshots that have no job yet: the producer's own ``sweep``
  with a window, run with the operator's credentials and the stage's producer
  environment. Copies start only through the copy slots of ``pipeline.py``, so the
  copy limits hold; a snapshot with a job in any state is left alone, so a second
  run queues nothing. In DR, the copy of a snapshot taken more than
  ``provenance.WINDOW`` (12 hours) before DR heard of it is add-only: kept and
  thinned by its lifecycle, but it never displaces a copy DR already keeps.

The helpers here (stage environment, session, Scan, one-line errors) are shared
with ``draco.status``. Every expected failure is one line on stderr saying what
to do next, and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound
from rich.console import Console
from rich.table import Table

from chalicelib_shared import clock
from chalicelib_shared.config import CONSUMER_TABLE, PRODUCER_TABLE, WAKE_RULE, ProducerConfig
from chalicelib_shared.handlers import make_producer
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import Snapshot, SnapshotKind
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.producer import Producer
from draco.app_folders import app_folder

APP_DIRS = {"producer": app_folder("producer"), "consumer": app_folder("consumer")}
DEFAULT_TABLES = {"producer": PRODUCER_TABLE, "consumer": CONSUMER_TABLE}


class OperatorError(Exception):
    """An expected failure; the message is one line that says what to do next."""


# --------------------------------------------------------------------------- shared helpers


def app_dir(app: str, override: Path | None = None) -> Path:
    """The app's Chalice project folder: ``--app-dir``, else the one in the checkout this package runs from.

    ``python -m draco`` from a checkout, and ``draco`` from an editable install
    (``pip install -e .``), find the checkout's folders from any working folder;
    ``pip install .`` the installed ones (``draco.app_folders``).
    """
    folder = override or APP_DIRS[app]
    config = folder / ".chalice" / "config.json"
    if not config.is_file():
        if override:
            raise OperatorError(f"{config} not found: --app-dir must be the {app}_app folder of a DRACO checkout")
        raise OperatorError(
            f"{config} not found: pass --app-dir with the {app}_app folder of your DRACO checkout, "
            "or install DRACO from its checkout (pip install -e .)"
        )
    return folder


def stage_config(app: str, stage: str, folder: Path | None = None) -> dict[str, Any]:
    """The stage's block of ``<app>_app/.chalice/config.json``."""
    path = app_dir(app, folder) / ".chalice" / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise OperatorError(f"cannot read {path}: {err}") from None
    stage_config = config.get("stages", {}).get(stage)
    if stage_config is None:
        raise OperatorError(
            f"stage {stage!r} is not in {path}: pass --stage, or run python -m draco bootstrap {app} --stage {stage}"
        )
    return stage_config


def stage_env(app: str, stage: str, folder: Path | None = None) -> dict[str, str]:
    """The stage's Lambda environment from ``<app>_app/.chalice/config.json``."""
    env = stage_config(app, stage, folder).get("environment_variables") or {}
    return {str(k): str(v) for k, v in env.items()}


def session_for(args: argparse.Namespace) -> boto3.Session:
    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise OperatorError("no AWS region: pass --region, or set it in the profile or AWS_DEFAULT_REGION")
    return session


def scan_items(table: Any) -> list[dict[str, Any]]:
    """Every item of a job table (a boto3 ``Table``), page by page: jobs, slots, source records."""
    params: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    while True:
        page = table.scan(**params)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scan_jobs(table: Any) -> list[Job]:
    """Every job of a job table; slot, counter and source items are skipped."""
    return [Job.from_item(item) for item in scan_items(table) if "state" in item]


def common_options(parser: argparse.ArgumentParser, *, table: bool = True) -> None:
    parser.add_argument("--profile", help="AWS profile (default: the environment's credentials)")
    parser.add_argument("--region", help="AWS region (default: the profile's)")
    parser.add_argument("--stage", default="dev", help="Chalice stage whose environment to read (default: dev)")
    if table:
        parser.add_argument("--table", help="job table name (default: JOB_TABLE of the stage)")
    parser.add_argument(
        "--app-dir",
        type=Path,
        metavar="DIR",
        help="the app's Chalice folder whose .chalice/config.json names the stage (default: the checkout's)",
    )


def guarded(command: str, run: Callable[[], int]) -> int:
    """Run a command; expected failures become one line on stderr and exit code 2."""
    try:
        return run()
    except OperatorError as err:
        return fail(command, str(err))
    except ProfileNotFound:
        raise  # the same for every command: draco.cli says it
    except NoCredentialsError:
        return fail(command, "no AWS credentials found: pass --profile, or set AWS_PROFILE or AWS_ACCESS_KEY_ID")
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ResourceNotFoundException":
            hint = "check --region, --stage and --table, or run python -m draco bootstrap first"
        elif "AccessDenied" in code or "Unauthorized" in code or code == "ExpiredTokenException":
            hint = "use credentials of the right account with read access (--profile)"
        else:
            hint = "check --profile and --region, then run again"
        return fail(command, f"AWS refused {err.operation_name}: {code}: {error.get('Message', '')} ({hint})")
    except BotoCoreError as err:
        return fail(command, f"AWS error: {err} (check --profile, --region and the network, then run again)")
    except (ValueError, OSError) as err:
        return fail(command, str(err))


def fail(command: str, message: str) -> int:
    print(f"draco {command}: {message}", file=sys.stderr)
    return 2


def _stderr() -> Console:
    return Console(stderr=True)


# --------------------------------------------------------------------------- jobs


def select_jobs(
    jobs: Iterable[Job], *, failed: bool = False, state: str | None = None, source: str | None = None
) -> list[Job]:
    """The jobs asked for, newest change first."""
    chosen = [
        job
        for job in jobs
        if (not failed or job.state is State.FAILED)
        and (state is None or job.state.value == state)
        and (source is None or job.source_name == source)
    ]
    return sorted(chosen, key=lambda job: (job.updated, job.job_id), reverse=True)


def job_json(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "state": job.state.value,
        "kind": job.kind,
        "source_acct": job.source_acct,
        "source_name": job.source_name,
        "source_id": job.source_id,
        "source_time": job.source_time,
        "attempts": job.attempts,
        "failed_from": job.failed_from,
        "reason": job.reason,
        "updated": job.updated,
        "due": job.due,
    }


def jobs_table(jobs: list[Job], title: str) -> Table:
    table = Table(title=title)
    for column in ("job", "state", "kind", "source", "source time", "attempts", "updated", "reason"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        state = f"{job.state.value} (from {job.failed_from})" if job.failed_from and job.state is State.FAILED else ""
        table.add_row(
            job.job_id,
            state or job.state.value,
            job.kind,
            job.source_name,
            job.source_time,
            str(job.attempts),
            job.updated,
            job.reason,
        )
    return table


def _stage(args: argparse.Namespace) -> dict[str, str]:
    """The app's stage environment; none read when ``--table`` names the table."""
    return {} if args.table else stage_env(args.account, args.stage, args.app_dir)


def _job_table(args: argparse.Namespace, session: boto3.Session, env: dict[str, str]) -> tuple[str, Any]:
    name = args.table or env.get("JOB_TABLE") or DEFAULT_TABLES[args.account]
    return name, session.resource("dynamodb").Table(name)


def _run_jobs(args: argparse.Namespace) -> int:
    def run() -> int:
        session = session_for(args)
        name, table = _job_table(args, session, _stage(args))
        with _stderr().status(f"reading {name}", spinner="dots"):
            jobs = select_jobs(scan_jobs(table), failed=args.failed, state=args.state, source=args.source)
        if args.json:
            print(json.dumps([job_json(job) for job in jobs], indent=2))
        else:
            Console().print(jobs_table(jobs, f"{len(jobs)} job(s) in {name} ({args.account})"))
        return 0

    return guarded("jobs", run)


# --------------------------------------------------------------------------- retry


def retry(jobs: JobTable, job_id: str) -> Job:
    """Move one failed job back to the state it failed in; raises ``OperatorError`` otherwise."""
    job = jobs.get(job_id)
    if job is None:
        raise OperatorError(f"no job {job_id!r} in this table (see python -m draco jobs --failed)")
    if job.state is not State.FAILED:
        raise OperatorError(f"job {job_id} is {job.state.value}, not failed: nothing to retry")
    try:
        resume = State(job.failed_from)
    except ValueError:
        raise OperatorError(
            f"job {job_id} has no recorded state to resume from (failed_from={job.failed_from!r}); "
            f"it can't be retried: start a new copy with python -m draco backfill --source {job.source_name}"
        ) from None
    if not resume.is_active:
        raise OperatorError(f"job {job_id} failed from {resume.value}, which is not a state a job can resume in")
    moved = jobs.advance(job, resume, due=clock.now(), attempts=0, reason="")
    if moved is None:
        raise OperatorError(f"job {job_id} changed while retrying it; look again with python -m draco jobs")
    return moved


@dataclass
class RetryOutcome:
    retried: list[Job] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (job id, why)


def retry_all_failed(jobs: JobTable, failed: Iterable[Job]) -> RetryOutcome:
    outcome = RetryOutcome()
    for job in failed:
        try:
            outcome.retried.append(retry(jobs, job.job_id))
        except OperatorError as err:
            outcome.refused.append((job.job_id, str(err)))
    return outcome


def _wake_up(env: dict[str, str], session: boto3.Session) -> None:
    """A retried job has work again: the app's hourly wake-up must run, so its rule is enabled where
    it may rest (production's ``WAKE_RULE``, see ``chalicelib_shared.pacing``)."""
    if env.get(WAKE_RULE):
        session.client("events").enable_rule(Name=env[WAKE_RULE])


def _run_retry(args: argparse.Namespace) -> int:
    def run() -> int:
        if bool(args.job) == bool(args.all_failed):
            raise OperatorError("name one JOB, or pass --all-failed")
        session, env = session_for(args), _stage(args)
        _, table = _job_table(args, session, env)
        jobs = JobTable(table, inventory=args.account == "consumer")
        if args.job:
            moved = retry(jobs, args.job)
            _wake_up(env, session)
            print(f"{moved.job_id}: failed -> {moved.state.value}; the next poll round picks it up")
            return 0
        with _stderr().status("retrying failed jobs", spinner="dots"):
            outcome = retry_all_failed(jobs, select_jobs(scan_jobs(table), failed=True))
        if outcome.retried:
            _wake_up(env, session)
        for job in outcome.retried:
            print(f"{job.job_id}: failed -> {job.state.value}")
        for _, why in outcome.refused:
            print(f"draco retry: {why}", file=sys.stderr)
        print(f"retried {len(outcome.retried)} job(s), {len(outcome.refused)} could not be retried")
        return 2 if outcome.refused else 0

    return guarded("retry", run)


# --------------------------------------------------------------------------- backfill


_SINCE = re.compile(r"^(\d+)d?\Z")


def parse_since(text: str) -> int:
    """``30d`` or ``30``: a whole number of days, 1 to 3660."""
    match = _SINCE.match(text.strip())
    if not match or not 1 <= int(match[1]) <= 3660:
        raise OperatorError(f"--since {text!r}: give days, from 1d to 3660d (e.g. 30d)")
    return int(match[1])


class _RecordingProducer(Producer):
    """The producer, remembering the snapshots its sweep asked DR about."""

    queued: list[Snapshot]
    on_queued: Callable[[Snapshot], None] | None = None

    def snapshot_created(self, kind: SnapshotKind, snapshot: Snapshot) -> Result:
        result = super().snapshot_created(kind, snapshot)
        if result.outcome is Outcome.COPY_REQUESTED:
            self.queued.append(snapshot)
            if self.on_queued:
                self.on_queued(snapshot)
        return result


def build_producer(session: boto3.Session, env: dict[str, str]) -> _RecordingProducer:
    """The producer service as ``handlers.producer()`` builds it, on the operator's session."""
    config = ProducerConfig.from_env(env)
    if config.problems:
        raise OperatorError(
            "the stage's producer environment is not usable ("
            + "; ".join(config.problems)
            + "): run python -m draco bootstrap producer for this stage"
        )
    client = lambda service, region: session.client(service, region_name=region)  # noqa: E731
    table = session.resource("dynamodb").Table(config.job_table)
    built = make_producer(config, client, table, session.region_name)
    producer = _RecordingProducer(**{f.name: getattr(built, f.name) for f in dataclasses.fields(built) if f.init})
    producer.queued = []
    return producer


def backfill(
    session: boto3.Session,
    env: dict[str, str],
    days: int,
    source: str | None = None,
    on_queued: Callable[[Snapshot], None] | None = None,
) -> tuple[dict[str, int], list[Snapshot]]:
    """Ask DR about every snapshot of the last ``days`` (of ``source``) without a job: (counts, queued)."""
    producer = build_producer(session, env)
    producer.on_queued = on_queued
    counts = producer.sweep(days=days, source=source)
    return counts, producer.queued


def _run_backfill(args: argparse.Namespace) -> int:
    def run() -> int:
        days = parse_since(args.since)
        env = stage_env("producer", args.stage, args.app_dir)
        session = session_for(args)
        err = _stderr()
        with err.status(f"looking for snapshots of the last {days} days without a DRACO job", spinner="dots") as spin:
            counts, queued = backfill(
                session, env, days, args.source, on_queued=lambda s: spin.update(f"queued {s.snapshot_id}")
            )
        for snapshot in sorted(queued, key=lambda s: (s.source_name, s.created)):
            print(f"queued {snapshot.snapshot_id} ({snapshot.source_name}, taken {clock.iso(snapshot.created)})")
        scope = f" of {args.source}" if args.source else ""
        print(
            f"backfill{scope}: {counts.get('seen', 0)} snapshot(s) in the last {days} days, "
            f"{len(queued)} queued; copies start as copy slots free"
        )
        if counts.get("errors"):
            print(f"draco backfill: {counts['errors']} snapshot(s) could not be queued (AWS errors); run it again")
            return 2
        return 0

    return guarded("backfill", run)


# --------------------------------------------------------------------------- CLI


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    jobs = subparsers.add_parser("jobs", help="list an app's copy jobs (DR: consumer, production: producer)")
    jobs.add_argument("--account", choices=("consumer", "producer"), default="consumer", help="whose job table")
    jobs.add_argument("--failed", action="store_true", help="only failed jobs")
    jobs.add_argument("--state", choices=[s.value for s in State], help="only jobs in this state")
    jobs.add_argument("--source", metavar="NAME", help="only jobs of this source database")
    jobs.add_argument("--json", action="store_true", help="print the jobs as JSON")
    common_options(jobs)
    jobs.set_defaults(func=_run_jobs)

    again = subparsers.add_parser("retry", help="move failed jobs back to where they failed")
    again.add_argument("job", nargs="?", metavar="JOB", help="the job id (see python -m draco jobs --failed)")
    again.add_argument("--all-failed", action="store_true", help="retry every failed job of the table")
    again.add_argument("--account", choices=("consumer", "producer"), default="consumer", help="whose job table")
    common_options(again)
    again.set_defaults(func=_run_retry)

    fill = subparsers.add_parser("backfill", help="queue copies of existing production snapshots DR lacks")
    fill.add_argument("--since", default="30d", help="how far back to look, in days (default 30d)")
    fill.add_argument("--source", metavar="NAME", help="only snapshots of this DB instance or cluster")
    common_options(fill, table=False)
    fill.set_defaults(func=_run_backfill)
