"""The DR account's side of the pipeline, put together from its parts.

Decides what to copy and verifies each shared transit copy (``consumer_requests``),
copies it under the source's DR key (``consumer_copies``; across Regions in two
steps by way of a relay copy, ``consumer_relay``), tells the producer to delete the
transit copy once DR holds its own, then applies the source's lifecycle to that
source's DR copies (``consumer_lifecycle``). Production is a source of requests,
never of authority over what DR holds. ``Consumer`` only routes: the poll round's
hooks (``pipeline.Side``) and the handlers' entry points go to the part that does
the work.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import errors
from chalicelib_shared.consumer_copies import Copies
from chalicelib_shared.consumer_lifecycle import LifecycleRun
from chalicelib_shared.consumer_relay import Relay
from chalicelib_shared.consumer_requests import SHARE_TIMEOUT, Requests
from chalicelib_shared.consumer_side import ConsumerSide
from chalicelib_shared.jobs import Job
from chalicelib_shared.kinds import Snapshot, SnapshotEvent
from chalicelib_shared.log import logger
from chalicelib_shared.messages import Message
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.rejection import Rejection


@dataclass
class Consumer(ConsumerSide):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.requests = Requests(self)
        self.lifecycle = LifecycleRun(self)
        self.copies = Copies(self, Relay(self), self.lifecycle.apply)

    # --- the handlers' entry points -----------------------------------------------------
    def on_message(self, message: Message) -> Result | Rejection:
        return self.requests.on_message(message)

    def on_event(self, event: SnapshotEvent) -> Result:
        return self.copies.on_event(event)

    def apply_lifecycle(self, inventory_key: str) -> dict[str, list[str]]:
        return self.lifecycle.apply(inventory_key)

    def report_recovery_point(self) -> dict[str, float]:
        return self.lifecycle.report_recovery_point()

    # --- the poll round's hooks ---------------------------------------------------------
    def start_copy(self, job: Job) -> Result:
        return self.copies.start(job)

    def check_copy(self, job: Job, copy: Snapshot | None) -> Result:
        return self.copies.check(job, copy)

    def on_due(self, job: Job) -> Result:
        """A copy-initiate that no copy-shared followed within ``SHARE_TIMEOUT``."""
        return self.fail(job, f"no transit copy was shared within {SHARE_TIMEOUT.days} days")

    def poll(self) -> Counter[Outcome]:
        """A poll round, and hourly the recovery point: how old each source's newest copy is."""
        outcomes = super().poll()
        if self.container.hourly("Consumer:recovery-point"):
            self._report_hourly()
        return outcomes

    def hourly_checks(self) -> None:
        super().hourly_checks()
        self._report_hourly()

    def _report_hourly(self) -> None:
        """The hourly recovery-point report; a read that fails leaves the run's other work standing (a silent
        hour is what the ``RecoveryPointAge`` alarm counts)."""
        try:
            self.report_recovery_point()
        except (ClientError, BotoCoreError) as error:
            logger.warning("recovery point not reported this hour", error=errors.describe(error))
