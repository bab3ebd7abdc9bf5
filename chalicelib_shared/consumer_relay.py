"""Copies across Regions in two steps: DR's relay copy in the source Region, then into DR's Region.

For kinds AWS can't copy from another account into another Region at once, the
first copy lands in the source Region under DR's one relay key there
(``alias/DRACO-Relay``); once it is ready production's transit copy can go, and
the relay step copies it into DR's Region under the source's DR key (kept on the
job since the first step). The relay copy is deleted once the DR copy is ready.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, Leg, State
from chalicelib_shared.kinds import SnapshotApi
from chalicelib_shared.messages import EventType as Msg
from chalicelib_shared.outcomes import Outcome, Result

#: DR's key in the source Region, for relay copies across Regions: ``alias/DRACO-Relay``.
RELAY_KEY = "Relay"


@dataclass
class Relay:
    """The relay copy's key, its readiness, and its end."""

    side: ConsumerSide

    def key(self) -> str:
        """DR's one key in the source Region, for relay copies (made once, like a DR key)."""
        relay_keys = self.side.relay_keys
        if relay_keys is None:
            raise RuntimeError("copies across Regions in two steps need the relay key store")
        return relay_keys.find(RELAY_KEY) or relay_keys.create(RELAY_KEY)

    def ready(self, job: Job) -> Result:
        """DR holds its relay copy: production's transit copy can go; start the copy into DR's Region."""
        side = self.side
        side.send(message_about(job, Msg.DELETE_SHARED))
        queued = side.finished(job, State.RELAY_QUEUED, reason="", leg=Leg.RELAY)
        if queued is None:
            return Result(Outcome.DUPLICATE, "moved by another run", job.source_arn)
        return side.start_or_queue(queued, State.RELAY_QUEUED)

    def done(self, job: Job) -> None:
        """The DR copy is ready: the relay copy goes (the transit copy went when it was ready)."""
        self.side.api(job.kind, self.side.source_region).delete(job.relay_id)


def arn_of(api: SnapshotApi, job: Job) -> str:
    """A relay copy's ARN, when AWS answered a copy with its id only."""
    found = api.find_copy(job.job_id)
    return found.arn if found else ""
