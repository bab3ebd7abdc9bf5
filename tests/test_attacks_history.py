"""Attacks on DR's history: production may add copies to DR, never make DR lose the copies it holds.

Each test is a row of the README's threat model (*History integrity*). The
attacker holds production's credentials and uses only what production holds:
its databases, volumes and their tags, its snapshots, the producer's own
pipeline (which makes and shares transit copies of whatever production
snapshots), and DRACO messages published to DR with the producer's role.
Every test then checks the invariant against the source's real history (the
copies of snapshots production took honestly, once a day at 03:00): DR still
holds every real copy its lifecycle alone would keep, now.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from chalicelib_shared import clock, provenance
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import SUBJECT, EventType, Message
from chalicelib_shared.retention import apply_policy, parse_policy
from draco.world.core import DR, PROD, REGION, LocalWorld
from tests.holding import Holding

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

STANDARD = {"Draco_Lifecycle": "Standard"}
KIND_NAMES = ["RDS", "RDS Cluster", "EBS"]
DAYS = 6  # of real history before an attack: a fake for each copy, and three more, fit in TRANSIT_LIMIT (10)


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def at(world: LocalWorld, day: int, hours: float = 3) -> datetime:
    return world.start + timedelta(days=day, hours=hours)


def daily(world: LocalWorld, days: Iterable[int], source: str) -> list[str]:
    """Production's honest schedule: a snapshot of ``source`` at 03:00 each day, copied to DR."""
    taken = []
    for day in days:
        world.move_to(at(world, day))
        taken.append(world.take_snapshot(source))
        assert world.run_until_quiet()
    return taken


def forge(world: LocalWorld, message: Message) -> str:
    """Publish a message to DR as the producer's role can, and let both apps answer."""
    outcome = world.invoke_sns(DR, SUBJECT, message.body())
    world.deliver()
    return str(outcome)


def held_copies(world: LocalWorld) -> set[str]:
    """The DR jobs whose DR copy exists in AWS."""
    owned = {s.snapshot_id for kind in KINDS.values() for s in kind.api(world.client(kind.service, DR)).owned()}
    return {job.job_id for job in world.jobs(DR) if (job.copy_id or job.job_id) in owned}


def lifecycle_alone_keeps(world: LocalWorld, real: Iterable[str], lifecycle: str = "Standard") -> set[str]:
    """What the lifecycle alone keeps, now, of the source's real copies (those of honest snapshots)."""
    ids = set(real)
    copies = [(job.job_id, job.source_created) for job in world.jobs(DR) if job.source_id in ids]
    assert len(copies) == len(ids)  # every honest snapshot was copied
    return set(apply_policy(parse_policy(lifecycle), copies, clock.now()).keep)


def shared_jobs(world: LocalWorld, source_ids: Iterable[str]) -> list[Job]:
    """Production's own jobs for these snapshots, once their transit copies are shared with DR."""
    ids = set(source_ids)
    shared = [job for job in world.jobs(PROD) if job.source_id in ids and job.state is State.SHARED]
    assert len(shared) == len(ids)
    return sorted(shared, key=lambda job: job.source_id)


def fakes(world: LocalWorld, source: str, claims: list[datetime], **lie: str) -> list[Job]:
    """Snapshot ``source`` now, once per claim, let the producer share the transit copies, and send
    DR a copy-shared for each claiming that time (and ``lie``: other fields); returns DR's jobs."""
    holding: Holding = world.transport  # type: ignore[assignment]
    holding.on = True
    taken = []
    for _ in claims:
        world.advance(timedelta(minutes=1))  # RDS snapshot ids of the world carry the minute
        taken.append(world.take_snapshot(source))
    world.run_until_quiet(limit=timedelta(hours=1))
    for job, claim in zip(shared_jobs(world, taken), claims, strict=True):
        forge(world, replace(message_about(job, EventType.COPY_SHARED, encrypted=True), source_time=claim, **lie))
    holding.on = False
    assert world.run_until_quiet()
    return [job for job in world.jobs(DR) if job.source_id in set(taken)]


def attack_world(log: io.StringIO, kind: str, **options: object) -> tuple[LocalWorld, str]:
    world = LocalWorld(log_stream=log, live=True, transport=Holding(), **options)  # type: ignore[arg-type]
    world.__enter__()
    return world, world.add_source(kind, "victim", STANDARD)


@pytest.fixture(params=KIND_NAMES)
def victim(request: pytest.FixtureRequest, log: io.StringIO) -> Iterator[tuple[LocalWorld, str, list[str]]]:
    """A source of each kind under Standard with six daily copies in DR, deletion on."""
    world, source = attack_world(log, request.param)
    try:
        yield world, source, daily(world, range(DAYS), source)
    finally:
        world.__exit__(None, None, None)


# --------------------------------------------------------------------------- back-dated copies


def test_back_dated_copies_only_add_to_dr(victim: tuple[LocalWorld, str, list[str]]) -> None:
    """Snapshots taken now, claimed as taken just after each copy DR keeps, and three just before now."""
    world, source, real = victim
    world.move_to(at(world, DAYS, hours=1))  # before the day's honest snapshot
    kept = sorted(lifecycle_alone_keeps(world, real))
    times = {job.job_id: job.source_created for job in world.jobs(DR)}
    claims = [times[copy] + timedelta(minutes=1) for copy in kept] + [
        clock.now() - timedelta(minutes=n) for n in (1, 2, 3)
    ]
    added = fakes(world, source, claims)
    copied = (State.DONE, State.EXPIRED)  # DR copied each; the lifecycle may then prune what it doesn't keep
    assert len(added) == len(claims) and all(job.state in copied for job in added)
    aws_dated = added[0].kind == "RDS"  # DB instance snapshots keep AWS's time of the data: claims are ignored
    assert sum(provenance.add_only(job) for job in added) == (0 if aws_dated else len(kept))
    real += daily(world, range(DAYS, DAYS + 4), source)
    assert lifecycle_alone_keeps(world, real) <= held_copies(world)


def test_a_copy_that_arrives_after_its_day_closed_never_displaces_that_days_copy(
    victim: tuple[LocalWorld, str, list[str]],
) -> None:
    """Inside the dating window, but claimed for yesterday: yesterday keeps the copy it had."""
    world, source, real = victim
    world.move_to(at(world, DAYS, hours=0.5))
    (late,) = fakes(world, source, [world.start + timedelta(days=DAYS - 1, hours=23, minutes=59)])
    assert not provenance.add_only(late) and late.state in (State.DONE, State.EXPIRED)
    real += daily(world, range(DAYS, DAYS + 3), source)
    assert lifecycle_alone_keeps(world, real) <= held_copies(world)
    assert late.job_id not in held_copies(world)  # it only ever held day 7 against the real copy, and lost


# --------------------------------------------------------------------------- EBS: another volume's data


@pytest.mark.parametrize("lock", ["", "7"])
def test_another_volumes_snapshots_claimed_as_the_victims_only_add(log: io.StringIO, lock: str) -> None:
    """EBS can't tell DR which volume a copy's data is of: junk claimed as the victim, back-dated."""
    env = {"consumer": {"EBS_LOCK_DAYS": lock}} if lock else None
    world, victim = attack_world(log, "EBS", app_env=env)
    try:
        junk = world.add_volume("junk", STANDARD)
        real = daily(world, range(DAYS), victim)
        world.move_to(at(world, DAYS, hours=1))
        times = {job.job_id: job.source_created for job in world.jobs(DR)}
        kept = sorted(lifecycle_alone_keeps(world, real))
        added = fakes(world, junk, [times[c] + timedelta(minutes=1) for c in kept], source_name=victim)
        assert {job.source_name for job in added} == {victim} and all(provenance.add_only(job) for job in added)
        assert not any(job.locked_until for job in added)  # DR can always remove them
        real += daily(world, range(DAYS, DAYS + 12), victim)  # past the locks of the real copies
        assert lifecycle_alone_keeps(world, real) <= held_copies(world)
    finally:
        world.__exit__(None, None, None)


# --------------------------------------------------------------------------- misfiled copies


def claim(kind: str, source_id: str, name: str, when: datetime, event: EventType) -> Message:
    """A message about snapshot ``source_id`` of production naming source ``name`` and ``kind``."""
    return Message(
        event_type=event,
        snapshot_type=kind,
        source_acct=PROD,
        source_arn=KINDS[kind].arn("aws", REGION, PROD, source_id),
        source_id=source_id,
        source_name=name,
        source_time=when,
        tags=tuple(STANDARD.items()),
    )


@pytest.mark.parametrize("kind", ["RDS", "RDS Cluster"])
@pytest.mark.parametrize("claimed_kind", ["same", "other"])
def test_a_request_naming_the_victim_for_a_snapshot_production_takes_later_does_not_misfile_it(
    log: io.StringIO, kind: str, claimed_kind: str
) -> None:
    """Copy-requests for ``junk-<minute>`` naming the victim (or the other RDS kind), sent before
    production snapshots its own ``junk`` with those ids: the copies are junk's, of junk's kind."""
    world, victim = attack_world(log, kind)
    try:
        junk = world.add_source(kind, "junk", STANDARD)
        real = daily(world, range(DAYS), victim)
        kept = sorted(lifecycle_alone_keeps(world, real))
        times = {job.job_id: job.source_created for job in world.jobs(DR)}
        said = kind if claimed_kind == "same" else next(k for k in ("RDS", "RDS Cluster") if k != kind)
        world.move_to(at(world, DAYS, hours=1))
        taken = []
        for copy in kept:
            world.advance(timedelta(minutes=1))
            source_id = f"{junk}-{clock.now():%Y-%m-%d-%H-%M}"
            when = times[copy] + timedelta(minutes=1)
            assert forge(world, claim(said, source_id, victim, when, EventType.COPY_REQUEST)).startswith("copy")
            taken.append(world.take_snapshot(junk))
            assert taken[-1] == source_id
        assert world.run_until_quiet()
        jobs = {job.source_id: job for job in world.jobs(DR)}
        assert {(jobs[s].source_name, jobs[s].kind) for s in taken} == {(junk, kind)}  # junk's, as AWS says
        assert all(jobs[s].state in (State.DONE, State.EXPIRED) for s in taken)  # copied (junk's lifecycle prunes)
        real += daily(world, range(DAYS, DAYS + 3), victim)
        assert lifecycle_alone_keeps(world, real) <= held_copies(world)
    finally:
        world.__exit__(None, None, None)


def test_a_message_that_disagrees_with_a_verified_job_is_rejected_and_changes_nothing(
    log: io.StringIO,
) -> None:
    world, victim = attack_world(log, "RDS")
    try:
        world.add_instance("junk", STANDARD)
        (taken,) = daily(world, range(1), "junk")
        (job,) = [job for job in world.jobs(DR) if job.source_id == taken]
        before = world.state()
        for event in (EventType.COPY_REQUEST, EventType.COPY_SHARED):
            lie = replace(
                claim("RDS", taken, victim, job.source_created, event),
                transit_arn=job.transit_arn,
                transit_id=job.transit_id,
            )
            assert forge(world, lie).startswith("rejected: message disagrees with the job DR verified")
        assert world.state() == before
        assert any("disagrees with the job DR verified" in line for line in log.getvalue().splitlines())
    finally:
        world.__exit__(None, None, None)
