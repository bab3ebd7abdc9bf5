"""Each app's configuration, read from its Lambda environment.

Bootstrap (``draco.bootstrap``) writes these variables into the stage's
``.chalice/config.json``; the names follow the original DRACO where it had one.
Reading never raises: problems are collected so the handler can log them once
at cold start and refuse to act, instead of crashing on every event.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib_shared.capacity import DEFAULT_MAX_KEEP
from chalicelib_shared.kinds import KINDS
from chalicelib_shared.lifecycles import Lifecycles
from chalicelib_shared.managed import COPY_MANAGED_SNAPSHOTS, copy_managed
from chalicelib_shared.naming import ACCOUNT_ID
from chalicelib_shared.retention import parse_custom_lifecycles, parse_policy

# Names of the environment variables, shared with bootstrap.
DR_ACCT = "DR_ACCT"
OUTBOX_TOPIC_ARN = "OUTBOX_TOPIC_ARN"
TRANSIT_KEY_ARN = "TRANSIT_KEY_ARN"
TAG_KEY = "TAG_KEY"
TAG_VALUE = "TAG_VALUE"
JOB_TABLE = "JOB_TABLE"
SOURCE_ACCTS = "SOURCE_ACCTS"
SOURCE_ORG = "SOURCE_ORG"
SOURCE_OUS = "SOURCE_OUS"
NO_DRY_RUN = "NO_DRY_RUN"
DEFAULT_LIFECYCLE = "DEFAULT_LIFECYCLE"
CUSTOM_LIFECYCLES = "CUSTOM_LIFECYCLES"
PRODUCER_TOPIC_NAME = "PRODUCER_TOPIC_NAME"
CONSUMER_ROLE_ARN = "CONSUMER_ROLE_ARN"
MAX_ATTEMPTS = "MAX_ATTEMPTS"
SWEEP_DAYS = "SWEEP_DAYS"
TRANSIT_LIMIT = "TRANSIT_LIMIT"
TRANSIT_KEEP_DAYS = "TRANSIT_KEEP_DAYS"
RETENTION_LOCK = "RETENTION_LOCK"
MIN_KEEP = "MIN_KEEP"
KEY_CAP = "KEY_CAP"
MAX_KEEP = "MAX_KEEP"
RPO_HOURS = "RPO_HOURS"
KEY_SCOPE = "KEY_SCOPE"
POLLER_RULE = "POLLER_RULE"
WAKE_RULE = "WAKE_RULE"
DRILL_RULE = "DRILL_RULE"
SOURCE_REGION = "SOURCE_REGION"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]\Z")
_RULE_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}\Z")
KEY_SCOPES = ("database", "account")

PRODUCER_TOPIC = "DracoProducer"
CONSUMER_TOPIC = "DracoConsumer"
#: Production's own topic for its messages to DR, and DR's queue subscribed to every production
#: account's: the topic's ARN, which SNS sets on each delivery, names the account (``inbox``).
OUTBOX_TOPIC = "DracoOutbox"
INBOX_QUEUE = "DracoInbox"
PRODUCER_TABLE = "DracoProducerJobs"
CONSUMER_TABLE = "DracoConsumerJobs"
TRANSIT_KEY_ALIAS = "alias/DRACO-Transit"
DEFAULT_TAG_KEY = "Draco_Copy"
DEFAULT_TAG_VALUE = "DR"

_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}\Z")
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+\Z")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+\Z", re.ASCII)
_ORG = re.compile(r"^o-[a-z0-9]{10,32}\Z")
_OU = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}\Z")
_TAG_KEY = re.compile(r"^(?!(?i:aws|rds):)[\w .:/=+@-]{1,128}\Z")


def _truthy(value: str | None) -> bool:
    """``NO_DRY_RUN`` counts as set for any value but empty, 0, false or no."""
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def _int(env: Mapping[str, str], name: str, default: int, top: int, problems: list[str], bottom: int = 1) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not bottom <= int(raw) <= top:
        problems.append(f"{name}={raw!r} must be a whole number from {bottom} to {top}")
        return default
    return int(raw)


def _hours(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    """A number of hours, more than 0 and at most a year."""
    raw = env.get(name, "").strip()
    try:
        hours = float(raw) if raw else default
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 366:
        problems.append(f"{name}={raw!r} must be a number of hours, more than 0 and at most a year")
        return default
    return hours


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], problems: list[str]) -> str:
    """One of ``choices`` (the first by default)."""
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        problems.append(f"{name}={raw!r} must be one of {', '.join(choices)}")
        return choices[0]
    return raw


def _switch(env: Mapping[str, str], name: str, problems: list[str]) -> bool:
    """An on/off setting that is on unless set to ``off``: a typo must not switch a safeguard off."""
    raw = env.get(name, "").strip().lower()
    if raw not in ("", "on", "off"):
        problems.append(f"{name}={raw!r} must be on or off")
    return raw != "off"


@dataclass(frozen=True)
class Limits:
    """How hard each app pushes: copies in flight per kind, attempts before a job fails.

    Also the poller's EventBridge rule (``POLLER_RULE``, written by bootstrap), which
    the app switches off while idle (``chalicelib_shared.pacing``); empty: always on.
    And the hourly wake-up's (``WAKE_RULE``, production's only), which rests while no
    job has work left; empty: the wake-up runs every hour. And the scheduled drill's
    (``DRILL_RULE``, DR's), which rests while drills are off; empty: it runs to do nothing.
    """

    copies: Mapping[str, int]  # by SnapshotType, each kind's own setting (e.g. INSTANCE_COPY_LIMIT)
    max_attempts: int
    poller_rule: str = ""
    wake_rule: str = ""
    drill_rule: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str], problems: list[str]) -> Limits:
        return cls(
            copies={
                kind.name: _int(env, kind.copy_limit_variable, kind.default_copy_limit, 100, problems)
                for kind in KINDS.values()
            },
            max_attempts=_int(env, MAX_ATTEMPTS, 8, 100, problems),
            poller_rule=_rule_name(env, POLLER_RULE, problems),
            wake_rule=_rule_name(env, WAKE_RULE, problems),
            drill_rule=_rule_name(env, DRILL_RULE, problems),
        )


def is_region(name: str) -> bool:
    """Whether ``name`` is shaped like an AWS Region name (``us-east-1``)."""
    return bool(_REGION.match(name))


def _region(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    region = env.get(name, "").strip()
    if region and not is_region(region):
        problems.append(f"{name}={region!r} is not an AWS Region name")
    return region


def _rule_name(env: Mapping[str, str], name: str, problems: list[str]) -> str:
    rule = env.get(name, "").strip()
    if rule and not _RULE_NAME.match(rule):
        problems.append(f"{name}={rule!r} is not an EventBridge rule name")
    return rule


def _tag(env: Mapping[str, str], problems: list[str]) -> tuple[str, str]:
    key = env.get(TAG_KEY, DEFAULT_TAG_KEY) or DEFAULT_TAG_KEY
    value = env.get(TAG_VALUE, DEFAULT_TAG_VALUE)
    if not _TAG_KEY.match(key):
        problems.append(f"{TAG_KEY}={key!r} is not a valid tag key (1-128 characters, not 'aws:' or 'rds:')")
    if len(value) > 256:
        problems.append(f"{TAG_VALUE} is longer than 256 characters")
    return key, value


@dataclass(frozen=True)
class Lock:
    """How long, and how, DR copies of a kind are locked against deletion."""

    days: int
    mode: str  # governance (lifted by a privileged DR user) or compliance (by nobody)


LOCK_MODES = ("governance", "compliance")


def _locks(env: Mapping[str, str], problems: list[str]) -> dict[str, Lock]:
    """``<KIND>_LOCK_DAYS`` (and ``_MODE``, default governance) for each kind AWS can lock."""
    locks = {}
    for kind in KINDS.values():
        if not kind.lock_variable or not env.get(f"{kind.lock_variable}_DAYS", "").strip():
            continue
        days = _int(env, f"{kind.lock_variable}_DAYS", 0, 36500, problems)
        mode = env.get(f"{kind.lock_variable}_MODE", "").strip().lower() or LOCK_MODES[0]
        if mode not in LOCK_MODES:
            problems.append(f"{kind.lock_variable}_MODE={mode!r} must be governance or compliance")
        elif days:
            locks[kind.name] = Lock(days, mode)
    return locks


def _organization(env: Mapping[str, str], problems: list[str]) -> tuple[str, tuple[str, ...]]:
    """``SOURCE_ORG`` and ``SOURCE_OUS`` (OUs only within an Organization)."""
    org = env.get(SOURCE_ORG, "").strip()
    ous = tuple(ou.strip() for ou in env.get(SOURCE_OUS, "").split(",") if ou.strip())
    if org and not _ORG.match(org):
        problems.append(f"{SOURCE_ORG}={org!r} is not an AWS Organization id (o-, then 10 to 32 letters or digits)")
    for bad in (ou for ou in ous if not _OU.match(ou)):
        problems.append(f"{SOURCE_OUS} holds {bad!r}, which is not an organizational unit id (ou-...-...)")
    if ous and not org:
        problems.append(f"{SOURCE_OUS} needs {SOURCE_ORG}: an OU is trusted only within its Organization")
    return org, ous


@dataclass(frozen=True)
class ProducerConfig:
    """What the production-account app needs to know."""

    dr_account: str
    outbox_topic_arn: str  # this account's DracoOutbox, where DR reads production's messages from
    transit_key_arn: str
    job_table: str
    tag_key: str
    tag_value: str
    limits: Limits
    sweep_days: int
    transit_limit: int  # transit copies that may exist at once (they count against production's quota)
    transit_keep_days: int  # a failed job's transit copy is deleted after this, if its source still exists
    problems: tuple[str, ...] = field(default=())
    copy_managed: frozenset[str] = frozenset()  # other features' snapshots asked about all the same (``managed``)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ProducerConfig:
        env = os.environ if env is None else env
        problems: list[str] = []
        dr_account = env.get(DR_ACCT, "").strip()
        if not ACCOUNT_ID.match(dr_account):
            problems.append(f"{DR_ACCT}={dr_account!r} must be a 12-digit AWS account id")
        topic = env.get(OUTBOX_TOPIC_ARN, "").strip()
        if not _TOPIC_ARN.match(topic) or topic.rsplit(":", 1)[-1] != OUTBOX_TOPIC:
            problems.append(f"{OUTBOX_TOPIC_ARN}={topic!r} must be the ARN of this account's {OUTBOX_TOPIC} topic")
        elif ACCOUNT_ID.match(dr_account) and topic.split(":")[4] == dr_account:
            problems.append(f"{OUTBOX_TOPIC_ARN} is in the DR account {dr_account}, not in production")
        key = env.get(TRANSIT_KEY_ARN, "").strip()
        if not _KEY_ARN.match(key):
            problems.append(f"{TRANSIT_KEY_ARN}={key!r} must be a KMS key ARN")
        tag_key, tag_value = _tag(env, problems)
        return cls(
            dr_account=dr_account,
            outbox_topic_arn=topic,
            transit_key_arn=key,
            job_table=env.get(JOB_TABLE, PRODUCER_TABLE) or PRODUCER_TABLE,
            tag_key=tag_key,
            tag_value=tag_value,
            limits=Limits.from_env(env, problems),
            sweep_days=_int(env, SWEEP_DAYS, 7, 35, problems),
            transit_limit=_int(env, TRANSIT_LIMIT, 10, 100, problems),
            transit_keep_days=_int(env, TRANSIT_KEEP_DAYS, 7, 365, problems),
            copy_managed=copy_managed(env.get(COPY_MANAGED_SNAPSHOTS, ""), problems),
            problems=tuple(problems),
        )


@dataclass(frozen=True)
class ConsumerConfig:
    """What the DR-account app needs to know."""

    source_accounts: frozenset[str]  # SOURCE_ACCTS: the production accounts DR trusts, if listed
    source_org: str  # SOURCE_ORG: or every account of this Organization (o-...) that AWS lets reach the inbox
    source_ous: tuple[str, ...]  # SOURCE_OUS: within the Organization, only these OUs (and the OUs below)
    job_table: str
    tag_key: str
    tag_value: str
    live: bool
    default_lifecycle: str
    custom_lifecycles: Mapping[str, str]
    producer_topic_name: str
    consumer_role_arn: str
    limits: Limits
    retention_lock: bool  # shortening a lifecycle needs approval in DR
    min_keep: int  # no lifecycle deletes one of a source's newest MIN_KEEP copies
    key_cap: int  # new DR keys per source account and day
    max_keep: int  # a lifecycle keeping more copies of a source waits for approval in DR (``capacity``)
    rpo_hours: float  # a source whose newest copy is older is late (the recovery-point metrics)
    key_scope: str  # "database": one DR key per source; "account": one per source account
    source_region: str  # the production snapshots' Region, when not DR's own ("")
    locks: Mapping[str, Lock]  # by SnapshotType: DR copies locked against deletion
    problems: tuple[str, ...] = field(default=())

    def trusts(self, account: str) -> bool:
        """Whether DR acts for ``account``, one AWS vouched for (the inbox's topic ARN).

        With an account list, only those. With Organization trust, AWS let the message reach the
        inbox only from the Organization's (or the OUs') accounts (bootstrap's queue policy), so any.
        """
        if self.source_accounts:
            return account in self.source_accounts
        return bool(self.source_org)

    @property
    def lifecycles(self) -> Lifecycles:
        return Lifecycles(
            self.custom_lifecycles, self.default_lifecycle, self.retention_lock, self.min_keep, self.max_keep
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsumerConfig:
        env = os.environ if env is None else env
        problems: list[str] = []
        accounts = [a.strip() for a in env.get(SOURCE_ACCTS, "").split(",") if a.strip()]
        org, ous = _organization(env, problems)
        if not accounts and not org:
            problems.append(f"{SOURCE_ACCTS} and {SOURCE_ORG} are empty: no production account may send snapshots")
        for bad in (a for a in accounts if not ACCOUNT_ID.match(a)):
            problems.append(f"{SOURCE_ACCTS} holds {bad!r}, which is not a 12-digit account id")
        custom: Mapping[str, str] = {}
        try:
            custom = parse_custom_lifecycles(env.get(CUSTOM_LIFECYCLES, ""))
        except ValueError as err:
            problems.append(f"{CUSTOM_LIFECYCLES}: {err}")
        default = env.get(DEFAULT_LIFECYCLE, "").strip()
        if default:
            try:
                parse_policy(default, custom)
            except ValueError as err:
                problems.append(f"{DEFAULT_LIFECYCLE}={default!r}: {err}")
        role = env.get(CONSUMER_ROLE_ARN, "").strip()
        if role and not _ROLE_ARN.match(role):
            problems.append(f"{CONSUMER_ROLE_ARN}={role!r} is not an IAM role ARN")
        tag_key, tag_value = _tag(env, problems)
        return cls(
            source_accounts=frozenset(a for a in accounts if ACCOUNT_ID.match(a)),
            source_org=org,
            source_ous=ous,
            job_table=env.get(JOB_TABLE, CONSUMER_TABLE) or CONSUMER_TABLE,
            tag_key=tag_key,
            tag_value=tag_value,
            live=_truthy(env.get(NO_DRY_RUN)),
            default_lifecycle=default,
            custom_lifecycles=custom,
            producer_topic_name=env.get(PRODUCER_TOPIC_NAME, PRODUCER_TOPIC) or PRODUCER_TOPIC,
            consumer_role_arn=role,
            limits=Limits.from_env(env, problems),
            retention_lock=_switch(env, RETENTION_LOCK, problems),
            min_keep=_int(env, MIN_KEEP, 3, 1000, problems, bottom=0),
            key_cap=_int(env, KEY_CAP, 10, 1000, problems),
            max_keep=_int(env, MAX_KEEP, DEFAULT_MAX_KEEP, 100000, problems, bottom=0),
            rpo_hours=_hours(env, RPO_HOURS, 26.0, problems),
            key_scope=_choice(env, KEY_SCOPE, KEY_SCOPES, problems),
            source_region=_region(env, SOURCE_REGION, problems),
            locks=_locks(env, problems),
            problems=tuple(problems),
        )
