"""Many production accounts in the local world: one DR for an Organization, and what a second account can't do.

Each production account publishes to its own outbox; SNS carries it to DR's
inbox with the topic's ARN (``moto_gaps`` delivers across accounts as AWS does,
after the inbox's policy). The attacks use only what the attacking production
account holds: its credentials, its outbox, its databases and snapshots.
"""

from __future__ import annotations

import io
import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib_shared.jobs import State
from chalicelib_shared.messages import SUBJECT
from draco import bootstrap
from draco.world.core import DR, PROD, REGION, LocalWorld, Organization
from tests.fake_snapshots import FakeCloud
from tests.fakes import copy_request
from tests.test_bootstrap_cli import app_dirs, run_cli  # noqa: F401

pytestmark = pytest.mark.e2e

ORG = "o-a1b2c3d4e5"
ROOT = f"{ORG}/r-ab12/"
PRODUCTION_OU = "ou-ab12-11111111"
SOURCES = [f"{300000000000 + i:012d}" for i in range(199)] + ["399999999999"]  # 200 accounts
LAST = SOURCES[-1]
STANDARD = {"Draco_Lifecycle": "Standard"}


def log_lines(log: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]


def done(world: LocalWorld) -> dict[tuple[str, str], int]:
    """DR's finished copies by (source account, source name)."""
    found: dict[tuple[str, str], int] = {}
    for job in world.jobs(DR):
        if job.state is State.DONE:
            found[(job.source_acct, job.source_name)] = found.get((job.source_acct, job.source_name), 0) + 1
    return found


def two_sources(world: LocalWorld, first: str, last: str) -> None:
    world.add_instance("orders", STANDARD)
    world.add_instance("orders", STANDARD, account=last)  # the same name in another account
    world.take_snapshot("orders")
    world.take_snapshot("orders", account=last)
    assert world.run_until_quiet()


def test_with_organization_trust_the_200th_account_is_copied_like_the_first() -> None:
    paths = {account: f"{ROOT}{PRODUCTION_OU}/" for account in [PROD, *SOURCES]}
    organization = Organization(ORG, paths, (PRODUCTION_OU,))
    with LocalWorld(more_producers=[LAST], organization=organization) as world:
        assert world.env["consumer"]["SOURCE_ACCTS"] == "" and world.env["consumer"]["SOURCE_ORG"] == ORG
        two_sources(world, PROD, LAST)
        assert done(world) == {(PROD, "orders"): 1, (LAST, "orders"): 1}
        ids = sorted(job.job_id for job in world.jobs(DR))
        assert ids[0].startswith(f"draco-{PROD}-") and ids[1].startswith(f"draco-{LAST}-")  # each its own
        assert {s.source_acct for s in world.status().sources} == {PROD, LAST}


def test_with_an_account_list_of_200_the_200th_account_is_copied_like_the_first() -> None:
    with LocalWorld(more_producers=[LAST], trusted=SOURCES) as world:
        assert len(world.env["consumer"]["SOURCE_ACCTS"].split(",")) == 201
        two_sources(world, PROD, LAST)
        assert done(world) == {(PROD, "orders"): 1, (LAST, "orders"): 1}


def test_an_account_outside_the_organization_is_refused_by_the_inbox() -> None:
    outsider = "444444444444"
    organization = Organization(ORG, {PROD: f"{ROOT}{PRODUCTION_OU}/"}, (PRODUCTION_OU,))
    with LocalWorld(more_producers=[outsider], organization=organization) as world:
        world.add_instance("orders", STANDARD, account=outsider)
        world.take_snapshot("orders", account=outsider)
        world.run_until_quiet()
        assert world.jobs(DR) == []  # SNS never got it into DR's inbox
        (job,) = world.jobs(outsider)
        assert job.state is State.REQUESTED  # it asks, unanswered, until its job fails


def test_a_second_account_can_not_act_on_the_first_account_s_sources(tmp_path) -> None:
    """OTHER, a trusted production account, claims PROD's snapshots: from its own outbox (rejected, logged,
    nothing changes), on PROD's outbox (AWS refuses), and with a database of the same name (filed as OTHER's)."""
    other = "333333333333"
    log = io.StringIO()
    with LocalWorld(more_producers=[other], log_stream=log) as world:
        world.add_instance("orders", STANDARD)
        world.take_snapshot("orders")
        assert world.run_until_quiet()
        before = world.state()
        # What OTHER holds: its credentials and its outbox. It copies PROD's latest copy-request, as a lie.
        (prod_job,) = world.jobs(PROD)
        cloud = FakeCloud()
        forged = copy_request(cloud.api(PROD, "RDS", REGION).add(prod_job.source_id, "orders", tags=STANDARD))
        sns = world.client("sns", other)
        sns.publish(TopicArn=world.outbox(other), Subject=SUBJECT, Message=forged.body())
        world.deliver()
        assert world.state() == before
        rejected = [line for line in log_lines(log) if line.get("message") == "message rejected"]
        assert rejected[-1]["reason"] == f"SourceAcct {PROD} is not the account the message came from ({other})"
        with pytest.raises(ClientError):  # PROD's outbox is PROD's own
            sns.publish(TopicArn=world.outbox(PROD), Subject=SUBJECT, Message=forged.body())
        # OTHER's own "orders": its copies go under its own account, PROD's history is untouched.
        world.add_instance("orders", STANDARD, account=other)
        world.take_snapshot("orders", account=other)
        assert world.run_until_quiet()
        assert done(world) == {(PROD, "orders"): 1, (other, "orders"): 1}
        keys = {job.inventory_key for job in world.jobs(DR)}
        assert keys == {f"{PROD}#RDS#orders", f"{other}#RDS#orders"}


def test_bootstrap_of_a_dr_account_for_200_accounts_takes_as_long_as_for_one(monkeypatch) -> None:
    """Measured in moto: the DR stack doesn't grow with the accounts, so neither does bootstrap."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", DR)
    timings = {}
    for label, accounts, org in (("1", [PROD], ""), ("200", SOURCES, ""), ("org", [], ORG)):
        with mock_aws():
            session = boto3.Session(region_name=REGION)
            started = time.perf_counter()
            bootstrap.consumer(session, accounts, source_org=org, alarms=None)
            timings[label] = time.perf_counter() - started
            assert bootstrap.plan_consumer(session, accounts, source_org=org, alarms=None) == []
    print(f"\nbootstrap consumer: {', '.join(f'{k}: {v:.2f} s' for k, v in timings.items())}")
    assert timings["200"] < 3 * timings["1"] + 1 and timings["org"] < 3 * timings["1"] + 1


def test_bootstrap_consumer_takes_an_organization_and_ous_beside_the_account_list(
    as_account,
    app_dirs,  # noqa: F811
    capsys,
) -> None:
    as_account(DR)
    argv = ["bootstrap", "consumer", "--source-org", ORG, "--source-ou", PRODUCTION_OU, "--region", REGION]
    assert run_cli([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    whose = f"the accounts of {ORG} in {PRODUCTION_OU}"
    assert f"create SQS queue DracoInbox (SNS may send from the outboxes of {whose})" in out
    assert f'"{ORG}/*/{PRODUCTION_OU}/*"' in out  # aws:SourceOrgPaths in the queue's policy
    assert "  SOURCE_ORG=o-a1b2c3d4e5\n" in out and "  SOURCE_ACCTS=\n" in out
    with pytest.raises(SystemExit):  # one or the other
        run_cli(["bootstrap", "consumer", "--source-org", ORG, "--source-accounts", PROD, "--region", REGION])
    assert run_cli(["bootstrap", "consumer", "--source-org", "o-bad", "--region", REGION, "--dry-run"]) == 2
    assert "is not an AWS Organization id" in capsys.readouterr().err
