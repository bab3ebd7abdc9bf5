"""Which account a production message comes from, and which accounts DR trusts, at any number of accounts.

The sending account is the one SNS names in the envelope's ``TopicArn`` (the
account's own ``DracoOutbox``), never the body's ``SourceAcct``
(``chalicelib_shared.inbox``). DR trusts a list of accounts or an Organization
(and OUs); its policies don't grow with the accounts under an Organization, and
by one account id per document with a list (``draco.bootstrap.trust``).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib_shared import handlers, inbox
from chalicelib_shared.config import ConsumerConfig
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.messages import SUBJECT, Message
from chalicelib_shared.rejection import Rejection
from draco.bootstrap import policies
from draco.bootstrap.inbox import Queue
from draco.bootstrap.models import Key, Role, Topic, consumer_stack, producer_stack
from draco.bootstrap.names import Account
from draco.bootstrap.options import consumer_options, producer_options
from draco.bootstrap.trust import Trust, inbox_policy
from tests.fake_snapshots import REGION
from tests.fakes import CONSUMER_ENV, DR, OTHER, PROD, copy_request
from tests.rigs import build_consumer

ORG = "o-a1b2c3d4e5"
OU = "ou-ab12-11111111"
# AWS's documented limits (characters without whitespace for IAM; bytes for the others).
IAM_INLINE = 10_240  # all of a role's inline policies: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
KMS_KEY_POLICY = 32_768  # https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html
SNS_TOPIC_POLICY = 30_720  # https://docs.aws.amazon.com/general/latest/gr/sns.html
SQS_POLICY = 8_192  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html


def outbox(account: str, region: str = REGION, name: str = "DracoOutbox") -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def envelope(topic_arn: str, message: Message | None = None, **fields: Any) -> str:
    """The SNS envelope DR's inbox receives for a message published to ``topic_arn``."""
    body = {"Type": "Notification", "TopicArn": topic_arn, "Subject": SUBJECT}
    if message is not None:
        body["Message"] = message.body()
    return json.dumps({**body, **fields})


def config(**env: str) -> ConsumerConfig:
    parsed = ConsumerConfig.from_env({**CONSUMER_ENV, "SOURCE_ACCTS": f"{PROD},{OTHER}", **env})
    assert parsed.problems == ()
    return parsed


# --------------------------------------------------------------------------- the vouched account


def test_a_message_is_read_with_the_account_its_outbox_names() -> None:
    rig = build_consumer()
    request = copy_request(rig.prod().add("snap-1"))
    read = inbox.read(envelope(outbox(PROD), request), config(), REGION)
    assert read == replace(request, source_time=request.source_time.replace(microsecond=0))  # as the body carries it


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        (outbox(OTHER), f"SourceAcct {PROD} is not the account the message came from ({OTHER})"),
        (outbox(PROD, name="DracoProducer"), "topic DracoProducer is not a production account's DracoOutbox"),
        (outbox(PROD, region="eu-west-1"), "is not in the source Region"),
        (outbox("444444444444"), "account 444444444444 is not a trusted source account"),
        ("arn:aws:sqs:us-east-1:111111111111:DracoOutbox", "is not an SNS topic ARN"),
        (None, "is not an SNS topic ARN"),
    ],
)
def test_a_message_whose_topic_is_not_its_claimed_accounts_trusted_outbox_is_rejected(topic: Any, reason: str) -> None:
    rig = build_consumer()
    request = copy_request(rig.prod().add("snap-1"))  # claims PROD
    read = inbox.read(envelope(topic, request), config(), REGION)
    assert isinstance(read, Rejection) and reason in read.reason


def test_with_organization_trust_any_account_the_queue_admitted_is_trusted() -> None:
    org = config(SOURCE_ACCTS="", SOURCE_ORG=ORG)
    assert org.trusts("444444444444") and org.trusts(PROD)
    assert not config().trusts("444444444444")
    listed_in_org = config(SOURCE_ORG=ORG)  # a list within an Organization: the list decides
    assert listed_in_org.trusts(PROD) and not listed_in_org.trusts("444444444444")


@pytest.mark.parametrize(
    "body",
    ["not json", "[1]", json.dumps({"TopicArn": outbox(PROD), "Type": "UnsubscribeConfirmation"}), None],
)
def test_junk_in_the_inbox_is_rejected(body: Any) -> None:
    assert isinstance(inbox.read(body, config(), REGION), Rejection)


def test_a_trusted_outbox_s_subscription_confirmation_is_confirmed_and_an_untrusted_one_is_not() -> None:
    confirm = {"Type": "SubscriptionConfirmation", "Token": "t0ken"}
    read = inbox.read(envelope(outbox(OTHER), **confirm), config(), REGION)
    assert read == inbox.Confirmation(outbox(OTHER), "t0ken")
    assert isinstance(inbox.read(envelope(outbox("444444444444"), **confirm), config(), REGION), Rejection)
    no_token = {"Type": "SubscriptionConfirmation"}
    assert isinstance(inbox.read(envelope(outbox(OTHER), **no_token), config(), REGION), Rejection)


def test_a_forged_source_account_changes_nothing_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Account OTHER, trusted, claims PROD's snapshot from its own outbox: DR files nothing, answers nothing."""
    rig = build_consumer(SOURCE_ACCTS=f"{PROD},{OTHER}")
    forged = copy_request(rig.prod().add("snap-1"))
    confirmed: list[tuple[str, str]] = []
    outcome = handlers.on_inbox(lambda: rig.app, [envelope(outbox(OTHER), forged)], lambda *a: confirmed.append(a))
    assert outcome.startswith(f"rejected: SourceAcct {PROD} is not the account the message came from ({OTHER})")
    assert rig.table.items == {} and rig.sent.sent == [] and confirmed == []
    assert "message rejected" in caplog.text
    # The same message from PROD's own outbox is acted on.
    assert handlers.on_inbox(lambda: rig.app, [envelope(outbox(PROD), forged)]).startswith("copy initiated")


def test_the_inbox_handler_confirms_a_trusted_subscription() -> None:
    rig = build_consumer(SOURCE_ACCTS=f"{PROD},{OTHER}")
    confirmed: list[tuple[str, str]] = []
    body = envelope(outbox(OTHER), Type="SubscriptionConfirmation", Token="t0ken")
    handlers.on_inbox(lambda: rig.app, [body], lambda *a: confirmed.append(a))
    assert confirmed == [(outbox(OTHER), "t0ken")] and rig.table.items == {}


# --------------------------------------------------------------------------- the policies' conditions


def test_the_inbox_admits_sns_from_outboxes_of_the_trusted_accounts_only() -> None:
    arn = f"arn:aws:sqs:{REGION}:{DR}:DracoInbox"
    (listed,) = inbox_policy(Trust((PROD, OTHER)), arn, "aws", REGION)["Statement"]
    assert listed["Principal"] == {"Service": "sns.amazonaws.com"} and listed["Action"] == "sqs:SendMessage"
    assert listed["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:sns:{REGION}:*:DracoOutbox"},
        "StringEquals": {"aws:SourceAccount": [PROD, OTHER]},
    }
    (org,) = inbox_policy(Trust(org=ORG, ous=(OU,)), arn, "aws", REGION)["Statement"]
    assert org["Condition"]["StringEquals"] == {"aws:SourceOrgID": ORG}
    assert org["Condition"]["ForAnyValue:StringLike"] == {"aws:SourceOrgPaths": [f"{ORG}/*/{OU}/*"]}


@pytest.mark.parametrize(
    ("trust", "condition"),
    [
        (
            Trust(org=ORG),
            {
                "Null": {"aws:ResourceAccount": "false"},
                "StringNotEquals": {"aws:ResourceAccount": DR, "aws:ResourceOrgID": ORG},
            },
        ),
        (
            Trust(org=ORG, ous=(OU,)),
            {
                "Null": {"aws:ResourceAccount": "false"},
                "StringNotEquals": {"aws:ResourceAccount": DR},
                "ForAllValues:StringNotLike": {"aws:ResourceOrgPaths": [f"{ORG}/*/{OU}/*"]},
            },
        ),
    ],
    ids=["organization", "ou"],
)
def test_the_consumer_role_is_denied_resources_outside_the_organization(trust: Trust, condition: Any) -> None:
    opts = consumer_options(REGION, [], source_org=trust.org, source_ous=list(trust.ous))
    policy = policies.consumer_role_policy(opts, Account("aws", DR, REGION), tuple(KINDS.values()))
    (deny,) = [s for s in policy["Statement"] if s["Sid"] == "NothingOutsideTheTrustedOrganization"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*" and deny["Condition"] == condition
    # Every Allow on another account's resource is bounded by it: its actions are the Deny's.
    foreign = [s for s in policy["Statement"] if s["Effect"] == "Allow" and ":*:" in json.dumps(s["Resource"])]
    others = {a for s in foreign for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    snapshots = {a for a in others if a.startswith("rds:")}  # shared transit copies: see the README
    assert all(any(fnmatch.fnmatchcase(a, denied) for denied in deny["Action"]) for a in others - snapshots)


# --------------------------------------------------------------------------- sizes at 1, 10 and 200 accounts


def accounts(n: int) -> list[str]:
    return [f"{100000000000 + i:012d}" for i in range(n)]


def sizes(n: int, *, org: bool) -> dict[str, int]:
    """Every policy document bootstrap writes, by name, in characters without whitespace (n source accounts)."""
    trust = {"source_org": ORG, "source_ous": [OU]} if org else {}
    opts = consumer_options(REGION, [] if org else accounts(n), **trust)
    found = _documents(consumer_stack(opts, Account("aws", DR, REGION)), "DR")
    # Each production account's own stack: the same whatever the number of accounts.
    found |= _documents(producer_stack(producer_options(REGION, DR), Account("aws", accounts(n)[-1], REGION)), "prod")
    return found


def _documents(stack: Any, where: str) -> dict[str, int]:
    found = {}
    for resource in stack.resources:
        if isinstance(resource, Key | Topic | Queue | Role):
            name = getattr(resource, "alias", "") or resource.name
            text = json.dumps(_resolved(resource.policy), separators=(",", ":"))
            found[f"{where} {type(resource).__name__.lower()} {name}"] = len(text.encode())
    return found


def _resolved(policy: Any) -> Any:
    """A key's ARN not known before apply counts as a real one's length."""
    from draco.bootstrap.instructions import resolve

    return resolve(policy, {}, preview=True)


LIMITS = {"key": KMS_KEY_POLICY, "topic": SNS_TOPIC_POLICY, "queue": SQS_POLICY, "role": IAM_INLINE}


@pytest.mark.parametrize("org", [False, True], ids=["account list", "organization"])
def test_every_policy_fits_aws_limits_at_200_accounts_and_stays_constant_under_an_organization(org: bool) -> None:
    table = {n: sizes(n, org=org) for n in (1, 10, 200)}
    for name, size in table[200].items():
        assert size <= LIMITS[name.split()[1]], f"{name}: {size} characters at 200 accounts"
    if org:
        assert table[1] == table[10] == table[200]
    else:  # a list: only the inbox's condition grows, by one account id each
        grown = {name: table[200][name] - table[1][name] for name in table[1] if table[200][name] != table[1][name]}
        assert grown == {"DR queue DracoInbox": 199 * 15}
    print("\n" + "\n".join(f"{name}: {[table[n][name] for n in (1, 10, 200)]}" for name in sorted(table[1])))


def test_the_consumer_environment_fits_lambda_s_4_kb_at_200_listed_accounts() -> None:
    """Lambda holds 4 KB of environment variables in all: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"""
    env = consumer_options(REGION, accounts(200)).env(Account("aws", DR, REGION))
    size = sum(len(name) + len(str(value)) for name, value in env.items())
    assert 2_900 < size <= 4_096  # SOURCE_ACCTS is most of it: past some 250 accounts, trust the Organization
    org = consumer_options(REGION, [], source_org=ORG).env(Account("aws", DR, REGION))
    assert sum(len(name) + len(str(value)) for name, value in org.items()) < 1_000
