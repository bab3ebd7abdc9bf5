"""Both apps wired to the fakes (``fakes``, ``fake_snapshots``) with valid configurations, and
the steps the unit tests drive them through."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalicelib_shared import clock
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import EventType, Snapshot, SnapshotEvent
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.messages import Message
from chalicelib_shared.naming import dr_copy_id, transit_id
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.producer import Producer
from chalicelib_shared.rejection import Rejection
from tests.fake_snapshots import REGION, FakeCloud, FakeSnapshots
from tests.fakes import (
    CONSUMER_ENV,
    DR,
    PROD,
    PRODUCER_ENV,
    FakeJobTable,
    FakeKeys,
    FakePublisher,
    copy_request,
    copy_shared,
    share_transit,
)


@dataclass
class ProducerRig:
    """The producer and the fakes it runs on."""

    app: Producer
    table: FakeJobTable
    sent: FakePublisher
    cloud: FakeCloud
    region: str = REGION

    def snaps(self, kind: str = "RDS") -> FakeSnapshots:
        return self.cloud.api(PROD, kind, self.region)

    def announce(self, snapshot_id: str = "snap-1", kind: str = "RDS", **snapshot: Any) -> Job:
        """A new snapshot, taken 10 minutes ago, announced by its event: its job asks DR."""
        self.snaps(kind).add(snapshot_id, created=clock.now() - timedelta(minutes=10), **snapshot)
        assert self.app.on_event(SnapshotEvent(kind, EventType.CREATED, snapshot_id)).outcome is Outcome.COPY_REQUESTED
        job = self.table.get(transit_id(snapshot_id))
        assert job is not None
        return job

    def answer(self, job: Job, event_type: Msg, **fields: Any) -> Result:
        """What came of DR's answer about ``job``'s snapshot (as the job stands now)."""
        stored = self.table.get(job.job_id) or job
        result = self.app.on_message(message_about(stored, event_type, **fields))
        assert isinstance(result, Result), result
        return result

    def start(self, snapshot_id: str = "snap-1", kind: str = "RDS", **snapshot: Any) -> Job:
        """A new snapshot whose transit copy DR asked for and which now runs."""
        job = self.answer(self.announce(snapshot_id, kind, **snapshot), Msg.COPY_INITIATE)
        assert job.outcome is Outcome.STARTED, job
        stored = self.table.get(transit_id(snapshot_id))
        assert stored is not None and stored.state is State.TRANSIT_COPYING
        return stored

    def share(self, travel: Any, snapshot_id: str = "snap-1") -> Job:
        """A transit copy that took 20 minutes, shared with DR."""
        job = self.start(snapshot_id)
        travel.shift(timedelta(minutes=20))
        self.snaps().finish(job.transit_id)
        assert self.app.poll() == Counter({Outcome.SHARED: 1})
        stored = self.table.get(job.job_id)
        assert stored is not None
        return stored


@dataclass
class ConsumerRig:
    """The consumer and the fakes it runs on; production's snapshots are in its source Region."""

    app: Consumer
    table: FakeJobTable
    sent: FakePublisher
    cloud: FakeCloud
    keys: FakeKeys = field(default_factory=FakeKeys)
    relay_keys: FakeKeys = field(default_factory=FakeKeys)

    def snaps(self, kind: str = "RDS", region: str = "") -> FakeSnapshots:
        return self.cloud.api(DR, kind, region or self.app.region)

    def prod(self, kind: str = "RDS") -> FakeSnapshots:
        return self.cloud.api(PROD, kind, self.app.source_region)

    def source(self, snapshot_id: str = "snap-1", kind: str = "RDS", name: str = "db1", **add: Any) -> Snapshot:
        """A snapshot in production, taken 3 hours ago unless ``created`` says otherwise."""
        return self.prod(kind).add(snapshot_id, name, **{"created": clock.now() - timedelta(hours=3), **add})

    def on(self, message: Message) -> Result:
        result = self.app.on_message(message)
        assert isinstance(result, Result), result
        return result

    def refused(self, message: Message) -> str:
        result = self.app.on_message(message)
        assert isinstance(result, Rejection), result
        return result.reason

    def shared(self, snapshot: Snapshot, **changes: Any) -> Message:
        """Production shares the snapshot's transit copy: its copy-shared."""
        return copy_shared(snapshot, share_transit(self.cloud, snapshot), **changes)

    def copying(self, snapshot_id: str = "snap-1", kind: str = "RDS", **add: Any) -> Job:
        """A snapshot requested, its transit copy shared and verified, its DR copy running."""
        snapshot = self.source(snapshot_id, kind, **add)
        self.on(copy_request(snapshot))
        assert self.on(self.shared(snapshot)).outcome is Outcome.STARTED
        job = self.table.get(dr_copy_id(PROD, snapshot_id))
        assert job is not None and job.state is State.COPYING
        return job

    def nothing_changed(self) -> bool:
        dr = self.snaps()
        return self.table.items == {} and self.sent.sent == [] and self.keys.calls == [] and "copy" not in dr.ops()


def build_producer(cloud: FakeCloud | None = None, region: str = REGION, **env: str) -> ProducerRig:
    """The producer of account ``PROD`` in ``region``, configured by ``PRODUCER_ENV`` and ``env``."""
    config = ProducerConfig.from_env({**PRODUCER_ENV, **env})
    assert not config.problems, config.problems
    cloud = cloud or FakeCloud()
    table, sent = FakeJobTable(), FakePublisher()
    snapshots = cloud.snapshots_of(PROD, region)
    app = Producer(config=config, jobs=table, slots=table, publisher=sent, snapshots=snapshots)
    return ProducerRig(app, table, sent, cloud, region)


def build_consumer(cloud: FakeCloud | None = None, **env: str) -> ConsumerRig:
    """The consumer of account ``DR`` in ``REGION``, configured by ``CONSUMER_ENV`` and ``env``
    (``SOURCE_REGION``: production's snapshots are in another Region)."""
    config = ConsumerConfig.from_env({**CONSUMER_ENV, **env})
    assert not config.problems, config.problems
    cloud = cloud or FakeCloud()
    table, sent, keys, relay_keys = FakeJobTable(inventory=True), FakePublisher(), FakeKeys(), FakeKeys()
    app = Consumer(
        config=config,
        jobs=table,
        slots=table,
        publisher=sent,
        snapshots=cloud.snapshots_of(DR),
        keys=keys,
        inventory=table,
        region=REGION,
        relay_keys=relay_keys,
    )
    return ConsumerRig(app, table, sent, cloud, keys, relay_keys)
