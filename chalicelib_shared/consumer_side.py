"""The consumer's ports and where its copies go: what every part of the consumer reads.

A consumer job's ``leg`` (``jobs.Leg``) says which copy it is on, decided when the
job is made (one step, or two across Regions for kinds AWS can't copy from another
account into another Region at once) and moved on when the relay copy is ready;
the Region, copy slot and copy id follow from it, never from the job's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job, Leg
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import Message
from chalicelib_shared.pipeline import Side
from chalicelib_shared.ports import Inventory, KeyStore


@dataclass
class ConsumerSide(Side):
    config: ConsumerConfig
    keys: KeyStore  # DR keys, in DR's Region
    inventory: Inventory
    region: str  # DR's Region
    relay_keys: KeyStore | None = field(default=None, kw_only=True)  # across Regions: in the source Region

    @property
    def source_region(self) -> str:
        """Where production's snapshots and transit copies are (``SOURCE_REGION``, else DR's own)."""
        return self.config.source_region or self.region

    def first_leg(self, kind: str) -> Leg:
        """Across Regions, a kind AWS can't copy from another account into another Region in one step
        goes by a relay copy in the source Region; anything else straight into DR's Region."""
        two_steps = self.source_region != self.region and not KINDS[kind].one_step_across_regions
        return Leg.TO_RELAY if two_steps else Leg.DIRECT

    def copy_region(self, job: Job) -> str:
        """The relay copy lands in the source Region; anything else in DR's."""
        return self.source_region if job.leg is Leg.TO_RELAY else ""

    def copy_id(self, job: Job) -> str:
        if job.leg is Leg.TO_RELAY:
            return job.relay_id or job.job_id
        return job.copy_id or job.job_id

    def _topic(self, message: Message) -> str:
        """The producer topic of the message's own source account, in the source Region."""
        partition = message.source_arn.split(":")[1]
        return f"arn:{partition}:sns:{self.source_region}:{message.source_acct}:{self.config.producer_topic_name}"

    def elsewhere(self, region: str) -> str:
        """``region`` when it is not DR's own ("": DR's)."""
        return "" if region == self.region else region
