"""Copies taking time in the local world, in every account and Region it holds.

moto makes a copy ready at once; AWS takes minutes to hours. After each app
run the world asks ``CopyTracker.track`` for snapshots it has not seen: those
the apps made are copies, and stay in progress for the world's copy time.
``finish`` makes the ones whose time has come ready and says what AWS sends
then (the kind's copy-finished notification, from the Region the copy is in).
Snapshots the world makes itself (sources, seeded DR copies) are registered
first (``register_existing``), so they are never taken for copies. A copy AWS
made but will fail (``moto_gaps``: an EBS copy under a key of another Region)
is in progress as long, then ends failed, with no notice (the pollers find it).

With DR in another Region, copies land in three places: production's transit
copies in the source Region, DR's copies in the DR Region, and, for kinds
copied across Regions in two steps, DR's relay copies in the source Region.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib_shared import clock
from draco.world.kinds import WORLD_KINDS, Notification, World, WorldKind

#: Where a snapshot is: (account, Region, SnapshotType, snapshot id).
Place = tuple[str, str, str, str]


@dataclass
class Copy:
    account: str
    region: str
    kind: str  # SnapshotType
    snapshot_id: str
    ready_at: datetime
    fails: bool = False  # it ends failed, not ready


@dataclass(frozen=True)
class Finished:
    """A copy that became ready, and what AWS sends for it in its account and Region (``None``: nothing)."""

    account: str
    region: str
    notification: Notification | None


class CopyTracker:
    """The copies in flight in each account of ``homes`` (account -> its app's Region), in ``regions``."""

    def __init__(self, homes: Mapping[str, str], regions: tuple[str, ...]) -> None:
        self.homes = homes
        self.places = tuple((account, region) for account in homes for region in regions)
        self.in_flight: dict[Place, Copy] = {}
        self._known: set[Place] = set()

    def snapshots(self, world: World) -> Iterator[tuple[WorldKind, str, str, str, Any]]:
        """(adapter, account, Region, snapshot id, moto's record) for every snapshot in every place."""
        for account, region in self.places:
            for adapter in WORLD_KINDS.values():
                for snapshot_id, snapshot in list(adapter.snapshots(world, account, region).items()):
                    yield adapter, account, region, snapshot_id, snapshot

    def register_existing(self, world: World) -> None:
        """Snapshots the world made itself are not copies in progress."""
        self._known.update((account, region, a.kind, sid) for a, account, region, sid, _ in self.snapshots(world))

    def track(self, world: World, copy_time: timedelta, peaks: Counter[str]) -> None:
        """Any snapshot the apps made is a copy: it stays in progress for ``copy_time``.

        ``peaks`` keeps the most copies in flight at once, by account and kind (``<account>:<label>``),
        and apart for an account's copies outside its app's Region (``<account>@<region>:<label>``).
        """
        for adapter, account, region, snapshot_id, snapshot in self.snapshots(world):
            place = (account, region, adapter.kind, snapshot_id)
            if place not in self._known:
                self._known.add(place)
                fails = snapshot.status == adapter.failed
                snapshot.status = adapter.copying
                ready_at = clock.now() + copy_time
                self.in_flight[place] = Copy(account, region, adapter.kind, snapshot_id, ready_at, fails)
        in_flight = Counter(self._pool(copy) for copy in self.in_flight.values())
        for kind, count in in_flight.items():
            peaks[kind] = max(peaks[kind], count)

    def _pool(self, copy: Copy) -> str:
        where = "" if copy.region == self.homes[copy.account] else f"@{copy.region}"
        return f"{copy.account}{where}:{WORLD_KINDS[copy.kind].label}"

    def finish(self, world: World, events: bool) -> list[Finished]:
        """Make every copy whose time has come ready; with ``events``, with what AWS sends for it."""
        now = clock.now()
        done = []
        for place, copy in list(self.in_flight.items()):
            if copy.ready_at > now:
                continue
            del self.in_flight[place]
            adapter = WORLD_KINDS[copy.kind]
            snapshot = adapter.snapshots(world, copy.account, copy.region).get(copy.snapshot_id)
            notification = None
            if snapshot is not None and copy.fails:
                snapshot.status = adapter.failed
            elif snapshot is not None:
                snapshot.status = adapter.ready
                if events:
                    notification = adapter.copy_finished(world, copy.account, copy.region, copy.snapshot_id, snapshot)
            done.append(Finished(copy.account, copy.region, notification))
        return done
