"""The consumer's side of DR's capacity: what a copy must find before it starts, through its ports.

``capacity`` decides (pure); this module reads what the decision needs: AWS's
quota for the kind in DR's Region (``DescribeAccountAttributes``, one call), every
source record (one Query: what each source held after its last pass) and the
kind's copy slots (the copies in flight). It also says what a lifecycle pass
writes back to the source's record (``after_pass``), and names the key budget an
operator approves for onboarding a production account (``key_budget``).

**Key budget.** ``KEY_CAP`` new DR keys a day per source account keeps a stranger
(or a compromised account) from making DR spend on keys; onboarding an account with
200 databases would take 20 days at 10 a day. ``draco budget ACCOUNT --keys N``
(DR credentials) lets that one account make N more keys than the cap within the
hours given (a day by default), each drawn once and never more: the cap for every
other account is unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import capacity, errors
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.jobs import Job
from chalicelib_shared.kinds import SnapshotApi
from chalicelib_shared.lifecycles import LifecyclePass
from chalicelib_shared.log import logger
from chalicelib_shared.naming import DR_PREFIX
from chalicelib_shared.ports import Inventory, SlotStore
from chalicelib_shared.sources import SourceRecord


class Holder(Protocol):
    """What the checks read through: the consumer."""

    config: ConsumerConfig
    inventory: Inventory
    slots: SlotStore

    def api(self, kind: str, region: str = "") -> SnapshotApi: ...


def key_budget(account: str) -> str:
    """The budget counter of one source account's extra new keys (``draco budget``)."""
    return f"keybudget#{account}"


def why_wait(consumer: Holder, job: Job) -> str:
    """Why the job's DR copy must wait for room in DR's snapshot quota ("" when it may start)."""
    records = consumer.inventory.sources()
    key = job.inventory_key
    record = next((r for r in records if r.inventory_key == key), None)
    lifecycles = consumer.config.lifecycles
    in_force = lifecycles.policy(record.lifecycle) if record and record.lifecycle else None
    account_prefix = f"{DR_PREFIX}{job.source_acct}-"  # DR copy ids name the source account (``naming``)
    in_flight = [held for held in consumer.slots.holders(job.kind) if held.startswith(account_prefix)]
    return capacity.room(
        kind=job.kind,
        source_acct=job.source_acct,
        source_name=job.source_name,
        accounts=len(consumer.config.source_accounts),
        quota=_quota(consumer, job.kind),
        holdings=[capacity.Holding(r.source_acct, r.kind, r.source_name, r.held) for r in records],
        account_in_flight=len([held for held in in_flight if held != job.job_id]),
        source_limit=capacity.source_share(lifecycles.max_keep, in_force),
    )


def _quota(consumer: Holder, kind: str) -> Any:
    """DR's quota for the kind in its own Region; ``None`` when AWS reports none or can't be asked now."""
    try:
        return consumer.api(kind).quota()
    except (ClientError, BotoCoreError) as error:  # the copy goes on; AWS refuses it if the quota is full
        logger.warning("could not read the snapshot quota", kind=kind, error=errors.describe(error))
        return None


def after_pass(record: SourceRecord, decided: LifecyclePass, held: int) -> dict[str, Any]:
    """What a lifecycle pass writes to the source's record besides its times.

    The approver stays named only while the lifecycle they approved is in force (a
    lengthening by production is not theirs); a rejected change stays dismissed while
    production still asks for it; ``held`` is the source's use of DR's quota.
    """
    changed = decided.in_force != record.lifecycle
    return {
        "lifecycle": decided.in_force,
        "pending": decided.pending,
        "rejected": decided.rejected,
        "approved_by": "" if changed else record.approved_by,
        "approved_at": "" if changed else record.approved_at,
        "held": held,
    }
