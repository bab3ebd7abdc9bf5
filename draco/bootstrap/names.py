"""The names of everything DRACO deploys, fixed so each side can name the other's before either exists.

A topic, a role or a function name is a pure function of the app, the stage
and the account; an ARN also of the partition and the Region. Both sides, and
both deployment paths (``chalice deploy``, ``chalice package`` +
CloudFormation), use these, so a policy written before deploy names what the
deploy makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib_shared import config as cfg
from chalicelib_shared.kinds.base import Side

APP_NAMES = {Side.PRODUCER: "draco-producer", Side.CONSUMER: "draco-consumer"}
TOPICS = {Side.PRODUCER: cfg.PRODUCER_TOPIC, Side.CONSUMER: cfg.CONSUMER_TOPIC}
TABLES = {Side.PRODUCER: cfg.PRODUCER_TABLE, Side.CONSUMER: cfg.CONSUMER_TABLE}
#: Each app's Lambda handlers (its app.py; tests/test_bootstrap_names.py checks they agree).
FUNCTIONS = {
    Side.PRODUCER: ("on_producer_topic", "poll_jobs", "wake_poller", "sweep_snapshots"),
    Side.CONSUMER: ("on_consumer_topic", "on_inbox", "poll_jobs", "wake_poller", "run_drills"),
}
POLLER_FUNCTION = "poll_jobs"
WAKE_FUNCTION = "wake_poller"
DRILL_FUNCTION = "run_drills"
#: The scheduled functions whose EventBridge rule each app switches off while idle and on again
#: (``chalicelib_shared.pacing``): DR's wake-up reports every hour, so it never rests.
SWITCHED = {Side.PRODUCER: (POLLER_FUNCTION, WAKE_FUNCTION), Side.CONSUMER: (POLLER_FUNCTION,)}
TRANSIT_KEY_ALIAS = cfg.TRANSIT_KEY_ALIAS
# Outside alias/DRACO-*, the DR keys' names (alias/DRACO-<source or account>): no source can
# take it, and the consumer's grants to DR keys don't reach it.
TOPIC_KEY_ALIAS = "alias/DRACO/Topics"
DR_KEY_ALIAS_PREFIX = "alias/DRACO-"
ALERT_TOPIC = "DracoAlerts"
ROLE_POLICY_NAME = "draco"
MAX_NAME = 64  # IAM role and Lambda function names


def peer_of(side: Side) -> Side:
    return Side.CONSUMER if side is Side.PRODUCER else Side.PRODUCER


def app_name(side: Side) -> str:
    return APP_NAMES[side]


def role_name(side: Side, stage: str) -> str:
    """The app's one Lambda role, made by bootstrap: ``draco-<app>-<stage>``."""
    return f"{app_name(side)}-{stage}"


def function_name(side: Side, stage: str, handler: str) -> str:
    """``chalice deploy`` names functions ``<app>-<stage>-<handler>``; bootstrap makes ``chalice package`` agree."""
    return f"{app_name(side)}-{stage}-{handler}"


def subscription_name(side: Side, source_type: str) -> str:
    return f"{app_name(side)}-{source_type}"


def schedule_rule_name(side: Side, stage: str, handler: str) -> str:
    """The EventBridge rule of a scheduled function, as ``chalice deploy`` names it (``<function>-event``)."""
    return f"{function_name(side, stage, handler)}-event"


def alarm_name(side: Side, stage: str, what: str) -> str:
    return f"{app_name(side)}-{stage}-{what}"


def longest_stage() -> int:
    """The longest stage name whose role, function and schedule rule names all fit AWS's 64 characters."""
    return MAX_NAME - max(
        len(schedule_rule_name(side, "", handler)) for side, names in FUNCTIONS.items() for handler in names
    )


@dataclass(frozen=True)
class Account:
    """An account as bootstrap sees it: partition, id and the Region it works in; builds its ARNs."""

    partition: str
    account: str
    region: str

    def arn(self, service: str, resource: str, *, account: str | None = None, region: str | None = None) -> str:
        """An ARN in this Region and account unless told otherwise."""
        return f"arn:{self.partition}:{service}:{region or self.region}:{account or self.account}:{resource}"

    def root(self, account: str | None = None) -> str:
        return f"arn:{self.partition}:iam::{account or self.account}:root"

    def role_arn(self, side: Side, stage: str, account: str | None = None) -> str:
        return f"arn:{self.partition}:iam::{account or self.account}:role/{role_name(side, stage)}"

    def topic_arn(self, side: Side, account: str | None = None, region: str | None = None) -> str:
        return self.arn("sns", TOPICS[side], account=account, region=region)
