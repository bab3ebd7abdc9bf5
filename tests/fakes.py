"""In-memory fakes of the ports the use-cases depend on, and both apps wired to them.

* ``FakeJobTable``: ``JobStore``, ``SlotStore`` and ``Inventory`` with the
  semantics of ``job_table.JobTable`` (items stored as ``job_item`` makes them,
  put-if-absent creation, moves conditional on the version read and allowed by
  ``jobs.can_move``, slot release in the same write, pools with limits,
  counters, source records saved at the version read); ``race`` and
  ``before_next_write`` let "another run" change a job between a read and a write.
* ``FakePublisher``: records (topic, message), and refuses a message that
  ``parse_message`` would reject at the other end.
* ``FakeKeys``: the per-source DR keys, with a log of finds and creations.
* ``FakeSnapshots``: one kind's ``SnapshotApi`` in one account, kept in a
  ``FakeCloud`` so an account sees what another shares with it; copies start in
  progress until the test finishes or fails them; any operation can be made to
  raise a real ``botocore`` ``ClientError``; every call is logged.

``build_producer`` and ``build_consumer`` give each app with valid configs
(``from_env`` of a small environment) on these fakes; ``test_fakes`` runs one
scenario against both ``FakeJobTable`` and the moto-backed ``JobTable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.job_table import job_item
from chalicelib_shared.jobs import InvalidTransition, Job, State, can_move
from chalicelib_shared.kinds import KINDS, Phase, Snapshot
from chalicelib_shared.kinds.base import CopyStart, Quota
from chalicelib_shared.kinds.rds import SWEPT_TYPES
from chalicelib_shared.messages import SUBJECT, EventType, Message, parse_message
from chalicelib_shared.naming import LIFECYCLE_TAG, dr_copy_id, transit_id
from chalicelib_shared.producer import Producer
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.sources import SourceRecord

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
REGION = "us-east-1"
DR_TOPIC = f"arn:aws:sns:{REGION}:{DR}:DracoConsumer"
PRODUCER_TOPIC = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
TRANSIT_KEY = f"arn:aws:kms:{REGION}:{PROD}:key/transit"
PRODUCER_ENV = {"DR_ACCT": DR, "DR_TOPIC_ARN": DR_TOPIC, "TRANSIT_KEY_ARN": TRANSIT_KEY}
CONSUMER_ENV = {"SOURCE_ACCTS": PROD, "CONSUMER_ROLE_ARN": f"arn:aws:iam::{DR}:role/draco-consumer"}


def client_error(operation: str, code: str, message: str = "", status: int = 400) -> ClientError:
    """The error botocore raises when AWS answers ``code``."""
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


# --- the job table ------------------------------------------------------------------------


class FakeJobTable:
    """``job_table.JobTable`` in memory: the same items, conditions and orderings."""

    def __init__(self, inventory: bool = False) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, set[str]] = {}
        self.counters: dict[str, int] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self._inventory = inventory
        self._hooks: dict[str, Callable[[], object]] = {}

    # --- races --------------------------------------------------------------------------
    def before_next_write(self, key: str, change: Callable[[], object]) -> None:
        """Run ``change`` (another run) just before the next write of job ``key`` (or source record ``key``)."""
        self._hooks[key] = change

    def race(self, job_id: str, state: State | None = None, **changes: Any) -> None:
        """Another run moves the stored job (to ``state``, default its own) just before this run writes it."""

        def other_run() -> None:
            stored = self.get(job_id)
            assert stored is not None, f"no job {job_id} to race"
            self.advance(stored, state or stored.state, **changes)

        self.before_next_write(job_id, other_run)

    def _other_run(self, key: str) -> None:
        hook = self._hooks.pop(key, None)
        if hook is not None:
            hook()

    # --- jobs ---------------------------------------------------------------------------
    def put(self, job: Job) -> Job:
        """Store a job as it is (a test's starting point); it is read back as the table would."""
        self.items[job.job_id] = job_item(job, self._inventory)
        stored = self.get(job.job_id)
        assert stored is not None
        return stored

    def get(self, job_id: str) -> Job | None:
        item = self.items.get(job_id)
        return Job.from_item(item) if item else None

    def create(self, job: Job, due: datetime | None = None) -> Job | None:
        self._other_run(job.job_id)
        if job.job_id in self.items:
            return None
        now = clock.iso(clock.now())
        job = replace(job, created=now, updated=now, due=clock.iso(due or clock.now()), version=1)
        self.items[job.job_id] = job_item(job, self._inventory)
        return job

    def advance(
        self, job: Job, state: State, *, due: datetime | None = None, release: Iterable[str] = (), **changes: Any
    ) -> Job | None:
        if not can_move(job, state):
            raise InvalidTransition(f"{job.job_id}: {job.state.value} -> {state.value}")
        self._other_run(job.job_id)
        now = clock.now()
        moved = replace(
            job, state=state, updated=clock.iso(now), due=clock.iso(due or now), version=job.version + 1, **changes
        )
        stored = self.items.get(job.job_id)
        if int(stored.get("version", 0) if stored else 0) != job.version:
            return None
        self.items[job.job_id] = job_item(moved, self._inventory)
        for pool in release:
            self.pools.get(pool, set()).discard(job.job_id)
        return moved

    def due_jobs(self, now: datetime) -> Iterator[Job]:
        due = [item for item in self.items.values() if "active" in item and item["due"] <= clock.iso(now)]
        return (Job.from_item(item) for item in sorted(due, key=lambda item: item["due"]))

    def next_due(self) -> datetime | None:
        dues = [item["due"] for item in self.items.values() if "active" in item]
        return clock.parse_iso(min(dues)) if dues else None

    def existing(self, job_ids: Iterable[str]) -> set[str]:
        return set(job_ids) & set(self.items)

    def inventory(self, inventory_key: str) -> list[Job]:
        copies = [item for item in self.items.values() if item.get("inventory_key") == inventory_key]
        return [Job.from_item(item) for item in sorted(copies, key=lambda item: item["source_time"])]

    # --- slots and counters -------------------------------------------------------------
    def take(self, pool: str, job_id: str, limit: int) -> bool:
        holders = self.pools.setdefault(pool, set())
        if len(holders) >= limit and job_id not in holders:
            return False
        holders.add(job_id)
        return True

    def release(self, pool: str, job_ids: Iterable[str]) -> None:
        self.pools.get(pool, set()).difference_update(job_ids)

    def holders(self, pool: str) -> set[str]:
        return set(self.pools.get(pool, ()))

    def count(self, name: str, limit: int) -> bool:
        if self.counters.get(name, 0) >= limit:
            return False
        self.counters[name] = self.counters.get(name, 0) + 1
        return True

    # --- source records -----------------------------------------------------------------
    def source(self, inventory_key: str) -> SourceRecord | None:
        item = self.records.get(inventory_key)
        return SourceRecord.from_item(inventory_key, item) if item else None

    def save_source(self, record: SourceRecord) -> SourceRecord | None:
        self._other_run(record.inventory_key)
        stored = self.records.get(record.inventory_key)
        if int(stored["version"] if stored else 0) != record.version:
            return None
        saved = replace(record, version=record.version + 1)
        self.records[record.inventory_key] = saved.to_item()
        return saved

    def sources(self) -> list[SourceRecord]:
        ordered = sorted(self.records.items(), key=lambda pair: pair[1]["source_time"])
        return [SourceRecord.from_item(key, item) for key, item in ordered]

    # --- for assertions -----------------------------------------------------------------
    def state(self, job_id: str) -> State | None:
        job = self.get(job_id)
        return job.state if job else None

    def jobs(self) -> list[Job]:
        return [Job.from_item(item) for item in self.items.values()]


# --- messages and keys -------------------------------------------------------------------


class FakePublisher:
    """Records what would go out over SNS; a message the peer would reject fails the test."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    def publish(self, topic_arn: str, message: Message) -> None:
        parsed = parse_message(SUBJECT, message.body())
        assert not isinstance(parsed, Rejection), f"the peer would reject {message}: {parsed.reason}"
        self.sent.append((topic_arn, message))

    def types(self) -> list[EventType]:
        return [message.event_type for _, message in self.sent]

    def last(self) -> Message:
        return self.sent[-1][1]


class FakeKeys:
    """One DR key per source name; ``calls`` logs each find and create in order."""

    def __init__(self, existing: Mapping[str, str] | None = None) -> None:
        self.keys = dict(existing or {})
        self.calls: list[tuple[str, str]] = []

    def find(self, source_name: str) -> str | None:
        self.calls.append(("find", source_name))
        return self.keys.get(source_name)

    def create(self, source_name: str) -> str:
        self.calls.append(("create", source_name))
        return self.keys.setdefault(source_name, f"arn:aws:kms:{REGION}:{DR}:key/{source_name}-{len(self.keys)}")

    @property
    def created(self) -> list[str]:
        return [name for call, name in self.calls if call == "create"]


# --- snapshots ----------------------------------------------------------------------------


class FakeCloud:
    """Every fake account's snapshots of every kind, so accounts can share with each other."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self._apis: dict[tuple[str, str], FakeSnapshots] = {}

    def api(self, account: str, kind: str = "RDS") -> FakeSnapshots:
        if (account, kind) not in self._apis:
            self._apis[(account, kind)] = FakeSnapshots(self, account, kind)
        return self._apis[(account, kind)]

    def snapshots_of(self, account: str) -> Callable[..., FakeSnapshots]:
        """The ``Snapshots`` port of one account: SnapshotType -> its ``FakeSnapshots``."""
        return lambda kind, region="": self.api(account, kind)


_STATUS = {Phase.READY: "available", Phase.IN_PROGRESS: "copying", Phase.FAILED: "failed"}


class FakeSnapshots:
    """One kind's snapshots in one account (a ``SnapshotApi``); see the module docstring."""

    def __init__(self, cloud: FakeCloud, account: str, kind: str) -> None:
        self.cloud = cloud
        self.account = account
        self.kind = KINDS[kind]
        # Whether a copy keeps the data's time (RDS instance snapshots' OriginalSnapshotCreateTime).
        names = getattr(self.kind, "names", None)
        self.keeps_time = bool(getattr(names, "original_time_field", ""))
        self.snapshots: dict[str, Snapshot] = {}
        self.shared_with: dict[str, set[str]] = {}
        self.locks: dict[str, tuple[int, str]] = {}
        self.quota_max: int | None = None  # None: AWS reports no quota
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.errors: dict[str, list[Exception]] = {}

    # --- the test's controls ------------------------------------------------------------
    def add(
        self,
        snapshot_id: str,
        source_name: str = "db1",
        *,
        created: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        phase: Phase = Phase.READY,
        snapshot_type: str = "manual",
        encrypted: bool = True,
        size_gb: int = 20,
    ) -> Snapshot:
        """A snapshot of this account, as if taken (tagged ``Standard`` unless ``tags`` says otherwise)."""
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            arn=self.arn(snapshot_id),
            name=snapshot_id.lower(),
            source_name=source_name,
            status=_STATUS[phase],
            phase=phase,
            created=created or clock.now(),
            encrypted=encrypted,
            snapshot_type=snapshot_type,
            tags=dict({LIFECYCLE_TAG: "Standard"} if tags is None else tags),
            size_gb=size_gb,
            owner=self.account,
            original_time=self.keeps_time,
        )
        self.snapshots[snapshot_id.lower()] = snapshot
        return snapshot

    def arn(self, snapshot_id: str) -> str:
        return self.kind.arn("aws", self.cloud.region, self.account, snapshot_id)

    def finish(self, snapshot_id: str, phase: Phase = Phase.READY) -> Snapshot:
        """A copy in progress ends (``Phase.FAILED``: it failed)."""
        done = replace(self.snapshots[snapshot_id.lower()], phase=phase, status=_STATUS[phase])
        self.snapshots[snapshot_id.lower()] = done
        return done

    def vanish(self, snapshot_id: str) -> None:
        """Someone else deletes the snapshot."""
        del self.snapshots[snapshot_id.lower()]

    def fail(
        self, operation: str, error: Exception | str, message: str = "", *, status: int = 400, times: int = 1
    ) -> None:
        """The next ``times`` calls of ``operation`` raise ``error`` (an error code: a ``ClientError``)."""
        if isinstance(error, str):
            error = client_error(operation, error, message, status)
        self.errors.setdefault(operation, []).extend([error] * times)

    def ops(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def called(self, operation: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.calls if name == operation]

    def _call(self, operation: str, *args: Any) -> None:
        self.calls.append((operation, args))
        waiting = self.errors.get(operation)
        if waiting:
            raise waiting.pop(0)

    # --- SnapshotApi --------------------------------------------------------------------
    def describe(self, snapshot_id: str) -> Snapshot | None:
        self._call("describe", snapshot_id)
        return self.snapshots.get(snapshot_id.lower())

    def describe_many(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        ids = sorted(set(snapshot_ids))
        self._call("describe_many", tuple(ids))
        found = (self.snapshots.get(snapshot_id.lower()) for snapshot_id in ids)
        return {snapshot.snapshot_id: snapshot for snapshot in found if snapshot is not None}

    def owned(self) -> Iterator[Snapshot]:
        self._call("owned")
        return iter(list(self.snapshots.values()))

    def recent(self, since: datetime) -> Iterator[Snapshot]:
        self._call("recent", since)
        return iter(
            [
                snapshot
                for snapshot in self.snapshots.values()
                if snapshot.phase is Phase.READY and snapshot.snapshot_type in SWEPT_TYPES and snapshot.created >= since
            ]
        )

    def shared(self, arn: str) -> Snapshot | None:
        self._call("shared", arn)
        found = self._shared_with_me(arn)
        return replace(found, snapshot_type="shared", tags={}) if found else None

    def _shared_with_me(self, arn: str) -> Snapshot | None:
        parsed = self.kind.parse_arn(arn)
        if parsed is None or parsed.account == self.account:
            return None
        owner = self.cloud.api(parsed.account, self.kind.name)
        if self.account not in owner.shared_with.get(parsed.snapshot_id.lower(), set()):
            return None
        return owner.snapshots.get(parsed.snapshot_id.lower())

    def announce(self, snapshot: Snapshot) -> Snapshot:
        self._call("announce", snapshot.snapshot_id)
        return snapshot

    def find_copy(self, name: str) -> Snapshot | None:
        self._call("find_copy", name)
        return self.snapshots.get(name.lower())

    def copy(
        self, source_arn: str, name: str, kms_key_id: str | None, tags: Mapping[str, str], source_region: str = ""
    ) -> CopyStart:
        self._call("copy", source_arn, name, kms_key_id, dict(tags))
        parsed = self.kind.parse_arn(source_arn)
        own = parsed is not None and parsed.account == self.account
        source = self.snapshots.get(parsed.snapshot_id.lower()) if own and parsed else self._shared_with_me(source_arn)
        if source is None:
            raise client_error("copy", "SnapshotNotFound", f"{source_arn} not found")
        existing = self.snapshots.get(name.lower())
        if existing is not None:
            return CopyStart(name, existing.arn, started=False)
        if kms_key_id and not source.encrypted and not self.kind.encrypts_on_copy:
            raise client_error("copy", "InvalidParameterCombination", "can't encrypt an unencrypted snapshot")
        copied = replace(
            self.add(name, source.source_name, created=source.created if self.keeps_time else clock.now()),
            phase=Phase.IN_PROGRESS,
            status=_STATUS[Phase.IN_PROGRESS],
            encrypted=source.encrypted or bool(kms_key_id),
            tags=dict(tags),
            size_gb=source.size_gb,
            copied_from=source_arn,
        )
        self.snapshots[name.lower()] = copied
        return CopyStart(name, copied.arn, started=True)

    def share(self, snapshot_id: str, account: str) -> None:
        self._call("share", snapshot_id, account)
        if snapshot_id.lower() not in self.snapshots:
            raise client_error("share", "SnapshotNotFound", snapshot_id)
        self.shared_with.setdefault(snapshot_id.lower(), set()).add(account)

    def delete(self, snapshot_id: str) -> bool:
        self._call("delete", snapshot_id)
        if snapshot_id.lower() in self.locks:
            raise client_error("delete", "SnapshotLocked", f"{snapshot_id} is locked")
        return self.snapshots.pop(snapshot_id.lower(), None) is not None

    def lock(self, snapshot_id: str, days: int, mode: str) -> None:
        self._call("lock", snapshot_id, days, mode)
        self.locks[snapshot_id.lower()] = (days, mode)

    def quota(self) -> Quota | None:
        self._call("quota")
        if self.quota_max is None:
            return None
        return Quota(sum(s.snapshot_type == "manual" for s in self.snapshots.values()), self.quota_max)


# --- the two apps on fakes ----------------------------------------------------------------


@dataclass
class ProducerRig:
    """The producer and the fakes it runs on."""

    app: Producer
    table: FakeJobTable
    sent: FakePublisher
    cloud: FakeCloud

    def snaps(self, kind: str = "RDS") -> FakeSnapshots:
        return self.cloud.api(PROD, kind)


@dataclass
class ConsumerRig:
    """The consumer and the fakes it runs on."""

    app: Consumer
    table: FakeJobTable
    sent: FakePublisher
    cloud: FakeCloud
    keys: FakeKeys = field(default_factory=FakeKeys)

    def snaps(self, kind: str = "RDS") -> FakeSnapshots:
        return self.cloud.api(DR, kind)

    def prod(self, kind: str = "RDS") -> FakeSnapshots:
        return self.cloud.api(PROD, kind)


def build_producer(cloud: FakeCloud | None = None, **env: str) -> ProducerRig:
    """The producer of account ``PROD``, configured by ``PRODUCER_ENV`` and ``env``."""
    config = ProducerConfig.from_env({**PRODUCER_ENV, **env})
    assert not config.problems, config.problems
    cloud = cloud or FakeCloud()
    table, sent = FakeJobTable(), FakePublisher()
    app = Producer(config=config, jobs=table, slots=table, publisher=sent, snapshots=cloud.snapshots_of(PROD))
    return ProducerRig(app, table, sent, cloud)


def build_consumer(cloud: FakeCloud | None = None, **env: str) -> ConsumerRig:
    """The consumer of account ``DR``, configured by ``CONSUMER_ENV`` and ``env``."""
    config = ConsumerConfig.from_env({**CONSUMER_ENV, **env})
    assert not config.problems, config.problems
    cloud = cloud or FakeCloud()
    table, sent, keys = FakeJobTable(inventory=True), FakePublisher(), FakeKeys()
    app = Consumer(
        config=config,
        jobs=table,
        slots=table,
        publisher=sent,
        snapshots=cloud.snapshots_of(DR),
        keys=keys,
        inventory=table,
        region=cloud.region,
    )
    return ConsumerRig(app, table, sent, cloud, keys)


# --- messages as production sends them ----------------------------------------------------


def copy_request(source: Snapshot, kind: str = "RDS", **changes: Any) -> Message:
    """Production's copy-request for ``source``."""
    message = Message(
        event_type=EventType.COPY_REQUEST,
        snapshot_type=kind,
        source_acct=source.owner,
        source_arn=source.arn,
        source_id=source.snapshot_id,
        source_name=source.source_name,
        source_time=source.created,
        tags=tuple(source.tags.items()),
    )
    return replace(message, **changes)


def share_transit(cloud: FakeCloud, source: Snapshot, kind: str = "RDS") -> Snapshot:
    """Production's transit copy of ``source``, ready and shared with ``DR``, as the producer leaves it."""
    api = cloud.api(source.owner, kind)
    name = transit_id(source.snapshot_id)
    api.copy(source.arn, name, TRANSIT_KEY if source.encrypted or api.kind.encrypts_on_copy else None, {})
    api.finish(name)
    api.share(name, DR)
    api.calls.clear()
    return api.snapshots[name]


def copy_shared(source: Snapshot, transit: Snapshot, kind: str = "RDS", **changes: Any) -> Message:
    """Production's copy-shared for ``source``'s transit copy."""
    request = copy_request(source, kind)
    message = replace(
        request,
        event_type=EventType.COPY_SHARED,
        transit_arn=transit.arn,
        transit_id=transit.snapshot_id,
        encrypted=transit.encrypted,
    )
    return replace(message, **changes)


def job_of(source: Snapshot, state: State, *, dr: bool = False, kind: str = "RDS", **changes: Any) -> Job:
    """The job of ``source`` in ``state`` as stored (version 1, due now): production's, or DR's (``dr``)."""
    now = clock.iso(clock.now())
    job = Job(
        job_id=dr_copy_id(source.owner, source.snapshot_id) if dr else transit_id(source.snapshot_id),
        state=state,
        kind=kind,
        source_acct=source.owner,
        source_arn=source.arn,
        source_id=source.snapshot_id,
        source_name=source.source_name,
        source_time=clock.iso(source.created),
        tags=dict(source.tags),
        size_gb=source.size_gb,
        created=now,
        updated=now,
        due=now,
        version=1,
    )
    return replace(job, **changes)
