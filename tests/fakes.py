"""In-memory fakes of the ports the use-cases depend on, and both apps wired to them.

* ``FakeJobTable``: ``JobStore``, ``SlotStore`` and ``Inventory`` with the
  semantics of ``job_table.JobTable`` (items stored as ``job_item`` makes them,
  put-if-absent creation, moves conditional on the version read and allowed by
  the app's ``jobs.Machine``, slot release in the same write, pools with limits,
  counters, source records saved at the version read); ``race`` and
  ``before_next_write`` let "another run" change a job between a read and a write.
* ``FakePublisher``: records (topic, message), and refuses a message that
  ``parse_message`` would reject at the other end.
* ``FakeKeys``: the DR keys (or the relay key), with a log of finds and creations.
* snapshots: ``fake_snapshots``.

Both apps wired to them: ``rigs``. ``test_fakes`` runs one scenario against
both ``FakeJobTable`` and the moto-backed ``JobTable``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.job_table import job_item
from chalicelib_shared.jobs import CONSUMER_JOBS, PRODUCER_JOBS, InvalidTransition, Job, Machine, State
from chalicelib_shared.kinds import Snapshot, parse_arn
from chalicelib_shared.messages import SUBJECT, EventType, Message, parse_message
from chalicelib_shared.naming import dr_copy_id, transit_id
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.sources import SourceRecord
from tests.fake_snapshots import REGION, FakeCloud

PROD = "111111111111"
DR = "222222222222"
OTHER = "333333333333"
ELSEWHERE = "eu-west-1"  # production's Region when DR is in another
OUTBOX = f"arn:aws:sns:{REGION}:{PROD}:DracoOutbox"
PRODUCER_TOPIC = f"arn:aws:sns:{REGION}:{PROD}:DracoProducer"
TRANSIT_KEY = f"arn:aws:kms:{REGION}:{PROD}:key/transit"
PRODUCER_ENV = {"DR_ACCT": DR, "OUTBOX_TOPIC_ARN": OUTBOX, "TRANSIT_KEY_ARN": TRANSIT_KEY}
CONSUMER_ENV = {"SOURCE_ACCTS": PROD, "CONSUMER_ROLE_ARN": f"arn:aws:iam::{DR}:role/draco-consumer"}


# --- the job table ------------------------------------------------------------------------


class FakeJobTable:
    """``job_table.JobTable`` in memory: the same items, conditions and orderings."""

    def __init__(self, inventory: bool = False, machine: Machine | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, set[str]] = {}
        self.counters: dict[str, int] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.flags: dict[str, str] = {}
        self.budgets: dict[str, dict[str, Any]] = {}
        self._inventory = inventory
        self.machine = machine or (CONSUMER_JOBS if inventory else PRODUCER_JOBS)
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

    def get_with_holders(self, job_id: str, pool: str) -> tuple[Job | None, set[str]]:
        return self.get(job_id), self.holders(pool)

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
        if not self.machine.allows(job, state):
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

    def draw(self, name: str, now: str) -> bool:
        budget = self.budgets.get(name)
        if budget is None or budget["until"] <= now or budget["count"] >= budget["limit"]:
            return False
        budget["count"] += 1
        return True

    def grant(self, name: str, limit: int, until: str, **who: str) -> None:
        self.budgets[name] = {"limit": limit, "until": until, "count": 0, **who}

    def flip(self, name: str, expected: str, value: str) -> bool:
        if expected and self.flags.get(name, "on") != expected:  # a flag never set counts as on
            return False
        self.flags[name] = value
        return True

    # --- source records -----------------------------------------------------------------
    def source(self, inventory_key: str) -> SourceRecord | None:
        item = self.records.get(inventory_key)
        return SourceRecord.from_item(inventory_key, item) if item else None

    def save_source(
        self,
        record: SourceRecord,
        entry: dict[str, Any] | None = None,
        release: tuple[str, Iterable[str]] | None = None,
    ) -> SourceRecord | None:
        self._other_run(record.inventory_key)
        stored = self.records.get(record.inventory_key)
        if int(stored["version"] if stored else 0) != record.version:
            return None
        saved = replace(record, version=record.version + 1)
        self.records[record.inventory_key] = saved.to_item()
        if release is not None:
            self.release(*release)
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


# --- messages as production sends them ----------------------------------------------------


def kind_of(snapshot: Snapshot) -> str:
    parsed = parse_arn(snapshot.arn)
    assert parsed is not None, snapshot.arn
    return parsed.kind


def copy_request(source: Snapshot, **changes: Any) -> Message:
    """Production's copy-request for ``source``."""
    message = Message(
        event_type=EventType.COPY_REQUEST,
        snapshot_type=kind_of(source),
        source_acct=source.owner,
        source_arn=source.arn,
        source_id=source.snapshot_id,
        source_name=source.source_name,
        source_time=source.created,
        tags=tuple(source.tags.items()),
    )
    return replace(message, **changes)


def share_transit(cloud: FakeCloud, source: Snapshot) -> Snapshot:
    """Production's transit copy of ``source``, ready and shared with ``DR``, as the producer leaves it."""
    parsed = parse_arn(source.arn)
    assert parsed is not None
    api = cloud.api(source.owner, parsed.kind, parsed.region)
    name = transit_id(source.snapshot_id)
    start = api.copy(source.arn, name, TRANSIT_KEY if source.encrypted or api.kind.encrypts_on_copy else None, {})
    api.finish(start.copy_id)
    api.share(start.copy_id, DR)
    api.calls.clear()
    return api.snapshots[start.copy_id.lower()]


def copy_shared(source: Snapshot, transit: Snapshot, **changes: Any) -> Message:
    """Production's copy-shared for ``source``'s transit copy."""
    message = replace(
        copy_request(source),
        event_type=EventType.COPY_SHARED,
        transit_arn=transit.arn,
        transit_id=transit.snapshot_id,
        encrypted=transit.encrypted,
    )
    return replace(message, **changes)


def job_of(source: Snapshot, state: State, *, dr: bool = False, **changes: Any) -> Job:
    """The job of ``source`` in ``state`` as stored (version 1, due now): production's, or DR's (``dr``)."""
    now = clock.iso(clock.now())
    job = Job(
        job_id=dr_copy_id(source.owner, source.snapshot_id) if dr else transit_id(source.snapshot_id),
        state=state,
        kind=kind_of(source),
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
