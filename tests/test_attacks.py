"""The attack suite: what someone holding production credentials can and cannot do to DR.

Each test is a row of the README's threat-model table. The attacker acts only
through what production controls: its databases and their tags, its snapshots,
its KMS keys, and DRACO messages published to DR's topic with the producer's
role (well formed, and lying). Deletion in DR is on (``NO_DRY_RUN``) unless a
test says otherwise. The invariant every test checks in its own way: no DR copy
that the lifecycle in force keeps disappears, and DR spends nothing (keys) on
what AWS doesn't show to exist.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib_shared import clock
from chalicelib_shared.job_messages import message_about
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import Job, State
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import SUBJECT, EventType, Message
from chalicelib_shared.naming import is_transit_id, transit_id
from chalicelib_shared.retention import apply_policy, parse_policy
from draco.world.core import DR, PROD, REGION, LocalWorld
from tests.holding import Holding

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

STANDARD = {"Draco_Lifecycle": "Standard"}
FAR_FUTURE = datetime(2099, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


def log_lines(log: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]


def dr_copies(world: LocalWorld) -> set[str]:
    return {s.snapshot_id for kind in KINDS.values() for s in kind.api(world.client(kind.service, DR)).owned()}


def dr_keys(world: LocalWorld) -> list[str]:
    return sorted(
        a["AliasName"]
        for a in world.client("kms", DR).list_aliases()["Aliases"]
        if a["AliasName"].startswith("alias/DRACO-")
    )


def transit_copies(world: LocalWorld) -> list[str]:
    return [
        s.name
        for kind in KINDS.values()
        for s in kind.api(world.client(kind.service, PROD)).owned()
        if is_transit_id(s.name)
    ]


def daily(world: LocalWorld, days: range, *names: str) -> None:
    for day in days:
        world.move_to(world.start + timedelta(days=day, hours=3))
        for name in names:
            world.take_snapshot(name)
        assert world.run_until_quiet()


def retag(world: LocalWorld, name: str, lifecycle: str) -> None:
    rds = world.client("rds", PROD)
    arn = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Draco_Lifecycle", "Value": lifecycle}])


def forge(world: LocalWorld, message: Message) -> str:
    """Publish a message to DR's topic as the producer's role would, and let both apps answer."""
    outcome = world.invoke_sns(DR, SUBJECT, message.body())
    world.deliver()
    return str(outcome)


def standard_keeps(world: LocalWorld) -> set[str]:
    """What Standard alone would keep of every DR copy ever made, as of now."""
    made = [(job.job_id, job.source_created) for job in world.jobs(DR) if job.state in (State.DONE, State.EXPIRED)]
    return set(apply_policy(parse_policy("Standard"), made, clock.now()).keep)


def sources(world: LocalWorld) -> dict[str, object]:
    table = JobTable(world.job_table(DR), inventory=True)
    return {record.source_name: record for record in table.sources()}


@pytest.fixture
def standard_world(log: io.StringIO) -> Iterator[LocalWorld]:
    """``orders`` under Standard with eight daily copies in DR, deletion on."""
    with LocalWorld(log_stream=log, live=True, transport=Holding()) as world:
        world.add_instance("orders", STANDARD)
        daily(world, range(8), "orders")
        assert len(dr_copies(world)) == 8
        yield world


# --------------------------------------------------------------------------- retention authority


@pytest.mark.parametrize("shorter", ["last=1", "Test"])
def test_retagging_a_source_to_a_shorter_lifecycle_deletes_nothing_standard_keeps(
    standard_world: LocalWorld, log: io.StringIO, shorter: str
) -> None:
    world = standard_world
    retag(world, "orders", shorter)
    daily(world, range(8, 10), "orders")
    assert dr_copies(world) == standard_keeps(world)  # all Standard keeps, and what it deletes anyway
    record = sources(world)["orders"]
    assert (record.lifecycle, record.pending) == ("Standard", shorter)  # type: ignore[attr-defined]
    alerts = [line for line in log_lines(log) if line.get("message") == "lifecycle change waits for approval in DR"]
    assert len(alerts) == 1 and alerts[0]["requested"] == shorter  # logged once, when the change appeared
    assert "LifecycleChangesPending" in log.getvalue()  # the metric the alarm watches


def test_a_forged_copy_shared_with_a_future_time_and_last_1_changes_nothing(
    standard_world: LocalWorld, log: io.StringIO
) -> None:
    world = standard_world
    world.transport.on = True  # type: ignore[attr-defined]
    world.move_to(world.start + timedelta(days=8, hours=3))
    world.take_snapshot("orders")
    world.run_until_quiet(limit=timedelta(hours=1))
    (shared,) = [job for job in world.jobs(PROD) if job.state is State.SHARED]  # a real, shared transit copy
    before, keys = dr_copies(world), dr_keys(world)
    lie = replace(
        message_about(shared, EventType.COPY_SHARED, encrypted=True),
        source_time=FAR_FUTURE,
        tags=(("Draco_Lifecycle", "last=1"),),
    )
    assert forge(world, lie).startswith("rejected: SourceTime 2099-01-01T00:00:00Z is in the future")
    assert dr_copies(world) == before and dr_keys(world) == keys
    # Claiming a past time instead passes the clock check; AWS's record of the copy decides its time.
    claimed = clock.now() - timedelta(minutes=17)
    assert forge(world, replace(lie, source_time=claimed)).startswith("started")
    world.run_until_quiet()
    assert dr_copies(world) == standard_keeps(world)  # the new copy came; only what Standard deletes went
    (copy,) = [job for job in world.jobs(DR) if job.source_id == shared.source_id]
    assert copy.source_time == shared.source_time != clock.iso(claimed)  # AWS's OriginalSnapshotCreateTime
    assert sources(world)["orders"].pending == "last=1"  # type: ignore[attr-defined]


def test_the_recovery_point_age_is_never_negative(standard_world: LocalWorld) -> None:
    from draco import status

    doc = status.to_json(standard_world.status())
    assert all(row["rpo_hours"] >= 0 for row in doc["sources"])


def test_a_pending_change_shows_in_every_status_report(standard_world: LocalWorld) -> None:
    from rich.console import Console

    from draco import status

    world = standard_world
    retag(world, "orders", "last=1")
    daily(world, range(8, 9), "orders")
    report = world.status()
    (row,) = status.to_json(report)["sources"]
    assert (row["health"], row["lifecycle_pending"]) == ("approve", "last=1")
    assert row["held"] and not set(row["held"]) & set(row["would_delete"])
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(status.render_table(report))
    assert "waiting for approval" in console.export_text()
    assert "draco approve SOURCE" in status.render_html(report)


# --------------------------------------------------------------------------- spending and skipping


def request(source_id: str, name: str, tags: dict[str, str], when: datetime) -> Message:
    return Message(
        event_type=EventType.COPY_REQUEST,
        snapshot_type="RDS",
        source_acct=PROD,
        source_arn=f"arn:aws:rds:{REGION}:{PROD}:snapshot:{source_id}",
        source_id=source_id,
        source_name=name,
        source_time=when,
        tags=tuple(tags.items()),
    )


def test_a_flood_of_requests_for_databases_that_dont_exist_makes_no_key_and_no_resends(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, live=True) as world:
        keys = dr_keys(world)
        for n in range(25):
            forge(world, request(f"ghost{n}-snap", f"ghost{n}", STANDARD, clock.now()))
        assert dr_keys(world) == keys == []
        world.advance(timedelta(days=2))
        publishes = sum(n for (_, account, _, op), n in world.stats.calls.items() if account == DR and op == "Publish")
        assert publishes == 25  # one copy-initiate each, never sent again
        world.advance(timedelta(days=2))
        ghosts = [job for job in world.jobs(DR) if job.source_name.startswith("ghost")]
        assert {job.state for job in ghosts} == {State.FAILED}  # visible to operators, and done with
        assert all("no transit copy was shared" in job.reason for job in ghosts)
        assert dr_keys(world) == []


def test_a_forged_ignore_for_a_predictable_snapshot_id_does_not_skip_the_real_one(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log) as world:
        world.add_instance("orders", STANDARD)
        world.move_to(world.start + timedelta(hours=3))
        automated = f"rds:orders-{clock.now().strftime('%Y-%m-%d-%H-%M')}"
        assert forge(world, request(automated, "orders", {"Draco_Lifecycle": "Ignore"}, clock.now())).startswith(
            "not copied"
        )
        assert world.take_snapshot("orders", automated=True) == automated
        assert world.run_until_quiet()
        (job,) = [job for job in world.jobs(DR) if job.source_id == automated]
        assert job.state is State.DONE and len(dr_copies(world)) == 1


def test_new_keys_are_capped_per_source_account_and_day(log: io.StringIO) -> None:
    names = [f"db{n:02d}" for n in range(12)]
    with LocalWorld(log_stream=log) as world:
        for name in names:
            world.add_instance(name, STANDARD)
        world.move_to(world.start + timedelta(hours=3))
        for name in names:
            world.take_snapshot(name)
        world.run_until_quiet(limit=timedelta(hours=3))
        assert len(dr_keys(world)) == 10  # KEY_CAP
        waiting = [job for job in world.jobs(DR) if job.state is State.COPY_QUEUED]
        assert len(waiting) == 2 and all("KEY_CAP" in job.reason for job in waiting)
        assert any(line.get("message") == "new DR keys capped" for line in log_lines(log))
        world.move_to(world.start + timedelta(days=1, hours=1))  # a new day, a new allowance
        assert world.run_until_quiet()
        assert len(dr_keys(world)) == 12 and len(dr_copies(world)) == 12


@pytest.mark.parametrize("lie", ["unshared", "other source", "not a transit copy"])
def test_a_copy_shared_that_aws_does_not_confirm_is_rejected(log: io.StringIO, lie: str) -> None:
    with LocalWorld(log_stream=log, transport=Holding()) as world:
        world.add_instance("orders", STANDARD)
        world.add_instance("billing", STANDARD)
        world.transport.on = True  # type: ignore[attr-defined]
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.take_snapshot("billing")
        world.run_until_quiet(limit=timedelta(hours=1))
        orders, billing = sorted((j for j in world.jobs(PROD) if j.state is State.SHARED), key=lambda j: j.source_name)[
            ::-1
        ]
        message = message_about(orders, EventType.COPY_SHARED, encrypted=True)
        if lie == "unshared":  # a production snapshot DR was never given
            message = replace(message, transit_arn=orders.source_arn, transit_id=orders.source_id)
        elif lie == "other source":  # billing's real transit copy, claimed as orders'
            message = replace(message, transit_arn=billing.transit_arn, transit_id=billing.transit_id)
        else:  # orders' real snapshot, but named as another snapshot's transit copy
            message = replace(
                message,
                source_id="orders-other",
                source_arn=orders.source_arn.replace(orders.source_id, "orders-other"),
            )
        before = world.state()
        assert forge(world, message).startswith("rejected")
        assert world.state() == before
        assert dr_keys(world) == []


# --------------------------------------------------------------------------- production's own account


def test_production_never_holds_more_than_transit_limit_transit_copies(log: io.StringIO) -> None:
    names = [f"db{n:02d}" for n in range(13)]
    with LocalWorld(log_stream=log, transport=Holding()) as world:
        world.transport.on = True  # type: ignore[attr-defined]  # DR never hears of a shared copy
        for name in names:
            world.add_instance(name, STANDARD)
        world.move_to(world.start + timedelta(hours=3))
        for name in names:
            world.take_snapshot(name)
        world.run_until_quiet(limit=timedelta(hours=6))
        assert len(transit_copies(world)) == 10  # TRANSIT_LIMIT
        queued = [job for job in world.jobs(PROD) if job.state is State.TRANSIT_QUEUED]
        assert len(queued) == 3 and all("TRANSIT_LIMIT" in job.reason for job in queued)


def test_a_failed_jobs_transit_copy_is_cleaned_up_only_while_its_source_exists(log: io.StringIO) -> None:
    with LocalWorld(log_stream=log, transport=Holding()) as world:
        world.transport.on = True  # type: ignore[attr-defined]
        world.add_instance("orders", STANDARD)
        world.add_instance("billing", STANDARD)
        world.move_to(world.start + timedelta(hours=3))
        kept = world.take_snapshot("billing")
        world.take_snapshot("orders")
        world.advance(timedelta(days=4))  # no answer from DR: the jobs fail, their transit copies kept
        assert {job.state for job in world.jobs(PROD)} == {State.FAILED}
        assert len(transit_copies(world)) == 2
        world.client("rds", PROD).delete_db_snapshot(DBSnapshotIdentifier=kept)  # billing's source is gone
        world.advance(timedelta(days=8))  # TRANSIT_KEEP_DAYS
        assert transit_copies(world) == [transit_id(kept)]  # the last copy of billing's data is kept


def test_deleting_everything_in_production_leaves_dr_whole(standard_world: LocalWorld) -> None:
    world = standard_world
    before = world.state()[DR][world.dr_region]
    rds, kms = world.client("rds", PROD), world.client("kms", PROD)
    for snapshot in rds.describe_db_snapshots()["DBSnapshots"]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
    rds.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    for key in kms.list_keys()["Keys"]:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    world.advance(timedelta(days=2))
    after = world.state()[DR][world.dr_region]
    assert after["snapshots"] == before["snapshots"] and after["keys"] == before["keys"]


def _job(jobs: list[Job], source_id: str) -> Job:
    return next(job for job in jobs if job.source_id == source_id)
