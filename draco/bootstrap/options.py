"""Bootstrap's options, one frozen object per app, checked before any AWS call.

The apps read their configuration with ``ProducerConfig.from_env`` and
``ConsumerConfig.from_env`` and refuse, at every cold start, what those find
wrong. Bootstrap builds the environment it would write and runs the same
readers on it, with placeholders where a value only exists after apply (the
account id, the transit key's ARN), so it refuses exactly what the apps would
refuse, before it changes anything. Checks of its own come on top: the Region,
stage names that fit AWS's name limits, the alarm settings.

The Region is a field, not read from the session further down. The DR account
may be in another Region than production (``dr_region``, ``source_region``):
each app runs in its own account's Region and names the peer's Region in its
environment (the producer through its transit key's policy, the consumer through
``SOURCE_REGION``); the peer's Region equal to the app's own is the same as none.

The consumer trusts a list of production accounts or an Organization (and OUs in
it): ``draco.bootstrap.trust``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from chalicelib_shared import config as cfg
from chalicelib_shared.capacity import DEFAULT_MAX_KEEP
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.kinds.base import Side
from draco.bootstrap.instructions import Var
from draco.bootstrap.names import (
    DRILL_FUNCTION,
    POLLER_FUNCTION,
    SWITCHED,
    TABLES,
    WAKE_FUNCTION,
    Account,
    longest_stage,
    schedule_rule_name,
)
from draco.bootstrap.trust import Trust, trust_of

DEFAULT_RPO_HOURS = 26.0
_STAGE = re.compile(r"[A-Za-z0-9_]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Stands for what is only known after the first apply, in checks and dry runs.
_SOME_ACCOUNT = "000000000000"
_SOME_KEY = "key/00000000-0000-0000-0000-000000000000"
NEW_TRANSIT_KEY = "key/<new transit key>"


@dataclass(frozen=True)
class Alarms:
    """Alerting: an address to subscribe to DracoAlerts, and the RPO alarm's threshold (DR only)."""

    email: str = ""
    rpo_hours: float = DEFAULT_RPO_HOURS

    def problems(self) -> list[str]:
        found = []
        if self.email and not _EMAIL.fullmatch(self.email):
            found.append(f"--alert-email {self.email!r} is not an e-mail address")
        if not 0 < self.rpo_hours <= 24 * 366:
            found.append(f"--rpo-hours {self.rpo_hours:g} must be more than 0 and at most a year")
        return found


@dataclass(frozen=True)
class _Common:
    region: str
    stage: str = "dev"
    peer_stage: str = ""  # the other app's stage, whose role may publish to this side ("": the same)
    tag_key: str = cfg.DEFAULT_TAG_KEY
    tag_value: str = cfg.DEFAULT_TAG_VALUE
    alarms: Alarms | None = field(default_factory=Alarms)

    side: ClassVar[Side]

    @property
    def peers(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def peer_region(self) -> str:
        """The peer accounts' Region: the app's own unless told otherwise."""
        raise NotImplementedError

    @property
    def across_regions(self) -> bool:
        return self.peer_region != self.region

    @property
    def peer_role_stage(self) -> str:
        return self.peer_stage or self.stage

    @property
    def table(self) -> str:
        return TABLES[self.side]

    @property
    def poller_rule(self) -> str:
        """The poller's schedule rule, which the app switches off while idle (``POLLER_RULE``)."""
        return schedule_rule_name(self.side, self.stage, POLLER_FUNCTION)

    @property
    def switched_rules(self) -> dict[str, str]:
        """Each schedule rule the app switches off while idle, by handler (``names.SWITCHED``)."""
        return {handler: schedule_rule_name(self.side, self.stage, handler) for handler in SWITCHED[self.side]}


@dataclass(frozen=True)
class ProducerOptions(_Common):
    """``bootstrap producer``: the production account, sending copies to ``dr_account``."""

    dr_account: str = ""
    dr_region: str = ""  # the DR account's Region ("": production's)
    transit_limit: int = 10  # TRANSIT_LIMIT: transit copies that may exist at once
    transit_keep_days: int = 7  # TRANSIT_KEEP_DAYS: a failed job's transit copy is kept this long
    side: ClassVar[Side] = Side.PRODUCER

    @property
    def peers(self) -> tuple[str, ...]:
        return (self.dr_account,)

    @property
    def peer_region(self) -> str:
        return self.dr_region or self.region

    def env(self, acct: Account, transit_key_arn: str | Var) -> dict[str, str | Var]:
        """The producer's Lambda environment."""
        return {
            cfg.DR_ACCT: self.dr_account,
            cfg.OUTBOX_TOPIC_ARN: acct.arn("sns", cfg.OUTBOX_TOPIC),
            cfg.TRANSIT_KEY_ARN: transit_key_arn,
            cfg.TAG_KEY: self.tag_key,
            cfg.TAG_VALUE: self.tag_value,
            cfg.JOB_TABLE: self.table,
            cfg.POLLER_RULE: self.poller_rule,
            cfg.WAKE_RULE: self.switched_rules[WAKE_FUNCTION],
            cfg.TRANSIT_LIMIT: str(self.transit_limit),
            cfg.TRANSIT_KEEP_DAYS: str(self.transit_keep_days),
        }


@dataclass(frozen=True)
class ConsumerOptions(_Common):
    """``bootstrap consumer``: the DR account, taking copies from ``source_accounts``."""

    source_accounts: tuple[str, ...] = ()
    source_org: str = ""  # or trust every account of this Organization (SOURCE_ORG)
    source_ous: tuple[str, ...] = ()  # only those in these OUs of it (SOURCE_OUS)
    default_lifecycle: str = ""
    custom_lifecycles: str = ""
    no_dry_run: bool = False
    source_region: str = ""  # the source accounts' Region ("": DR's)
    retention_lock: bool = True  # RETENTION_LOCK: a shorter lifecycle waits for approval in DR
    min_keep: int = 3  # MIN_KEEP: the newest copies of a source no lifecycle deletes
    key_cap: int = 10  # KEY_CAP: new DR keys a day per source account
    max_keep: int = DEFAULT_MAX_KEEP  # MAX_KEEP: a lifecycle keeping more copies waits for approval in DR
    key_scope: str = "database"  # KEY_SCOPE: a DR key per source database, or per source account
    drill_settings: tuple[tuple[str, str], ...] = ()  # DRILL_* and RTO_TARGET_MINUTES (drills.settings)
    side: ClassVar[Side] = Side.CONSUMER

    @property
    def peers(self) -> tuple[str, ...]:
        return self.source_accounts

    @property
    def trust(self) -> Trust:
        return trust_of(self.source_accounts, self.source_org, self.source_ous)

    @property
    def peer_region(self) -> str:
        return self.source_region or self.region

    def env(self, acct: Account) -> dict[str, str | Var]:
        """The consumer's Lambda environment; ``CONSUMER_ROLE_ARN`` is the role DR key policies name."""
        return {
            cfg.SOURCE_ACCTS: ",".join(self.source_accounts),
            cfg.SOURCE_ORG: self.source_org,
            cfg.SOURCE_OUS: ",".join(self.source_ous),
            cfg.TAG_KEY: self.tag_key,
            cfg.TAG_VALUE: self.tag_value,
            cfg.NO_DRY_RUN: "1" if self.no_dry_run else "",
            cfg.DEFAULT_LIFECYCLE: self.default_lifecycle,
            cfg.CUSTOM_LIFECYCLES: self.custom_lifecycles,
            cfg.JOB_TABLE: self.table,
            cfg.PRODUCER_TOPIC_NAME: cfg.PRODUCER_TOPIC,
            cfg.CONSUMER_ROLE_ARN: acct.role_arn(Side.CONSUMER, self.stage),
            cfg.POLLER_RULE: self.poller_rule,
            cfg.DRILL_RULE: schedule_rule_name(self.side, self.stage, DRILL_FUNCTION),
            cfg.SOURCE_REGION: self.source_region,
            cfg.RETENTION_LOCK: "on" if self.retention_lock else "off",
            cfg.MIN_KEEP: str(self.min_keep),
            cfg.KEY_CAP: str(self.key_cap),
            cfg.MAX_KEEP: str(self.max_keep),
            cfg.RPO_HOURS: f"{self.alarms.rpo_hours if self.alarms else DEFAULT_RPO_HOURS:g}",
            cfg.KEY_SCOPE: self.key_scope,
            **dict(self.drill_settings),
        }


Options = ProducerOptions | ConsumerOptions


def producer_options(
    region: str | None, dr_account: str, dr_region: str | None = None, **options: object
) -> ProducerOptions:
    """The producer's options from ``producer(...)``'s arguments; ``ValueError`` for what the app would refuse."""
    here = _region(region)
    opts = ProducerOptions(
        region=here,
        dr_account=dr_account,
        dr_region=_peer_region(here, dr_region, "--dr-region"),
        **options,  # type: ignore[arg-type]
    )
    placeholder = Account("aws", _SOME_ACCOUNT, opts.region)
    env = opts.env(placeholder, placeholder.arn("kms", _SOME_KEY))
    _check(opts, cfg.ProducerConfig.from_env(env).problems)  # type: ignore[arg-type]
    return opts


def consumer_options(
    region: str | None, source_accounts: Sequence[str], source_region: str | None = None, **options: object
) -> ConsumerOptions:
    """The consumer's options from ``consumer(...)``'s arguments; ``ValueError`` for what the app would refuse."""
    here = _region(region)
    sources = tuple(sorted({account.strip() for account in source_accounts if account.strip()}))
    ous = options.pop("source_ous", ()) or ()
    opts = ConsumerOptions(
        region=here,
        source_accounts=sources,
        source_ous=tuple(sorted({ou.strip() for ou in ous if ou.strip()})),  # type: ignore[attr-defined]
        source_region=_peer_region(here, source_region, "--source-region"),
        **options,  # type: ignore[arg-type]
    )
    env = opts.env(Account("aws", _SOME_ACCOUNT, opts.region))
    drills = DrillSettings.from_env({k: str(v) for k, v in env.items()}).problems
    _check(opts, [*cfg.ConsumerConfig.from_env(env).problems, *drills])  # type: ignore[arg-type]
    return opts


def _region(region: str | None) -> str:
    if not region:
        raise ValueError("no AWS region: pass --region or set AWS_DEFAULT_REGION (session.region_name is None)")
    if not cfg.is_region(region):
        raise ValueError(f"--region {region!r} is not an AWS Region name (like us-east-1)")
    return region


def _peer_region(region: str, peer: str | None, option: str) -> str:
    """The peer's Region as the options keep it: "" when it is the app's own (or not given)."""
    peer = (peer or "").strip()
    if peer and not cfg.is_region(peer):
        raise ValueError(f"{option} {peer!r} is not an AWS Region name (like us-west-2)")
    return "" if peer == region else peer


def _check(opts: Options, app_problems: Sequence[str]) -> None:
    problems = [f"the {opts.side} would refuse this configuration: {problem}" for problem in app_problems]
    for what, stage in (("stage", opts.stage), ("peer stage", opts.peer_role_stage)):
        if not _STAGE.fullmatch(stage) or len(stage) > longest_stage():
            problems.append(
                f"{what} {stage!r} must be 1-{longest_stage()} letters, digits and underscores "
                "(it names the app's IAM role and Lambda functions)"
            )
    if opts.alarms is not None:
        problems += opts.alarms.problems()
    if problems:
        raise ValueError("; ".join(problems))
