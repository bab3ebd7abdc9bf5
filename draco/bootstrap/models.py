"""What an account should hold for one app: plain dataclasses, built by pure functions.

``producer_stack`` and ``consumer_stack`` turn the options and the account's
facts (partition, id, Region) into the resources bootstrap makes and the app's
environment. No AWS call here: the planner compares a stack with what exists.

The per-kind parts (IAM statements, RDS event subscriptions, EventBridge rules)
come from the snapshot kinds; ``kinds`` defaults to the registry, and a test
may hand in its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib_shared import config as cfg
from chalicelib_shared.job_table import table_definition
from chalicelib_shared.kinds import KINDS, SnapshotKind
from chalicelib_shared.kinds.base import EventRule, RdsEventSubscription, Side
from draco.bootstrap import policies, resource_policies
from draco.bootstrap.alarms import alarm_definitions
from draco.bootstrap.inbox import Queue, QueueSubscription
from draco.bootstrap.instructions import Var
from draco.bootstrap.names import (
    ALERT_TOPIC,
    FUNCTIONS,
    TOPIC_KEY_ALIAS,
    TOPICS,
    TRANSIT_KEY_ALIAS,
    Account,
    app_name,
    function_name,
    peer_of,
    role_name,
    subscription_name,
)
from draco.bootstrap.options import NEW_TRANSIT_KEY, ConsumerOptions, Options, ProducerOptions
from draco.bootstrap.trust import inbox_policy


@dataclass(frozen=True)
class Key:
    """A symmetric KMS key with its policy and rotation on, found again by its alias."""

    alias: str
    label: str  # names its id and ARN in a plan before it exists ("<label>.id", "<label>.arn")
    description: str
    policy: Mapping[str, Any]
    summary: str  # who may use it, for the plan's lines
    preview_arn: str  # what a dry run shows for its ARN before it exists

    def var(self, field: str) -> Var:
        """Its ``id`` or ``arn``, in a plan made before it exists."""
        return Var(f"{self.label}.{field}", self.preview_arn if field == "arn" else f"<new {self.label}>")


@dataclass(frozen=True)
class Topic:
    name: str
    arn: str
    key_alias: str  # KmsMasterKeyId
    policy: Mapping[str, Any]
    publishers: str  # who may publish, for the plan's lines


@dataclass(frozen=True)
class RdsSubscription:
    """An RDS event subscription for all events of one source type, to ``topic_arn``."""

    name: str
    arn: str
    source_type: str
    topic_arn: str


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule on the default bus sending matching events to ``topic_arn``."""

    name: str
    arn: str
    pattern: Mapping[str, Any]
    topic_arn: str


@dataclass(frozen=True)
class Table:
    """The app's job table, with point-in-time recovery and deletion protection on."""

    name: str
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class Role:
    """The app's Lambda role, trusted by Lambda, with one inline policy."""

    name: str
    arn: str
    trust: Mapping[str, Any]
    policy: Mapping[str, Any]
    summary: str


@dataclass(frozen=True)
class AlertTopic:
    """DracoAlerts, where alarms notify, with an optional e-mail subscription."""

    name: str
    arn: str
    email: str


@dataclass(frozen=True)
class Alarm:
    definition: Mapping[str, Any]  # put_metric_alarm's arguments

    @property
    def name(self) -> str:
        return str(self.definition["AlarmName"])


Resource = Key | Topic | RdsSubscription | Rule | Table | Role | AlertTopic | Alarm | Queue | QueueSubscription


@dataclass(frozen=True)
class Deployment:
    """What the stage's Lambda functions run as and are called, on every deployment path."""

    role_arn: str
    functions: Mapping[str, str]  # handler -> function name
    switched: Mapping[str, str]  # handler -> its schedule rule, which the app switches (POLLER_RULE, WAKE_RULE)
    role_policy: Mapping[str, Any]  # the role's policy, recorded beside the stage for review
    function_roles: Mapping[str, str] = field(default_factory=dict)  # handler -> its own role (run_drills)


@dataclass(frozen=True)
class Stack:
    """Everything bootstrap makes for one app in one account, in the order it is made."""

    side: Side
    account: Account
    resources: tuple[Resource, ...]
    env: Mapping[str, str | Var]
    deployment: Deployment


def producer_stack(opts: ProducerOptions, acct: Account, kinds: Sequence[SnapshotKind] | None = None) -> Stack:
    """The production account: topic, event sources, transit key, table, role, alarms."""
    kinds = tuple(KINDS.values()) if kinds is None else tuple(kinds)
    consumer_role = acct.role_arn(Side.CONSUMER, opts.peer_role_stage, account=opts.dr_account)
    transit = Key(
        TRANSIT_KEY_ALIAS,
        "transit key",
        "DRACO transit key: re-encrypts snapshot copies so they can be shared with the DR account",
        resource_policies.transit_key_policy(
            acct,
            dr_account=opts.dr_account,
            consumer_role=consumer_role,
            services=[k.service for k in kinds],
            dr_region=opts.peer_region,
            actions=policies.key_actions(kinds),
        ),
        f"only {consumer_role} may use it, through {', '.join(sorted({k.service.upper() for k in kinds}))}",
        acct.arn("kms", NEW_TRANSIT_KEY),
    )
    transit_arn = transit.var("arn")
    role_policy = policies.producer_role_policy(opts, acct, transit_arn, kinds)
    return _stack(opts, acct, kinds, [transit, *_outbox(opts, acct)], role_policy, opts.env(acct, transit_arn))


def _outbox(opts: ProducerOptions, acct: Account) -> list[Resource]:
    """This account's outbox (only its own roles publish: no statement but the owner's), sending to DR's inbox."""
    arn = acct.arn("sns", cfg.OUTBOX_TOPIC)
    policy = resource_policies.topic_policy(acct, arn, peers=(), peer_roles=())
    inbox = acct.arn("sqs", cfg.INBOX_QUEUE, account=opts.dr_account, region=opts.peer_region)
    return [Topic(cfg.OUTBOX_TOPIC, arn, TOPIC_KEY_ALIAS, policy, "this account"), QueueSubscription(arn, inbox)]


def consumer_stack(opts: ConsumerOptions, acct: Account, kinds: Sequence[SnapshotKind] | None = None) -> Stack:
    """The DR account: topic, event sources, table, role, alarms (DR keys are the consumer's own)."""
    kinds = tuple(KINDS.values()) if kinds is None else tuple(kinds)
    from draco.bootstrap.drill_policy import with_drills  # it builds on this module's models

    role_policy = policies.consumer_role_policy(opts, acct, kinds)
    arn = acct.arn("sqs", cfg.INBOX_QUEUE)
    inbox = Queue(cfg.INBOX_QUEUE, arn, inbox_policy(opts.trust, arn, acct.partition, opts.peer_region),
                  opts.trust.describe())  # fmt: skip
    return with_drills(_stack(opts, acct, kinds, [inbox], role_policy, opts.env(acct)), opts, acct)


def _stack(
    opts: Options,
    acct: Account,
    kinds: Sequence[SnapshotKind],
    keys: list[Resource],
    role_policy: Mapping[str, Any],
    env: Mapping[str, str | Var],
) -> Stack:
    side = opts.side
    role = Role(
        role_name(side, opts.stage),
        acct.role_arn(side, opts.stage),
        policies.lambda_trust(),
        role_policy,
        f"the {app_name(side)} Lambda functions of stage {opts.stage}",
    )
    resources = [
        *_topic_resources(opts, acct, kinds),
        *keys,
        Table(opts.table, table_definition(opts.table)),
        role,
        *_alert_resources(opts, acct),
    ]
    functions = {handler: function_name(side, opts.stage, handler) for handler in FUNCTIONS[side]}
    deployment = Deployment(role.arn, functions, opts.switched_rules, role.policy)
    return Stack(side, acct, tuple(resources), env, deployment)


def _topic_resources(opts: Options, acct: Account, kinds: Sequence[SnapshotKind]) -> list[Resource]:
    """The app's topic, its key, and the kinds' event sources sending to it."""
    side = opts.side
    topic_arn = acct.topic_arn(side)
    subscriptions: dict[str, RdsSubscription] = {}
    rules: dict[str, Rule] = {}
    rds_sources: list[str] = []
    for kind in kinds:
        for source in kind.event_sources(side):
            if isinstance(source, RdsEventSubscription):
                name = subscription_name(side, source.source_type)
                subscriptions[name] = RdsSubscription(
                    name, acct.arn("rds", f"es:{name}"), source.source_type, topic_arn
                )
                # AWS documents aws:SourceArn as the RDS resource an event is about.
                rds_sources.append(kind.arn(acct.partition, acct.region, acct.account, "*"))
            elif isinstance(source, EventRule):  # named by its kind, draco-<side>-...
                rules[source.name] = Rule(
                    source.name, acct.arn("events", f"rule/{source.name}"), source.pattern, topic_arn
                )
    # Production's topic takes DR's answers; DR's takes no DRACO messages (they come through its inbox).
    peers = opts.peers if side is Side.PRODUCER else ()
    peer_roles = [acct.role_arn(peer_of(side), opts.peer_role_stage, account=peer) for peer in peers]
    services = [
        name
        for name, used in ((resource_policies.RDS_EVENTS, subscriptions), (resource_policies.EVENTBRIDGE, rules))
        if used
    ]
    who = ", ".join([*peer_roles, *(["RDS"] if subscriptions else []), *(["EventBridge"] if rules else [])])
    key = Key(
        TOPIC_KEY_ALIAS,
        "topic key",
        "DRACO topic key: encrypts the DRACO topic's messages at rest",
        resource_policies.topic_key_policy(
            acct, peers=peers, peer_roles=peer_roles, services=services, topic_arn=topic_arn
        ),
        f"{who} may publish with it",
        acct.arn("kms", "key/<new topic key>"),
    )
    topic = Topic(
        TOPICS[side],
        topic_arn,
        TOPIC_KEY_ALIAS,
        resource_policies.topic_policy(
            acct,
            topic_arn,
            peers=peers,
            peer_roles=peer_roles,
            rds_sources=[*(s.arn for s in subscriptions.values()), *sorted(set(rds_sources))],
            rules=[r.arn for r in rules.values()],
        ),
        who,
    )
    return [key, topic, *subscriptions.values(), *rules.values()]


def _alert_resources(opts: Options, acct: Account) -> list[Resource]:
    if opts.alarms is None:
        return []
    topic = AlertTopic(ALERT_TOPIC, acct.arn("sns", ALERT_TOPIC), opts.alarms.email)
    rpo = opts.alarms.rpo_hours if opts.side is Side.CONSUMER else None
    return [topic, *(Alarm(d) for d in alarm_definitions(opts.side, opts.stage, topic.arn, rpo))]
