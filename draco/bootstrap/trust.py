"""Which production accounts DR trusts, as policy conditions whose size doesn't grow with the accounts.

DR trusts a list of accounts (``--source-accounts``), or every account of an AWS
Organization (``--source-org``), optionally only those in some OUs
(``--source-ou``). The DR policies never list a statement or an ARN per account:

* the inbox queue lets ``sns.amazonaws.com`` send from any topic named
  ``DracoOutbox`` in the source Region (``aws:SourceArn``) of a trusted account:
  ``aws:SourceAccount`` in the list, or ``aws:SourceOrgID`` (and
  ``aws:SourceOrgPaths`` for OUs), which AWS sets when a service acts for a
  resource of an Organization's account;
* the consumer role's statements on production's resources (transit keys,
  ``DracoProducer`` topics and their keys, outbox subscriptions) name them with
  ``*`` for the account. Each such resource's own policy must also let DR's
  consumer role in (production's bootstrap writes them), and the consumer acts
  only on what a trusted account's outbox sent. With an Organization, one
  ``Deny`` bounds them all besides: ``aws:ResourceOrgID`` (``aws:ResourceOrgPaths``)
  not the Organization's (OUs'), DR's own account excepted (it need not be in the
  Organization). Shared transit copies (``draco-transit-*`` of any account) are not
  in it: only their owner can share them with DR, and the consumer copies only one
  it verified against AWS's record, for a message of a trusted account.

With an Organization, nothing grows: a new account of the Organization (or OU)
needs no change in DR. With a list, each account adds its id (15 characters) to
the inbox queue's policy (8,192 bytes: some 500 accounts) and to ``SOURCE_ACCTS``
(Lambda's environment holds 4 KB in all: some 250 accounts); the role's policy
stays as it is, so IAM's 10,240 characters never bind. Past 200 or so accounts,
trust the Organization.
Keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
(``aws:SourceOrgID``, ``aws:SourceOrgPaths``, ``aws:ResourceAccount``,
``aws:ResourceOrgID``, ``aws:ResourceOrgPaths``); the path form ``o-.../r-.../ou-.../``
and matching an OU anywhere below with ``ForAnyValue:StringLike``:
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_last-accessed-view-data-orgs.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib_shared.config import INBOX_QUEUE, OUTBOX_TOPIC
from draco.bootstrap.names import Account


@dataclass(frozen=True)
class Trust:
    """The production accounts DR trusts: a list, or an Organization (and OUs in it)."""

    accounts: tuple[str, ...] = ()
    org: str = ""
    ous: tuple[str, ...] = ()

    @property
    def paths(self) -> list[str]:
        """The OUs as Organization path patterns: the OU, anywhere in the tree, and everything below it."""
        return [f"{self.org}/*/{ou}/*" for ou in self.ous]

    def describe(self) -> str:
        if self.accounts:
            return f"accounts {', '.join(self.accounts)}"
        return f"the accounts of {self.org}" + (f" in {', '.join(self.ous)}" if self.ous else "")

    def source_condition(self) -> dict[str, Any]:
        """On what an AWS service does for a resource of a trusted account (the inbox queue's policy)."""
        if self.accounts:
            return {"StringEquals": {"aws:SourceAccount": list(self.accounts)}}
        condition: dict[str, Any] = {"StringEquals": {"aws:SourceOrgID": self.org}}
        if self.ous:
            condition["ForAnyValue:StringLike"] = {"aws:SourceOrgPaths": self.paths}
        return condition

    def outside(self, own_account: str) -> dict[str, Any]:
        """A Deny's condition: the resource is outside the Organization (OUs), and not the role's own."""
        condition: dict[str, Any] = {"Null": {"aws:ResourceAccount": "false"}}
        if self.ous:  # the paths start with the Organization's id
            condition["StringNotEquals"] = {"aws:ResourceAccount": own_account}
            condition["ForAllValues:StringNotLike"] = {"aws:ResourceOrgPaths": self.paths}
        else:
            condition["StringNotEquals"] = {"aws:ResourceAccount": own_account, "aws:ResourceOrgID": self.org}
        return condition


def trust_of(accounts: Sequence[str], org: str, ous: Sequence[str]) -> Trust:
    """A list if one is given (within an Organization too), else the Organization."""
    return Trust(tuple(accounts), "" if accounts else org, () if accounts else tuple(ous))


def inbox_policy(trust: Trust, queue_arn: str, partition: str, source_region: str) -> dict[str, Any]:
    """SNS may send to DR's inbox only from the trusted accounts' outboxes in the source Region."""
    outboxes = f"arn:{partition}:sns:{source_region}:*:{OUTBOX_TOPIC}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SnsDeliversFromTrustedProductionOutboxesOnly",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": outboxes}, **trust.source_condition()},
            }
        ],
    }


#: What the consumer role does to production's resources; the Deny bounds these to trusted accounts.
PRODUCTION_ACTIONS = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "sns:ConfirmSubscription",
    "sns:Publish",
)


def only_trusted_accounts(trust: Trust, own_account: str) -> list[dict[str, Any]]:
    """With an Organization, the consumer role's bound: no production resource outside it (or its OUs)."""
    if trust.accounts:
        return []
    return [
        {
            "Sid": "NothingOutsideTheTrustedOrganization",
            "Effect": "Deny",
            "Action": list(PRODUCTION_ACTIONS),
            "Resource": "*",
            "Condition": trust.outside(own_account),
        }
    ]


def inbox_statements(acct: Account, source_region: str) -> list[dict[str, Any]]:
    """Lambda reads the inbox queue as the consumer role (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html);
    the consumer confirms the trusted outboxes' subscriptions of it (any account's: bounded by the Deny)."""
    return [
        {
            "Sid": "LambdaReadsTheInbox",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": acct.arn("sqs", INBOX_QUEUE),
        },
        {
            "Sid": "ConfirmTrustedOutboxesSubscriptionsOfTheInbox",
            "Effect": "Allow",
            "Action": "sns:ConfirmSubscription",
            "Resource": acct.arn("sns", OUTBOX_TOPIC, account="*", region=source_region),
        },
    ]


def outbox_statements(acct: Account) -> list[dict[str, Any]]:
    """The producer publishes to its own outbox only (DR learns the account from its ARN), under its topic key."""
    return [
        {
            "Sid": "SendDracoMessagesThroughOwnOutboxOnly",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": acct.arn("sns", OUTBOX_TOPIC),
        },
        {
            "Sid": "EncryptMessagesForTheOutboxThroughSns",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": acct.arn("kms", "key/*"),
            "Condition": {"StringEquals": {"kms:ViaService": [f"sns.{acct.region}.amazonaws.com"]}},
        },
    ]
