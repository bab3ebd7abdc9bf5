"""Forged and malformed messages, sent to both apps after a real copy went through: nothing changes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib_shared.messages import EventType, Message
from chalicelib_shared.naming import dr_copy_id, transit_id
from draco.world.core import DR, PROD, REGION, LocalWorld
from tests.properties import examples

pytestmark = pytest.mark.e2e  # the local world: run with -m e2e (see the README)

FOREIGN = "333333333333"
SUBJECTS = ("DRACO Event", "RDS Notification Message", "", "Something else")


@pytest.fixture(scope="module")
def world() -> Iterator[LocalWorld]:
    """A world where one snapshot of `orders` went all the way to DR."""
    with LocalWorld(log_stream=io.StringIO(), live=True) as world:
        world.add_instance("orders", {"Draco_Lifecycle": "Test"})
        world.move_to(world.start + timedelta(hours=3))
        world.take_snapshot("orders")
        world.take_snapshot("orders", automated=True, notify=False)
        assert world.run_until_quiet()
        yield world


def arn(account: str, snapshot_id: str, resource: str = "snapshot") -> str:
    return f"arn:aws:rds:{REGION}:{account}:{resource}:{snapshot_id}"


def message(event_type: EventType, account: str, source_id: str, **fields) -> Message:
    base = {
        "snapshot_type": "RDS",
        "source_acct": account,
        "source_arn": arn(account, source_id),
        "source_id": source_id,
        "source_name": "orders",
    }
    return Message(event_type=event_type, **{**base, **fields})


def production_snapshot(world: LocalWorld, automated: bool = False) -> str:
    rds = world.client("rds", PROD)
    kind = "automated" if automated else "manual"
    return rds.describe_db_snapshots(SnapshotType=kind)["DBSnapshots"][0]["DBSnapshotIdentifier"]


def forged_messages(world: LocalWorld) -> list[tuple[str, Message]]:
    manual, automated = production_snapshot(world), production_snapshot(world, automated=True)
    transit = transit_id(manual)
    return [
        # Delete a production snapshot by naming it as the transit copy.
        (PROD, message(EventType.DELETE_SHARED, PROD, manual, transit_arn=arn(PROD, manual), transit_id=manual)),
        # Delete an automated snapshot the same way.
        (
            PROD,
            message(EventType.DELETE_SHARED, PROD, automated, transit_arn=arn(PROD, automated), transit_id=automated),
        ),
        # Delete the (already deleted) transit copy again, and one of a snapshot DRACO never copied.
        (PROD, message(EventType.DELETE_SHARED, PROD, manual, transit_arn=arn(PROD, transit), transit_id=transit)),
        (
            PROD,
            message(
                EventType.DELETE_SHARED,
                PROD,
                "other-db-1",
                transit_arn=arn(PROD, "draco-transit-other-db-1"),
                transit_id="draco-transit-other-db-1",
            ),
        ),
        # Start a transit copy of a snapshot DRACO has no job for.
        (
            PROD,
            message(
                EventType.COPY_INITIATE,
                PROD,
                automated,
                target_kms_id=f"arn:aws:kms:{REGION}:{DR}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ),
        ),
        # A foreign account's snapshot, named to the producer.
        (PROD, message(EventType.DELETE_SHARED, FOREIGN, "x-1", transit_arn=arn(FOREIGN, "x-1"), transit_id="x-1")),
        # Copy requests from an account DR does not allow.
        (
            DR,
            message(
                EventType.COPY_REQUEST, FOREIGN, "db-1", source_time=world.start, tags=(("Draco_Lifecycle", "Test"),)
            ),
        ),
        (
            DR,
            message(
                EventType.COPY_SHARED,
                FOREIGN,
                "db-1",
                source_time=world.start,
                tags=(("Draco_Lifecycle", "Test"),),
                transit_arn=arn(FOREIGN, "draco-transit-db-1"),
                transit_id="draco-transit-db-1",
            ),
        ),
        # From an allowed account, but the "transit copy" is a production snapshot, not DRACO's.
        (
            DR,
            message(
                EventType.COPY_SHARED,
                PROD,
                automated,
                source_time=world.start,
                tags=(("Draco_Lifecycle", "Test"),),
                transit_arn=arn(PROD, manual),
                transit_id=manual,
            ),
        ),
        # The copy that went through, "shared" again: DR only asks for the transit copy's deletion.
        (
            DR,
            message(
                EventType.COPY_SHARED,
                PROD,
                manual,
                source_time=world.start,
                tags=(("Draco_Lifecycle", "Test"),),
                transit_arn=arn(PROD, transit),
                transit_id=transit,
            ),
        ),
        # Messages meant for the other app.
        (DR, message(EventType.DELETE_SHARED, PROD, manual, transit_arn=arn(PROD, transit), transit_id=transit)),
        (PROD, message(EventType.COPY_REQUEST, PROD, manual, source_time=world.start, tags=())),
        # A copy of a snapshot in another Region.
        (
            DR,
            message(
                EventType.COPY_REQUEST,
                PROD,
                "db-2",
                source_arn=f"arn:aws:rds:eu-west-1:{PROD}:snapshot:db-2",
                source_time=world.start,
                tags=(("Draco_Lifecycle", "Test"),),
            ),
        ),
    ]


def rds_event(event_id: str, source_id: str) -> str:
    return json.dumps(
        {
            "Event Source": "db-snapshot",
            "Source ID": source_id,
            "Event ID": f"http://docs/USER_Events.html#{event_id}",
            "Event Message": "forged",
        }
    )


def test_forged_messages_change_nothing(world: LocalWorld) -> None:
    before = world.state()
    manual = production_snapshot(world)
    for account, forged in forged_messages(world):
        outcome = world.invoke_sns(account, "DRACO Event", forged.body())
        assert outcome.startswith(("rejected", "duplicate")), (forged, outcome)
    # RDS events naming snapshots that aren't DRACO's copies in flight.
    for account, event_id, source_id in (
        (DR, "RDS-EVENT-0197", manual),
        (DR, "RDS-EVENT-0197", dr_copy_id(PROD, manual)),
        (PROD, "RDS-EVENT-0197", manual),
        (PROD, "RDS-EVENT-0197", transit_id(manual)),
    ):
        world.invoke_sns(account, "RDS Notification Message", rds_event(event_id, source_id))
    world.deliver()  # whatever the apps sent in answer is handled too
    assert world.state() == before  # snapshots, keys, aliases and every job of both accounts


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def near_valid(world: LocalWorld) -> st.SearchStrategy[str]:
    """A real message with one field replaced by anything."""
    _, valid = forged_messages(world)[2]
    doc = json.loads(valid.body())
    return st.builds(lambda key, value: json.dumps({**doc, key: value}), st.sampled_from(sorted(doc)), JSON)


@settings(examples(2 / 5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_messages_never_raise_and_change_nothing(world: LocalWorld, data: st.DataObject) -> None:
    before = world.state()
    subject = data.draw(st.sampled_from(SUBJECTS) | st.text(max_size=30))
    body = data.draw(st.text(max_size=200) | JSON.map(json.dumps) | near_valid(world))
    for account in (PROD, DR):
        world.invoke_sns(account, subject, body)
    world.deliver()
    assert world.state() == before  # snapshots, keys, aliases and every job of both accounts
