"""Snapshots in memory: each kind's ``SnapshotApi`` in one fake account and Region.

A ``FakeCloud`` holds every account's and Region's snapshots, so an account
sees what another shared with it (in the same Region, as AWS's Describe calls
do) and copies it (across Regions only for kinds AWS copies so in one step).
Copies start in progress until the test finishes or fails them; any operation
can be made to raise a real ``botocore`` ``ClientError`` with a code; every
call is logged. Kinds differ only where the use-cases see it (``TRAITS``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib_shared import clock
from chalicelib_shared.kinds import KINDS, Phase, Snapshot
from chalicelib_shared.kinds.base import CopyStart, Quota
from chalicelib_shared.kinds.rds import SWEPT_TYPES
from chalicelib_shared.naming import LIFECYCLE_TAG

REGION = "us-east-1"


def client_error(operation: str, code: str, message: str = "", status: int = 400) -> ClientError:
    """The error botocore raises when AWS answers ``code``."""
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


@dataclass(frozen=True)
class Traits:
    """How AWS treats a kind's snapshots, as far as the use-cases can tell."""

    aws_ids: bool  # AWS names copies (EBS ``snap-...``), answers a copy with its id only, records no source
    keeps_time: bool  # a copy keeps the data's time (RDS instance: OriginalSnapshotCreateTime)


TRAITS = {
    "RDS": Traits(aws_ids=False, keeps_time=True),
    "RDS Cluster": Traits(aws_ids=False, keeps_time=False),
    "EBS": Traits(aws_ids=True, keeps_time=False),
}
_STATUS = {Phase.READY: "available", Phase.IN_PROGRESS: "copying", Phase.FAILED: "failed"}
_ids = itertools.count(0x0ABC0000000000000)


class FakeCloud:
    """Every fake account's snapshots of every kind, in every Region."""

    def __init__(self) -> None:
        self._apis: dict[tuple[str, str, str], FakeSnapshots] = {}

    def api(self, account: str, kind: str = "RDS", region: str = REGION) -> FakeSnapshots:
        if (account, kind, region) not in self._apis:
            self._apis[(account, kind, region)] = FakeSnapshots(self, account, kind, region)
        return self._apis[(account, kind, region)]

    def snapshots_of(self, account: str, region: str = REGION) -> Callable[..., FakeSnapshots]:
        """The ``Snapshots`` port of one account in its Region: SnapshotType (and another Region) -> API."""
        return lambda kind, where="": self.api(account, kind, where or region)


class FakeSnapshots:
    """One kind's snapshots in one account and Region (a ``SnapshotApi``); see the module docstring."""

    def __init__(self, cloud: FakeCloud, account: str, kind: str, region: str) -> None:
        self.cloud = cloud
        self.account = account
        self.kind = KINDS[kind]
        self.region = region
        self.traits = TRAITS[kind]
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
        snapshot_type: str | None = None,
        encrypted: bool = True,
        size_gb: int = 20,
        name: str = "",
        managed_by: str = "",
    ) -> Snapshot:
        """A snapshot of this account, as if taken (tagged ``Standard`` unless ``tags`` says otherwise)."""
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            arn=self.arn(snapshot_id),
            name=name or snapshot_id.lower(),
            source_name=source_name,
            status=_STATUS[phase],
            phase=phase,
            created=created or clock.now(),
            encrypted=encrypted,
            snapshot_type=("" if self.traits.aws_ids else "manual") if snapshot_type is None else snapshot_type,
            tags=dict({LIFECYCLE_TAG: "Standard"} if tags is None else tags),
            size_gb=size_gb,
            owner=self.account,
            original_time=self.traits.keeps_time,
            managed_by=managed_by,
        )
        self.snapshots[snapshot_id.lower()] = snapshot
        return snapshot

    def arn(self, snapshot_id: str) -> str:
        return self.kind.arn("aws", self.region, self.account, snapshot_id)

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

    def _named(self, name: str) -> Snapshot | None:
        return next((s for s in self.snapshots.values() if s.name == name.lower()), None)

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
        """Finished snapshots of a source, made since ``since``: not others' shared ones, not EBS copies."""
        self._call("recent", since)
        swept = {""} if self.traits.aws_ids else SWEPT_TYPES
        return iter(
            [
                s
                for s in self.snapshots.values()
                if s.phase is Phase.READY and s.snapshot_type in swept and s.source_name and s.created >= since
            ]
        )

    def shared(self, arn: str) -> Snapshot | None:
        self._call("shared", arn)
        parsed = self.kind.parse_arn(arn)
        found = self._shared_with_me(arn) if parsed is not None and parsed.region == self.region else None
        return replace(found, snapshot_type="shared" if found.snapshot_type else "", tags={}) if found else None

    def _shared_with_me(self, arn: str) -> Snapshot | None:
        parsed = self.kind.parse_arn(arn)
        if parsed is None or parsed.account == self.account:
            return None
        owner = self.cloud.api(parsed.account, self.kind.name, parsed.region)
        if self.account not in owner.shared_with.get(parsed.snapshot_id.lower(), set()):
            return None
        return owner.snapshots.get(parsed.snapshot_id.lower())

    def _source(self, arn: str, source_region: str) -> Snapshot:
        """What a copy reads: this account's snapshot, or one shared with it, where AWS can copy from."""
        parsed = self.kind.parse_arn(arn)
        if parsed is None:
            raise client_error("copy", "InvalidParameterValue", f"{arn} is not a snapshot ARN")
        if parsed.region != self.region and not self.traits.aws_ids and source_region != parsed.region:
            raise client_error("copy", "InvalidParameterCombination", "a copy across Regions needs SourceRegion")
        if parsed.account == self.account:
            found = self.cloud.api(self.account, self.kind.name, parsed.region).snapshots.get(parsed.snapshot_id)
        elif parsed.region == self.region or self.kind.one_step_across_regions:
            found = self._shared_with_me(arn)
        else:
            raise client_error("copy", "InvalidParameterCombination", "a shared snapshot is copied in its Region")
        if found is None:
            raise client_error("copy", "SnapshotNotFound", f"{arn} not found")
        return found

    def announce(self, snapshot: Snapshot) -> Snapshot:
        self._call("announce", snapshot.snapshot_id)
        return snapshot

    def find_copy(self, name: str) -> Snapshot | None:
        self._call("find_copy", name)
        return self._named(name)

    def copy(
        self, source_arn: str, name: str, kms_key_id: str | None, tags: Mapping[str, str], source_region: str = ""
    ) -> CopyStart:
        self._call("copy", source_arn, name, kms_key_id, dict(tags), source_region)
        existing = self._named(name)
        if existing is not None:
            return CopyStart(existing.snapshot_id, existing.arn, started=False)
        source = self._source(source_arn, source_region)
        if kms_key_id and not source.encrypted and not self.kind.encrypts_on_copy:
            raise client_error("copy", "InvalidParameterCombination", "can't encrypt an unencrypted snapshot")
        snapshot_id = f"snap-{next(_ids):017x}" if self.traits.aws_ids else name
        copied = replace(
            self.add(snapshot_id, "" if self.traits.aws_ids else source.source_name, name=name),
            created=source.created if self.traits.keeps_time else clock.now(),
            phase=Phase.IN_PROGRESS,
            status=_STATUS[Phase.IN_PROGRESS],
            encrypted=source.encrypted or bool(kms_key_id),
            tags=dict(tags),
            size_gb=source.size_gb,
            copied_from="" if self.traits.aws_ids else source_arn,
        )
        self.snapshots[snapshot_id.lower()] = copied
        return CopyStart(snapshot_id, "" if self.traits.aws_ids else copied.arn, started=True)

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

    def quotas(self) -> dict[str, Quota]:
        quota = self.quota()
        return {} if quota is None else {self.kind.name: quota}

    def quota(self) -> Quota | None:
        self._call("quota")
        if self.quota_max is None:
            return None
        return Quota(sum(s.snapshot_type == "manual" for s in self.snapshots.values()), self.quota_max)
