"""A local two-account AWS for DRACO: moto, both Chalice apps, SNS delivery, a simulated clock.

What it models, and how:

* **Accounts and Regions**: one moto process holds a production and a DR
  account. Production is in ``REGION``; DR is in ``dr_region`` (by default the
  same). The world's own clients name their account with moto's
  ``x-moto-account-id`` header and default to the account's own Region
  (``client``); each app runs with ``MOTO_ACCOUNT_ID`` and ``AWS_REGION`` in
  its stage environment, as a Lambda runs with its own account's credentials
  in its own Region.
* **Bootstrap**: ``draco.bootstrap`` sets both accounts up, and the stage
  environment it returns is written to a ``.chalice/config.json`` per app in a
  scratch folder, from where ``chalice.test.Client`` loads it.
* **SNS to Lambda**: moto does not deliver SNS to Lambda, so each topic gets
  an SQS queue in its own account and Region (``draco.world.apps``) and
  ``deliver`` hands every queued notification to the app's
  ``@app.on_sns_message`` handler, as the SNS event Chalice's test client
  builds. ``transport`` lets a test drop, duplicate or reorder deliveries.
* **Snapshots**: ``add_instance``, ``add_cluster`` and ``add_volume`` create
  production sources; ``take_snapshot`` makes a snapshot and publishes what
  AWS would (an RDS notification, or the EventBridge event as a rule delivers
  it). Copies made by the apps, in any account and Region, stay in progress
  for ``copy_time`` of simulated time (``draco.world.copies``), then are ready,
  with the copy-finished event AWS sends for their kind, to the app of the
  account and Region the copy is in (unless ``copy_events`` is off; a copy
  where no app listens, as DR's relay copies in the source Region, reaches
  nobody). What differs by kind is in one adapter per kind
  (``draco.world.kinds``), never in this module.
* **Time**: ``time-machine`` moves the whole process's clock (moto's
  timestamps and DRACO's alike); ``advance`` runs the scheduled functions as
  EventBridge would (``draco.world.runs``): each app's poller every
  ``poll_interval`` while its rule (``POLLER_RULE``) is enabled, each app's
  ``wake_poller`` every hour while its rule is (production's ``WAKE_RULE`` rests
  while no job has work left), the production sweep every ``sweep_interval``.
* **Lambda**: every run is counted by function, with what it would be billed
  for: AWS calls, log bytes, metrics, DynamoDB request units, cold starts
  (``draco.world.runs``, ``draco.world.meter``).
* **More production accounts**: ``more_producers`` runs a producer app in each
  further account, bootstrapped as the first; DR trusts them all by list, or, with
  ``organization``, by Organization (and OUs), as ``bootstrap consumer
  --source-org`` does, with AWS's Organization checks filled by ``moto_gaps``.
* **Restore drills**: restores take time (``draco.world.restores``); ``drill``
  drills protected sources as ``draco drill`` does, and with ``DRILL_EVERY_DAYS``
  in the consumer's ``app_env`` its ``run_drills`` runs on its schedule.
* **moto's gaps**: filled by ``draco.world.moto_gaps``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

import boto3
import time_machine
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.rds.models import rds_backends

from chalicelib_shared import aws, clock, handlers
from chalicelib_shared.config import CONSUMER_TABLE, INBOX_QUEUE, OUTBOX_TOPIC, PRODUCER_TABLE, ConsumerConfig
from chalicelib_shared.job_table import ACTIVE, DUE_INDEX, job_item
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.log import logger
from chalicelib_shared.messages import SUBJECT
from chalicelib_shared.naming import dr_copy_id
from draco import bootstrap
from draco.status.model import DEFAULT_RPO_HOURS, Status
from draco.status.readers import collect
from draco.world import meter as world_meter
from draco.world import moto_gaps, restores, speed
from draco.world.apps import INBOX_HANDLER, MOTO_ACCOUNT, App, Delivery, Transport, drain, publish, start_app
from draco.world.copies import CopyTracker
from draco.world.faults import FaultPlan, listen, stop
from draco.world.kinds import WORLD_KINDS, Notification
from draco.world.local_aws import environment
from draco.world.meter import WorldStats
from draco.world.moto_gaps import sns as moto_sns
from draco.world.moto_gaps.dynamodb import index_items
from draco.world.runs import WAKE_INTERVAL, Runs

PROD = "111111111111"
DR = "222222222222"
REGION = "us-east-1"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
__all__ = ["DR", "PROD", "REGION", "START", "Delivery", "LocalWorld", "Organization", "Transport", "WorldStats"]


@dataclass(frozen=True)
class Organization:
    """An AWS Organization DR trusts: its id, its accounts' OU paths, and the OUs trusted (none: all)."""

    org_id: str
    paths: Mapping[str, str] = field(default_factory=dict)  # account -> "o-.../r-.../ou-.../"
    ous: tuple[str, ...] = ()


class LocalWorld(Runs):
    """Use as a context manager; see the module docstring."""

    def __init__(
        self,
        *,
        live: bool = False,
        default_lifecycle: str = "",
        custom_lifecycles: str = "",
        copy_time: timedelta = timedelta(minutes=15),
        poll_interval: timedelta | None = None,
        copy_events: bool = True,
        every_poll: bool = False,
        sweep_interval: timedelta | None = None,
        start: datetime = START,
        log_stream: TextIO | None = None,
        transport: Transport | None = None,
        faults: FaultPlan | None = None,
        app_env: Mapping[str, Mapping[str, str]] | None = None,
        dr_region: str | None = None,
        more_producers: Sequence[str] = (),
        organization: Organization | None = None,
        trusted: Sequence[str] = (),
    ) -> None:
        """``app_env``: settings added to each app's environment, e.g. ``{"consumer": {"EBS_LOCK_DAYS": "7"}}``;
        ``dr_region``: the DR account's Region (``None``: production's, ``REGION``); ``poll_interval`` and
        ``sweep_interval``: the schedules (``None``: as the apps deploy them, ``DRACO_POLL_MINUTES`` and
        ``DRACO_SWEEP_HOURS``); ``more_producers``: further production accounts, each running a producer;
        ``organization``: DR trusts the Organization (and its OUs) instead of the list of accounts; ``trusted``:
        further accounts DR's list trusts (running no producer)."""
        self.live = live
        self.default_lifecycle = default_lifecycle
        self.custom_lifecycles = custom_lifecycles
        self.copy_time = copy_time
        self.poll_interval = poll_interval or timedelta(minutes=handlers.poll_minutes())
        self.copy_events = copy_events
        self.every_poll = every_poll
        self.sweep_interval = sweep_interval or timedelta(hours=handlers.sweep_hours())
        self._next_sweep = start + self.sweep_interval
        self._next_wake = start + WAKE_INTERVAL
        self._last_drills: datetime | None = None  # the consumer's run_drills tick last run (when drills are on)
        self.start = start
        self.faults = faults
        self.transport: Transport = transport or (faults.transport if faults else (lambda deliveries: deliveries))
        self.stats = WorldStats()
        self._log_stream = world_meter.LogTap(log_stream, self._on_log) if log_stream is not None else None
        self._stack = contextlib.ExitStack()
        self.app_env = app_env or {}
        self.region, self.prod_account = REGION, PROD
        self.producers = tuple(dict.fromkeys((PROD, *more_producers)))
        self.organization = organization
        self.trusted = tuple(trusted)
        self.dr_region = dr_region or REGION
        self.regions = tuple(dict.fromkeys((self.region, self.dr_region)))  # each Region once
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._apps: dict[str, App] = {}
        self._sources: dict[str, str] = {}  # source name -> SnapshotType
        self._tracker = CopyTracker({**dict.fromkeys(self.producers, self.region), DR: self.dr_region}, self.regions)
        self._copies = self._tracker.in_flight  # the copies in flight, by account, Region, kind and id
        self._unpolled = False  # a copy finished since the pollers last ran: the next run can act on it
        self._traveller: Any = None
        self._running = ""  # the function running, to label the calls it makes ("": none)
        self._running_app: App | None = None
        self._last_run: dict[str, datetime] = {}  # when each function last ran
        self.env: dict[str, dict[str, str]] = {}

    # --- set-up -------------------------------------------------------------
    def __enter__(self) -> LocalWorld:
        stack = self._stack
        stack.enter_context(
            environment(
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_DEFAULT_REGION=REGION,
                AWS_REGION=REGION,
                MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # some 1,300 public snapshots and seconds per account
            )
        )
        os.environ.pop(MOTO_ACCOUNT, None)
        speed.install()
        stack.enter_context(mock_aws())
        moto_gaps.install()
        stack.callback(moto_gaps.uninstall)
        stack.enter_context(restores.timed_restores())  # restores take time (``draco.world.restores``)
        travel = time_machine.travel(self.start, tick=False)  # only the world moves time, however busy the machine
        self._traveller = travel.start()
        stack.callback(travel.stop)
        if self._log_stream is not None:
            handler = logger.registered_handler
            previous = handler.setStream(self._log_stream)
            stack.callback(handler.setStream, previous)
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="draco-world-")))
        aws.forget_clients()
        self._bootstrap(workdir)
        listen(self._on_app_call)
        stack.callback(stop, self._on_app_call)
        world_meter.listen(self._on_units)
        stack.callback(world_meter.stop, self._on_units)
        return self

    def _trust(self) -> dict[str, Any]:
        """The consumer's trust: the Organization (``moto_gaps`` knows its accounts), or the producers."""
        if self.organization is None:
            return {"source_accounts": list(dict.fromkeys((*self.producers, *self.trusted)))}
        moto_sns.ORGANIZATIONS.update(
            {account: (self.organization.org_id, path) for account, path in self.organization.paths.items()}
        )
        self._stack.callback(moto_sns.ORGANIZATIONS.clear)
        return {"source_accounts": [], "source_org": self.organization.org_id, "source_ous": self.organization.ous}

    def _on_app_call(self, account: str, service: str, operation: str) -> None:
        self.stats.calls[(self._running, account, service, operation)] += 1
        if self.faults is not None:
            self.faults.before_call(operation)

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _bootstrap(self, workdir: Path) -> None:
        """DR first (production's outbox subscribes DR's inbox), then each production account."""
        with self.as_account(DR):
            trust = self._trust()
            consumer_env = bootstrap.consumer(
                boto3.Session(region_name=self.dr_region),
                source_accounts=trust.pop("source_accounts"),
                source_region=REGION,
                default_lifecycle=self.default_lifecycle,
                custom_lifecycles=self.custom_lifecycles,
                no_dry_run=self.live,
                **trust,
            )
        self.env = {"consumer": {**consumer_env, **self.app_env.get("consumer", {})}}
        self._apps["consumer"] = start_app(workdir, "consumer", DR, self.dr_region, self.env["consumer"], self.client)
        for account in self.producers:
            with self.as_account(account):
                producer_env = bootstrap.producer(
                    boto3.Session(region_name=REGION), dr_account=DR, dr_region=self.dr_region
                )
            name = "producer" if account == PROD else f"producer-{account}"
            self.env[name] = {**producer_env, **self.app_env.get("producer", {})}
            self._apps[name] = start_app(workdir, "producer", account, self.region, self.env[name], self.client)

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

    def region_of(self, account: str) -> str:
        """Where the account's app runs: production's Region, or DR's."""
        return self.dr_region if account == DR else self.region

    def client(self, service: str, account: str, region: str | None = None) -> Any:
        """A boto3 client that always acts in ``account``, in ``region`` (default: the account's own)."""
        key = (service, account, region or self.region_of(account))
        if key not in self._clients:
            made = boto3.client(service, region_name=key[2])
            made.meta.events.register(
                "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
            )
            self._clients[key] = made
        return self._clients[key]

    def jobs(self, account: str) -> list[Job]:
        """Every job in the account's job table, read from moto's memory (no API call)."""
        items = (item.to_regular_json() for item in self._moto_table(account).all_items())
        return [Job.from_item(item) for item in items if "state" in item]

    def due_work(self, account: str) -> list[Job]:
        """The jobs with work left (the ``due`` index), from moto's memory: what is active, never the history."""
        items = index_items(self._moto_table(account), DUE_INDEX, DynamoType({"S": ACTIVE}))
        return [Job.from_item(item.to_regular_json()) for item in items]

    def _moto_table(self, account: str) -> Any:
        """moto's own table behind the account's job table (DR's is the consumer's, every other the producer's)."""
        backend = dynamodb_backends[account][self.region_of(account)]
        return backend.get_table(CONSUMER_TABLE if account == DR else PRODUCER_TABLE)

    def job_table(self, account: str) -> Any:
        """A boto3 ``Table`` on one account's job table (the operator commands' and tests' view)."""
        resource = boto3.resource("dynamodb", region_name=self.region_of(account))
        resource.meta.client.meta.events.register(
            "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
        )
        app, default = ("consumer", CONSUMER_TABLE) if account == DR else ("producer", PRODUCER_TABLE)
        return resource.Table(self.env[app].get("JOB_TABLE") or default)

    def status(self, *, rpo_hours: float = DEFAULT_RPO_HOURS) -> Status:
        """What ``draco status`` would report of the DR account, as of the world's clock."""
        config = ConsumerConfig.from_env(self.env["consumer"])
        return collect(self.job_table(DR), lambda service: self.client(service, DR), config, rpo_hours=rpo_hours)

    # --- production sources and snapshots ------------------------------------------
    def add_instance(
        self, name: str, tags: dict[str, str] | None = None, encrypted: bool = True, account: str = PROD
    ) -> None:
        self.add_source("RDS", name, tags, encrypted, account)

    def add_cluster(
        self, name: str, tags: dict[str, str] | None = None, encrypted: bool = True, engine: str = "aurora-postgresql"
    ) -> None:
        """A DB cluster: Aurora by default; ``engine="neptune"`` makes a Neptune cluster (moto has no DocumentDB)."""
        self.add_source("RDS Cluster", name, tags, encrypted, engine=engine)

    def add_volume(self, name: str = "", tags: dict[str, str] | None = None, encrypted: bool = False) -> str:
        """An EBS volume (``name``: its Name tag); returns its id, the source name to take snapshots of."""
        return self.add_source("EBS", name, tags, encrypted)

    def add_source(
        self,
        kind: str,
        name: str,
        tags: dict[str, str] | None = None,
        encrypted: bool = True,
        account: str = PROD,
        **options: Any,
    ) -> str:
        """A production source of any kind (by SnapshotType), in ``account``; returns its source name."""
        self.prod_account = account
        try:
            source = WORLD_KINDS[kind].add_source(self, name, tags or {}, encrypted, **options)
        finally:
            self.prod_account = PROD
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

    def take_snapshot(self, source: str, *, automated: bool = False, notify: bool = True, account: str = PROD) -> str:
        """Take a snapshot of a source of ``account`` now, as its service would, and publish its "created" notice."""
        kind = self._sources.get(source)
        if kind is None:
            raise ValueError(f"{source} is not a source of this world (add_instance, add_cluster, add_volume)")
        snapshot_id, notification = WORLD_KINDS[kind].take(self, account, source, automated)
        self._tracker.register_existing(self)
        if notify:
            self.publish(account, notification)
        return snapshot_id

    def publish(self, account: str, notification: Notification) -> None:
        """Publish an AWS notification to the account's DRACO topic, as RDS or an EventBridge rule does."""
        publish(self._app(account), self.client, notification.subject, notification.body)

    def seed_dr_copies(self, count: int, per_source: int, lifecycle: str = "Standard") -> None:
        """Put ``count`` finished DR copies, ``per_source`` per made-up source, straight into DR.

        For measuring how DRACO's cost grows with the DR inventory without carrying
        each copy through the pipeline: the snapshots and job items are what the
        pipeline would have left (daily copies, one job each, listed in the inventory).
        """
        rds, table = rds_backends[DR][self.dr_region], dynamodb_backends[DR][self.dr_region]
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
        self._tracker.register_existing(self)

    # --- running ------------------------------------------------------------------
    def deliver(self) -> int:
        """Hand every queued notification to its app, until no queue has any. Returns how many."""
        delivered = 0
        while True:
            batch = drain(self._apps.values(), self.client)
            if not batch:
                return delivered
            for delivery in self.transport(batch):
                if delivery.inbox:
                    self.invoke_inbox(delivery)
                else:
                    self.invoke_sns(delivery.account, delivery.subject, delivery.message)
                delivered += 1

    def invoke_sns(self, account: str, subject: str, message: str) -> Any:
        """Invoke the SNS handler of the app in ``account`` with one notification.

        As Lambda does for an asynchronous invocation, a run that raises or dies
        is tried twice more; after that the notification is gone. A DRACO message
        for DR goes, as on AWS, to DR's inbox, as published on production's outbox
        (``PROD``'s: another account's is ``invoke_inbox`` with its ``outbox``).
        """
        if account == DR and subject == SUBJECT:  # production's messages reach DR through its inbox
            return self.invoke_inbox(Delivery(DR, subject, message, self.outbox(PROD), inbox=True))
        app = self._app(account)
        event = app.client.events.generate_sns_event(message=message, subject=subject)
        self.stats.deliveries += 1
        return self._run(app, app.sns_handler, event, tries=3)

    def outbox(self, account: str) -> str:
        """A production account's ``DracoOutbox`` topic, whose ARN SNS puts on each message to DR."""
        return f"arn:aws:sns:{self.region}:{account}:{OUTBOX_TOPIC}"

    def invoke_inbox(self, delivery: Delivery) -> Any:
        """Invoke the consumer's inbox handler with one SQS record holding the SNS envelope, as Lambda does."""
        app = self._app(DR)
        event = app.client.events.generate_sqs_event(message_bodies=[delivery.envelope()], queue_name=INBOX_QUEUE)
        self.stats.deliveries += 1
        return self._run(app, INBOX_HANDLER, event, tries=3)

    def state(self) -> dict[str, Any]:
        """Every snapshot, key, alias and job in both accounts, in each of the world's Regions:
        compare two to see what changed."""
        snapshots: dict[tuple[str, str], dict[str, Any]] = {}
        for adapter, account, region, snapshot_id, snapshot in self._tracker.snapshots(self):
            snapshots.setdefault((account, region), {})[snapshot_id] = adapter.view(snapshot)
        state: dict[str, Any] = {}
        for account in (PROD, DR):
            state[account] = {"jobs": sorted((j.job_id, j.state.value, j.due, j.attempts) for j in self.jobs(account))}
            for region in self.regions:
                kms = self.client("kms", account, region)
                state[account][region] = {
                    "snapshots": snapshots.get((account, region), {}),
                    "keys": sorted(
                        (k["KeyId"], kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"])
                        for k in kms.list_keys()["Keys"]
                    ),
                    "aliases": sorted((a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"]),
                }
        return state

    def drill(self, **options: Any) -> restores.DrillOutcome:
        """Drill protected sources as ``draco drill`` does, while time passes (``draco.world.restores.drill``)."""
        return restores.drill(self, **options)

    def active_jobs(self) -> list[Job]:
        return [job for account in (*self.producers, DR) for job in self.due_work(account) if job.state.is_active]

    def _app(self, account: str) -> App:
        return next(app for app in self._apps.values() if app.account == account)

    # --- copies taking time (``draco.world.copies``) ------------------------------------
    def _track_copies(self) -> None:
        """Any snapshot the apps made is a copy: it stays in progress for ``copy_time``."""
        self._tracker.track(self, self.copy_time, self.stats.in_flight_peak)

    def _finish_copies(self) -> None:
        """Copies whose time has come are ready; AWS's notice goes to the app of their account and Region."""
        listening = {(app.account, app.region) for app in self._apps.values()}
        for finished in self._tracker.finish(self, self.copy_events):
            self._unpolled = True
            if finished.notification is not None and (finished.account, finished.region) in listening:
                self.publish(finished.account, finished.notification)
