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
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import SnapshotApi
from chalicelib_shared.lifecycles import LifecyclePass
from chalicelib_shared.log import logger
from chalicelib_shared.naming import DR_PREFIX
from chalicelib_shared.ports import Inventory, JobStore, SlotStore
from chalicelib_shared.sources import SourceRecord


class Holder(Protocol):
    """What the checks read through: the consumer."""

    config: ConsumerConfig
    inventory: Inventory
    slots: SlotStore
    jobs: JobStore

    def api(self, kind: str, region: str = "") -> SnapshotApi: ...


def key_budget(account: str) -> str:
    """The budget counter of one source account's extra new keys (``draco budget``)."""
    return f"keybudget#{account}"


#: States of a job whose DR copy (or relay copy) exists but is not yet counted in its source's record.
IN_FLIGHT = frozenset({State.COPYING, State.RELAY_QUEUED, State.RELAYING})


def in_flight_pool(inventory_key: str) -> str:
    """A source's pool of DR copies in flight; a done copy leaves it in the write of the lifecycle pass that
    counts it in the source's record (``LifecycleRun.apply``), so it is counted once, never twice or not at all."""
    return f"room#{inventory_key}"


def _flying(consumer: Holder, job: Job) -> tuple[str, int]:
    """The source's pool of copies in flight, and how many others hold a place in it.

    A place is left when its job is no longer in flight (done: counted in the source's
    record by its pass, which gives the place back; failed; waiting again): any other
    holder is looked at here, for the few left behind.
    """
    pool = in_flight_pool(job.inventory_key)
    others = consumer.slots.holders(pool) - {job.job_id}
    gone = [held for held in others if (found := consumer.jobs.get(held)) is None or found.state not in IN_FLIGHT]
    consumer.slots.release(pool, gone)
    return pool, len(others) - len(gone)


def why_wait(consumer: Holder, job: Job) -> str:
    """Why the job's DR copy must wait for room in DR's snapshot quota ("" when it may start).

    A copy that may start takes its place in its source's pool of copies in flight, in a
    write conditional on the pool's size, so two runs starting copies at once can't both
    take the last place. What is in flight is read only when it could decide: the account's
    copies of the kind when even the most there can be (the kind's copy limit) would not
    fit its share of the quota, and the source's pool when the take is refused (then places
    left behind are given back and the take is tried once more).
    """
    records = consumer.inventory.sources()
    key = job.inventory_key
    record = next((r for r in records if r.inventory_key == key), None)
    lifecycles = consumer.config.lifecycles
    in_force = lifecycles.policy(record.lifecycle) if record and record.lifecycle else None
    limit = capacity.source_share(lifecycles.max_keep, in_force)
    held = record.held if record else 0
    quota = _quota(consumer, job.kind)

    def room(account_in_flight: int, source_in_flight: int) -> str:
        return capacity.room(
            kind=job.kind,
            source_acct=job.source_acct,
            source_name=job.source_name,
            quota=quota,
            holdings=[capacity.Holding(r.source_acct, r.kind, r.source_name, r.held) for r in records],
            account_in_flight=account_in_flight,
            source_in_flight=source_in_flight,
            source_limit=limit,
        )

    most = consumer.config.limits.copies[job.kind] - 1  # the copies of the kind in flight besides this one
    why = room(most, 0) and room(_account_in_flight(consumer, job), 0)
    pool = in_flight_pool(key)
    if why or consumer.slots.take(pool, job.job_id, limit - held):
        return why
    pool, flying = _flying(consumer, job)
    why = room(_account_in_flight(consumer, job), flying)
    if why or consumer.slots.take(pool, job.job_id, limit - held):
        return why
    return f"{job.source_name} holds its share of DR's {job.kind} snapshots (another copy took the last place)"


def _account_in_flight(consumer: Holder, job: Job) -> int:
    """The source account's other copies of the kind in flight (its copy slots' holders)."""
    account_prefix = f"{DR_PREFIX}{job.source_acct}-"  # DR copy ids name the source account (``naming``)
    held = consumer.slots.holders(job.kind)
    return len([other for other in held if other.startswith(account_prefix) and other != job.job_id])


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
