"""A local two-account AWS for DRACO: moto, both Chalice apps, SNS delivery, a simulated clock.

What it models, and how:

* **Accounts**: one moto process holds a production and a DR account. The
  world's own clients name their account with moto's ``x-moto-account-id``
  header; each app runs with ``MOTO_ACCOUNT_ID`` in its stage environment, as
  a Lambda runs with its own account's credentials.
* **Bootstrap**: ``draco.bootstrap`` sets both accounts up, and the stage
  environment it returns is written to a ``.chalice/config.json`` per app in a
  scratch folder, from where ``chalice.test.Client`` loads it.
* **SNS to Lambda**: moto does not deliver SNS to Lambda, so each topic gets
  an SQS queue in its own account (moto delivers that) and ``deliver`` hands
  every queued notification to the app's ``@app.on_sns_message`` handler, as
  the SNS event Chalice's test client builds. ``transport`` lets a test drop,
  duplicate or reorder deliveries.
* **Snapshots**: ``add_instance``, ``add_cluster`` and ``add_volume`` create
  production sources; ``take_snapshot`` makes a snapshot and publishes what
  AWS would (an RDS notification, or the EventBridge event as a rule delivers
  it). Copies made by the apps stay in progress for ``copy_time`` of simulated
  time, then are ready, with the copy-finished event AWS sends for their kind
  (unless ``copy_events`` is off). What differs by kind is in one adapter per
  kind (``draco.world_kinds``), never in this module.
* **Time**: ``time-machine`` moves the whole process's clock (moto's
  timestamps and DRACO's alike); ``advance`` runs the pollers every
  ``poll_interval`` of simulated time.
* **moto's gaps**: filled by ``draco.moto_gaps``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import boto3
import time_machine
from boto3.dynamodb.types import TypeSerializer
from chalice.test import Client
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.rds.models import rds_backends
from moto.sqs.models import sqs_backends

from chalicelib_shared import aws, clock
from chalicelib_shared.config import CONSUMER_TABLE, CONSUMER_TOPIC, POLLER_RULE, PRODUCER_TABLE, PRODUCER_TOPIC
from chalicelib_shared.job_table import job_item
from chalicelib_shared.jobs import POLLED_STATES, Job, State
from chalicelib_shared.log import logger
from chalicelib_shared.naming import dr_copy_id
from chalicelib_shared.pipeline import forget_hourly_checks
from draco import bootstrap, moto_gaps
from draco.faults import FaultPlan, Killed, listen, stop
from draco.world_kinds import WORLD_KINDS, Notification, WorldKind

PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
MOTO_ACCOUNT = "MOTO_ACCOUNT_ID"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Delivery:
    """One SNS notification on its way to an app."""

    account: str  # the topic's account, i.e. which app receives it
    subject: str
    message: str


Transport = Callable[[list[Delivery]], list[Delivery]]


@dataclass
class _App:
    account: str
    topic: str
    client: Client
    sns_handler: str
    queue_url: str = ""


@dataclass
class _Copy:
    account: str
    kind: str  # SnapshotType
    snapshot_id: str
    ready_at: datetime


@dataclass
class WorldStats:
    """What happened, counted as it happened (for reports and benchmarks)."""

    invocations: Counter[str] = field(default_factory=Counter)
    #: AWS calls the apps made: (run: "sns" | "poll" | "sweep", account, service, operation)
    calls: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    failed_runs: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)  # wall time spent in app runs, by kind of run
    deliveries: int = 0
    in_flight_peak: Counter[str] = field(default_factory=Counter)


class LocalWorld:
    """Use as a context manager; see the module docstring."""

    def __init__(
        self,
        *,
        live: bool = False,
        default_lifecycle: str = "",
        custom_lifecycles: str = "",
        copy_time: timedelta = timedelta(minutes=15),
        poll_interval: timedelta = timedelta(minutes=1),
        copy_events: bool = True,
        every_poll: bool = False,
        poll_while_busy: bool = False,
        sweep_interval: timedelta = timedelta(hours=6),
        start: datetime = START,
        log_stream: TextIO | None = None,
        transport: Transport | None = None,
        faults: FaultPlan | None = None,
        app_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``app_env``: settings added to each app's environment, e.g. ``{"consumer": {"EBS_LOCK_DAYS": "7"}}``."""
        self.live = live
        self.default_lifecycle = default_lifecycle
        self.custom_lifecycles = custom_lifecycles
        self.copy_time = copy_time
        self.poll_interval = poll_interval
        self.copy_events = copy_events
        self.every_poll = every_poll
        self.poll_while_busy = poll_while_busy
        self.sweep_interval = sweep_interval
        self._next_sweep = start + sweep_interval
        self.start = start
        self.faults = faults
        self.transport: Transport = transport or (faults.transport if faults else (lambda deliveries: deliveries))
        self.stats = WorldStats()
        self._log_stream = log_stream
        self._stack = contextlib.ExitStack()
        self.app_env = app_env or {}
        self.region, self.prod_account = REGION, PROD
        self._clients: dict[tuple[str, str], Any] = {}
        self._apps: dict[str, _App] = {}
        self._sources: dict[str, str] = {}  # source name -> SnapshotType
        self._copies: dict[tuple[str, str, str], _Copy] = {}
        self._unpolled = False  # a copy finished since the pollers last ran: the next run can act on it
        self._known: set[tuple[str, str, str]] = set()
        self._traveller: Any = None
        self._running = ""  # which kind of app run is under way, to label the calls it makes
        self.env: dict[str, dict[str, str]] = {}

    # --- set-up -------------------------------------------------------------
    def __enter__(self) -> LocalWorld:
        stack = self._stack
        stack.enter_context(
            _environment(
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=REGION,
                AWS_REGION=REGION,
                MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # some 1,300 public snapshots and seconds per account
            )
        )
        os.environ.pop(MOTO_ACCOUNT, None)
        stack.enter_context(mock_aws())
        moto_gaps.install()
        stack.callback(moto_gaps.uninstall)
        travel = time_machine.travel(self.start, tick=True)
        self._traveller = travel.start()
        stack.callback(travel.stop)
        if self._log_stream is not None:
            handler = logger.registered_handler
            previous = handler.setStream(self._log_stream)
            stack.callback(handler.setStream, previous)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="draco-world-")))
        aws.forget_clients()
        forget_hourly_checks()
        self._bootstrap(workdir)
        listen(self._on_app_call)
        stack.callback(stop, self._on_app_call)
        return self

    def _on_app_call(self, account: str, service: str, operation: str) -> None:
        self.stats.calls[(self._running, account, service, operation)] += 1
        if self.faults is not None:
            self.faults.before_call(operation)

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _bootstrap(self, workdir: Path) -> None:
        with self.as_account(PROD):
            producer_env = bootstrap.producer(boto3.Session(region_name=REGION), dr_account=DR)
        with self.as_account(DR):
            consumer_env = bootstrap.consumer(
                boto3.Session(region_name=REGION),
                source_accounts=[PROD],
                default_lifecycle=self.default_lifecycle,
                custom_lifecycles=self.custom_lifecycles,
                no_dry_run=self.live,
            )
        self.env = {
            "producer": {**producer_env, **self.app_env.get("producer", {})},
            "consumer": {**consumer_env, **self.app_env.get("consumer", {})},
        }
        for name, account, topic, handler in (
            ("producer", PROD, PRODUCER_TOPIC, "on_producer_topic"),
            ("consumer", DR, CONSUMER_TOPIC, "on_consumer_topic"),
        ):
            project = workdir / name
            (project / ".chalice").mkdir(parents=True)
            shutil.copy(REPO / f"{name}_app" / ".chalice" / "config.json", project / ".chalice" / "config.json")
            env = {**self.env[name], MOTO_ACCOUNT: account, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}
            bootstrap.write_stage_config(project, "local", env)
            if env.get(POLLER_RULE):  # chalice deploy makes the poller's schedule rule, which the app switches
                self.client("events", account).put_rule(Name=env[POLLER_RULE], ScheduleExpression="rate(1 minute)")
            app = importlib.import_module(f"{name}_app.app").app
            self._apps[name] = _App(account, topic, Client(app, stage_name="local", project_dir=str(project)), handler)
            self._subscribe(self._apps[name])

    def _subscribe(self, app: _App) -> None:
        """An SQS queue on the app's topic stands in for the Lambda subscription."""
        sqs, sns = self.client("sqs", app.account), self.client("sns", app.account)
        app.queue_url = sqs.create_queue(QueueName=f"{app.topic}-lambda")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=app.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topic_arn = f"arn:aws:sns:{REGION}:{app.account}:{app.topic}"
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    # --- accounts and clients ----------------------------------------------------
    @contextlib.contextmanager
    def as_account(self, account: str) -> Iterator[None]:
        """Run boto3 calls made inside (by any client) as ``account``."""
        previous = os.environ.get(MOTO_ACCOUNT)
        os.environ[MOTO_ACCOUNT] = account
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(MOTO_ACCOUNT, None)
            else:
                os.environ[MOTO_ACCOUNT] = previous

    def client(self, service: str, account: str) -> Any:
        """A boto3 client that always acts in ``account``."""
        key = (service, account)
        if key not in self._clients:
            made = boto3.client(service, region_name=REGION)
            made.meta.events.register(
                "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
            )
            self._clients[key] = made
        return self._clients[key]

    def jobs(self, account: str) -> list[Job]:
        """Every job in the account's job table, read from moto's memory (no API call)."""
        table = dynamodb_backends[account][REGION].get_table(PRODUCER_TABLE if account == PROD else CONSUMER_TABLE)
        items = (item.to_regular_json() for item in table.all_items())
        return [Job.from_item(item) for item in items if "state" in item]

    # --- production sources and snapshots ------------------------------------------
    def add_instance(self, name: str, tags: dict[str, str] | None = None, encrypted: bool = True) -> None:
        self.add_source("RDS", name, tags, encrypted)

    def add_cluster(
        self, name: str, tags: dict[str, str] | None = None, encrypted: bool = True, engine: str = "aurora-postgresql"
    ) -> None:
        """A DB cluster: Aurora by default; ``engine="neptune"`` makes a Neptune cluster (moto has no DocumentDB)."""
        self.add_source("RDS Cluster", name, tags, encrypted, engine=engine)

    def add_volume(self, name: str = "", tags: dict[str, str] | None = None, encrypted: bool = False) -> str:
        """An EBS volume (``name``: its Name tag); returns its id, the source name to take snapshots of."""
        return self.add_source("EBS", name, tags, encrypted)

    def add_source(
        self, kind: str, name: str, tags: dict[str, str] | None = None, encrypted: bool = True, **options: Any
    ) -> str:
        """A production source of any kind (by SnapshotType); returns its source name."""
        source = WORLD_KINDS[kind].add_source(self, name, tags or {}, encrypted, **options)
        if self._sources.setdefault(source, kind) != kind:
            raise ValueError(f"{source} is a source of kind {self._sources[source]} already")
        return source

    def prod_key(self) -> str:
        """The production sources' own key (not shareable, as aws/rds and aws/ebs aren't)."""
        kms = self.client("kms", PROD)
        aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/prod-databases"]
        if aliases:
            return aliases[0]["TargetKeyId"]
        key = kms.create_key(Description="production databases")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/prod-databases", TargetKeyId=key)
        return key

    def take_snapshot(self, source: str, *, automated: bool = False, notify: bool = True) -> str:
        """Take a snapshot of a source now, as its service would, and publish the service's "created" notice."""
        kind = self._sources.get(source)
        if kind is None:
            raise ValueError(f"{source} is not a source of this world (add_instance, add_cluster, add_volume)")
        snapshot_id, notification = WORLD_KINDS[kind].take(self, PROD, source, automated)
        self._register_existing()
        if notify:
            self.publish(PROD, notification)
        return snapshot_id

    def publish(self, account: str, notification: Notification) -> None:
        """Publish an AWS notification to the account's DRACO topic, as RDS or an EventBridge rule does."""
        topic = PRODUCER_TOPIC if account == PROD else CONSUMER_TOPIC
        subject = {"Subject": notification.subject} if notification.subject else {}
        self.client("sns", account).publish(
            TopicArn=f"arn:aws:sns:{REGION}:{account}:{topic}", Message=json.dumps(notification.body), **subject
        )

    def seed_dr_copies(self, count: int, per_source: int, lifecycle: str = "Standard") -> None:
        """Put ``count`` finished DR copies, ``per_source`` per made-up source, straight into DR.

        For measuring how DRACO's cost grows with the DR inventory without carrying
        each copy through the pipeline: the snapshots and job items are what the
        pipeline would have left (daily copies, one job each, listed in the inventory).
        """
        rds, table = rds_backends[DR][REGION], dynamodb_backends[DR][REGION]
        if "draco-seed" not in rds.databases:
            self.client("rds", DR).create_db_instance(
                DBInstanceIdentifier="draco-seed", Engine="postgres", DBInstanceClass="db.t3.micro",
                AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="not-a-secret-1",
            )  # fmt: skip
        serialize = TypeSerializer().serialize
        for n in range(count):
            source, day = f"seed{n // per_source}", n % per_source
            source_id = f"{source}-{day}"
            copy_id = dr_copy_id(PROD, source_id)
            rds.create_db_snapshot("draco-seed", copy_id)
            job = Job(
                job_id=copy_id, state=State.DONE, kind="RDS", source_acct=PROD,
                source_arn=f"arn:aws:rds:{REGION}:{PROD}:snapshot:{source_id}", source_id=source_id,
                source_name=source, source_time=clock.iso(self.start - timedelta(days=per_source - day)),
                tags={"Draco_Lifecycle": lifecycle},
            )  # fmt: skip
            item = {k: serialize(v) for k, v in job_item(job, inventory=True).items()}
            table.put_item(CONSUMER_TABLE, item)
        self._register_existing()

    # --- running ------------------------------------------------------------------
    def deliver(self) -> int:
        """Hand every queued notification to its app, until no queue has any. Returns how many."""
        delivered = 0
        while True:
            batch = self._drain()
            if not batch:
                return delivered
            for delivery in self.transport(batch):
                self.invoke_sns(delivery.account, delivery.subject, delivery.message)
                delivered += 1

    def _drain(self) -> list[Delivery]:
        batch = []
        for app in self._apps.values():
            sqs = self.client("sqs", app.account)
            while sqs_backends[app.account][REGION].queues[f"{app.topic}-lambda"].messages:
                received = sqs.receive_message(QueueUrl=app.queue_url, MaxNumberOfMessages=10).get("Messages", [])
                for message in received:
                    envelope = json.loads(message["Body"])
                    batch.append(Delivery(app.account, envelope.get("Subject", ""), envelope["Message"]))
                    sqs.delete_message(QueueUrl=app.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return batch

    def invoke_sns(self, account: str, subject: str, message: str) -> Any:
        """Invoke the SNS handler of the app in ``account`` with one notification.

        As Lambda does for an asynchronous invocation, a run that raises or dies
        is tried twice more; after that the notification is gone.
        """
        app = self._app(account)
        event = app.client.events.generate_sns_event(message=message, subject=subject)
        self.stats.deliveries += 1
        return self._run(app, app.sns_handler, event, "sns", tries=3)

    def poll(self) -> None:
        """One scheduled run of both apps' pollers."""
        self._unpolled = False
        for app in self._apps.values():
            self._run(app, "poll_jobs", self._schedule_event(app), "poll", tries=1)

    def sweep(self) -> Any:
        """One scheduled run of the production sweep."""
        app = self._app(PROD)
        return self._run(app, "sweep_snapshots", self._schedule_event(app), "sweep", tries=1)

    @staticmethod
    def _schedule_event(app: _App) -> dict[str, Any]:
        return app.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )

    def _run(self, app: _App, function: str, event: dict[str, Any], label: str, tries: int) -> Any:
        self._running = label
        for _ in range(tries):
            self.stats.invocations[f"{app.topic}:{label}"] += 1
            started = time.perf_counter()
            try:
                with contextlib.redirect_stdout(self._log_stream or sys.stdout):  # Lambda's stdout: the log
                    return app.client.lambda_.invoke(function, event).payload
            except (Killed, Exception) as error:  # what Lambda would record as a failed run
                if self.faults is None:
                    raise
                self.stats.failed_runs[type(error).__name__] += 1
            finally:
                self.stats.seconds[f"{app.topic}:{label}"] += time.perf_counter() - started
                self._track_copies()
        return None

    def advance(self, duration: timedelta) -> None:
        """Let simulated time pass: copies finish when they finish, pollers run on their schedule.

        A copy becomes available at its own moment, and its copy-finished event
        (if any) is delivered then; the pollers run on the ``poll_interval`` grid.
        With ``every_poll`` off, poll runs in which nothing can change (no copy
        finishes, no job falls due) are skipped: the outcome is the same, faster.
        """
        end = clock.now() + duration
        while clock.now() < end:
            tick = clock.now() + self._next_step()
            finishing = min((copy.ready_at for copy in self._copies.values()), default=tick)
            moment = min(tick, max(finishing, clock.now()), end)
            self._traveller.shift(moment - clock.now())
            self._finish_copies()
            self.deliver()
            if moment == tick:
                self._sweep_if_due()
                self.poll()
                self.deliver()

    def _sweep_if_due(self) -> None:
        """The production sweep runs on its own schedule (every six hours by default)."""
        if clock.now() >= self._next_sweep:
            self.sweep()
            self.deliver()
            while self._next_sweep <= clock.now():
                self._next_sweep += self.sweep_interval

    def _next_step(self) -> timedelta:
        """How long until the poller's next run that can change something.

        The pollers run on a fixed schedule, every ``poll_interval`` from the
        world's start (as EventBridge runs them on the minute), so a copy that
        finishes between two runs waits for the next one. With ``every_poll`` off,
        runs in which nothing can change (no copy finishes, no job falls due) are
        skipped; with ``poll_while_busy`` on, only while no copy is in flight, so
        what the apps' calls cost is counted in full (an idle run is measured apart).
        """
        now = clock.now()
        moments = [now]
        active = self.active_jobs()
        busy = self.poll_while_busy and (self._copies or any(job.state in POLLED_STATES for job in active))
        if not (self.every_poll or busy):
            waiting = [copy.ready_at for copy in self._copies.values()] + [self._next_sweep]
            waiting += [now] if self._unpolled else []
            waiting += [clock.parse_iso(job.due) for job in active if job.state not in POLLED_STATES]
            moments.append(min(waiting))
        ticks = (max(moments) - self.start) // self.poll_interval + 1
        return self.start + ticks * self.poll_interval - now

    def run_until_quiet(self, limit: timedelta = timedelta(days=2)) -> bool:
        """Deliver and poll until no job is active; ``False`` if ``limit`` passed first."""
        deadline = clock.now() + limit
        self.deliver()
        while self.active_jobs():
            if clock.now() >= deadline:
                return False
            self.advance(min(self._next_step(), deadline - clock.now()))
        return True

    def move_to(self, moment: datetime) -> None:
        """Jump the clock forward; a sweep that fell due on the way runs once, on arrival."""
        self._traveller.move_to(moment)
        self._finish_copies()
        self._sweep_if_due()

    def state(self) -> dict[str, Any]:
        """Every snapshot, key, alias and job in both accounts: compare two to see what changed."""
        state: dict[str, Any] = {}
        for account in (PROD, DR):
            kms = self.client("kms", account)
            state[account] = {
                "snapshots": {sid: adapter.view(snap) for adapter, sid, snap in self._snapshots(account)},
                "keys": sorted(
                    (k["KeyId"], kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"])
                    for k in kms.list_keys()["Keys"]
                ),
                "aliases": sorted((a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"]),
                "jobs": sorted((job.job_id, job.state.value, job.due, job.attempts) for job in self.jobs(account)),
            }
        return state

    def active_jobs(self) -> list[Job]:
        return [job for account in (PROD, DR) for job in self.jobs(account) if job.state.is_active]

    def _app(self, account: str) -> _App:
        return next(app for app in self._apps.values() if app.account == account)

    # --- copies taking time ---------------------------------------------------------
    def _snapshots(self, account: str) -> Iterator[tuple[WorldKind, str, Any]]:
        for adapter in WORLD_KINDS.values():
            for snapshot_id, snapshot in list(adapter.snapshots(self, account).items()):
                yield adapter, snapshot_id, snapshot

    def _register_existing(self) -> None:
        """Snapshots the world made itself are not copies in progress."""
        for account in (PROD, DR):
            self._known.update((account, adapter.kind, sid) for adapter, sid, _ in self._snapshots(account))

    def _track_copies(self) -> None:
        """Any snapshot the apps made is a copy: it stays in progress for ``copy_time``."""
        for account in (PROD, DR):
            for adapter, snapshot_id, snapshot in self._snapshots(account):
                key = (account, adapter.kind, snapshot_id)
                if key not in self._known:
                    self._known.add(key)
                    snapshot.status = adapter.copying
                    self._copies[key] = _Copy(account, adapter.kind, snapshot_id, clock.now() + self.copy_time)
        in_flight = Counter(f"{c.account}:{WORLD_KINDS[c.kind].label}" for c in self._copies.values())
        for kind, count in in_flight.items():
            self.stats.in_flight_peak[kind] = max(self.stats.in_flight_peak[kind], count)

    def _finish_copies(self) -> None:
        now = clock.now()
        for key, copy in list(self._copies.items()):
            if copy.ready_at > now:
                continue
            del self._copies[key]
            self._unpolled = True
            adapter = WORLD_KINDS[copy.kind]
            snapshot = adapter.snapshots(self, copy.account).get(copy.snapshot_id)
            if snapshot is not None:
                snapshot.status = adapter.ready
                if self.copy_events:
                    notification = adapter.copy_finished(self, copy.account, copy.snapshot_id, snapshot)
                    if notification is not None:
                        self.publish(copy.account, notification)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
