"""Where a DR copy's facts come from (``provenance``) and late copies in retention: pure rules, no AWS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib_shared import clock, provenance
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import Phase, Snapshot
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.messages import EventType, Message
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.retention import apply_policy, parse_policy

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
PROD = "111111111111"
ARN = f"arn:aws:rds:us-east-1:{PROD}:snapshot:junk-d1"


def t(day: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hours)


# --- late copies in retention -----------------------------------------------------------------


def test_a_copy_that_arrives_after_its_day_closed_never_takes_that_days_slot() -> None:
    copies = [("a", t(1, 3)), ("late", t(1, 23)), ("c", t(2, 3))]
    arrived = {"a": t(1, 3.2), "late": t(2, 0.5), "c": t(2, 3.2)}
    assert apply_policy(parse_policy("daily=2"), copies, t(3), arrived).keep == ["c", "a"]
    assert apply_policy(parse_policy("daily=2"), copies, t(3)).keep == ["c", "late"]  # without arrivals: newest


def test_a_late_copy_alone_in_its_day_is_kept_without_pushing_a_day_out() -> None:
    copies = [("d0", t(0, 3)), ("gap", t(1, 23)), ("d2", t(2, 3))]
    arrived = {"d0": t(0, 3), "gap": t(2, 1), "d2": t(2, 3)}
    result = apply_policy(parse_policy("daily=2"), copies, t(3), arrived)
    assert result.keep == ["d2", "gap", "d0"] and result.reasons["gap"] == ["daily (late)"]


# --- add-only copies ------------------------------------------------------------------------


def job(job_id: str, taken: datetime, heard: datetime, **fields: object) -> Job:
    base = Job(
        job_id, State.DONE, "RDS Cluster", PROD, ARN, job_id, "orders", clock.iso(taken), created=clock.iso(heard)
    )
    return Job(**{**base.__dict__, "verified": clock.iso(heard), **fields})  # type: ignore[arg-type]


def test_a_copy_dated_beyond_the_window_only_adds() -> None:
    assert not provenance.add_only(job("a", t(1), t(1) + provenance.WINDOW))
    assert provenance.add_only(job("b", t(1), t(1) + provenance.WINDOW + timedelta(seconds=1)))
    assert not provenance.add_only(job("legacy", t(1), t(1), created=""))  # copies made before DR recorded it


def test_add_only_copies_never_displace_dated_ones_or_take_the_floor() -> None:
    real = [job(f"r{d}", t(d, 3), t(d, 3.2)) for d in range(5)]
    fake = [job(f"f{d}", t(d, 4), t(5)) for d in range(5)]  # claimed just after each, heard on day 5
    settings = Lifecycles({}, min_keep=2)
    decided = provenance.plan(settings, None, "daily=3", [*real, *fake], t(5, 6))
    alone = provenance.plan(settings, None, "daily=3", real, t(5, 6))
    assert set(alone.delete) == {"r1", "r0"}
    # Real copies go as they would without the fakes; the fakes are thinned among all copies.
    assert decided.delete == ("f3", "f2", "f1", "r1", "f0", "r0")  # newest first


# --- binding a job to the verified transit copy ----------------------------------------------------


def message(kind: str = "RDS", name: str = "junk", event: EventType = EventType.COPY_SHARED) -> Message:
    return Message(
        event_type=event,
        snapshot_type=kind,
        source_acct=PROD,
        source_arn=ARN,
        source_id="junk-d1",
        source_name=name,
        source_time=t(1),
        transit_arn=f"arn:aws:rds:us-east-1:{PROD}:snapshot:draco-transit-junk-d1",
        transit_id="draco-transit-junk-d1",
    )


TRANSIT = Snapshot(
    "draco-transit-junk-d1", "arn", "draco-transit-junk-d1", "junk", "available", Phase.READY, t(1, 1), True,
    "manual", owner=PROD, original_time=False,
)  # fmt: skip


def test_a_job_is_bound_to_the_verified_snapshot_not_to_the_first_claim() -> None:
    claimed = Job("draco-x", State.INITIATED, "RDS Cluster", PROD, ARN, "junk-d1", "orders", clock.iso(t(0)))
    bound = provenance.bind(claimed, message(), TRANSIT)
    assert not isinstance(bound, Rejection)
    assert (bound.kind, bound.source_name, bound.verified != "") == ("RDS", "junk", True)
    assert provenance.disagreement(bound, message()) is None
    refused = provenance.disagreement(bound, message(name="orders"))
    assert refused is not None and "source_name" in refused.reason
    assert isinstance(provenance.bind(bound, message(kind="RDS Cluster"), TRANSIT), Rejection)


def test_an_unbound_job_answers_each_request_in_its_own_words() -> None:
    claimed = Job("draco-x", State.INITIATED, "RDS Cluster", PROD, ARN, "junk-d1", "orders", clock.iso(t(0)))
    answer = provenance.answering(claimed, message(event=EventType.COPY_REQUEST))
    assert (answer.kind, answer.source_name) == ("RDS", "junk")
