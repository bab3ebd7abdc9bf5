"""The small interfaces the use-cases depend on, so they can run against fakes as well as AWS.

Adapters to AWS: ``job_table.JobTable`` (DynamoDB: jobs, slots, counters, source
records), ``SnsPublisher``, ``keys.SourceKeys`` (KMS) and each kind's
``SnapshotApi`` (``kinds``). The unit tests give the same use-cases in-memory
fakes of these (``tests/fakes.py``) to reach every branch, the failure and race
branches included; the end-to-end tests run them against moto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import SnapshotApi
from chalicelib_shared.messages import Message, publish
from chalicelib_shared.sources import SourceRecord


class JobStore(Protocol):
    def get(self, job_id: str) -> Job | None: ...

    def get_with_holders(self, job_id: str, pool: str) -> tuple[Job | None, set[str]]:
        """A job and the holders of a slot pool, in one read."""

    def create(self, job: Job, due: datetime | None = None) -> Job | None:
        """The job as stored, or ``None`` when one with its id exists."""

    def advance(
        self, job: Job, state: State, *, due: datetime | None = None, release: Iterable[str] = (), **changes: Any
    ) -> Job | None:
        """The job moved on, or ``None`` when another run moved it first; ``release``: slot pools left."""

    def due_jobs(self, now: datetime) -> Iterator[Job]: ...

    def next_due(self) -> datetime | None: ...

    def existing(self, job_ids: Iterable[str]) -> set[str]: ...


class SlotStore(Protocol):
    """Places in named pools (copies in flight per kind, transit copies held): a job holds at most one each."""

    def take(self, pool: str, job_id: str, limit: int) -> bool: ...

    def release(self, pool: str, job_ids: Iterable[str]) -> None: ...

    def holders(self, pool: str) -> set[str]: ...

    def count(self, name: str, limit: int) -> bool:
        """Add one to counter ``name`` unless it reached ``limit``."""

    def draw(self, name: str, now: str) -> bool:
        """Take one from budget ``name`` (an operator's grant) while some is left and ``now`` is before its end."""


class Inventory(Protocol):
    """The consumer's DR copies by source, and its source records."""

    def inventory(self, inventory_key: str) -> list[Job]: ...

    def source(self, inventory_key: str) -> SourceRecord | None: ...

    def save_source(
        self,
        record: SourceRecord,
        entry: dict[str, Any] | None = None,
        release: tuple[str, Iterable[str]] | None = None,
    ) -> SourceRecord | None:
        """The record as saved, or ``None`` when another run saved it first; ``release``: (pool, job ids) whose
        places are given back in the same write."""

    def sources(self) -> list[SourceRecord]: ...


class Publisher(Protocol):
    def publish(self, topic_arn: str, message: Message) -> None: ...


class KeyStore(Protocol):
    def find(self, source_name: str) -> str | None:
        """The ARN of the source's DR key, if it has one."""

    def create(self, source_name: str) -> str:
        """Make the source's DR key (rotation on, alias last) and return its ARN."""


#: A kind's snapshots in this account, by SnapshotType; a second argument names another Region.
Snapshots = Callable[..., SnapshotApi]


class SnsPublisher:
    """Publishes DRACO messages with an SNS client of the topic's own Region (the peer may be in another)."""

    def __init__(self, sns: Callable[[str], Any]) -> None:
        self._sns = sns

    def publish(self, topic_arn: str, message: Message) -> None:
        publish(self._sns(topic_arn.split(":")[3]), topic_arn, message)
