"""What the operator sets for drills: where they restore, how big, how many, how often, what checks them.

Read from the consumer's environment (bootstrap writes it, ``draco bootstrap
consumer --drill-every-days 30 ...``) or from ``draco drill``'s options.
Reading never raises: problems are collected, and drills then don't run.

| variable | meaning |
| --- | --- |
| ``DRILL_EVERY_DAYS`` | the scheduled drill restores each source this often (0, the default: off) |
| ``DRILL_SOURCES`` | which sources the scheduled drill restores: empty (all) or ``KEY=VALUE`` (a source tag) |
| ``DRILL_SUBNET_GROUP``, ``DRILL_SECURITY_GROUPS``, ``DRILL_ZONE`` | the isolated place drills restore into |
| ``DRILL_INSTANCE_CLASS`` | the class of restored DB instances (empty: the smallest the engine allows) |
| ``DRILL_CONCURRENCY`` | restores at once, at most (default 2) |
| ``DRILL_HOURS_PER_MONTH`` | instance-hours drills may use in 30 days (default 24); none start past it |
| ``DRILL_TIMEOUT_MINUTES`` | a drill not validated by then fails; a sweep deletes drill leftovers older (default 240) |
| ``DRILL_VALIDATOR`` | a Lambda function invoked with the restored endpoint (``checks``); empty: none |
| ``RTO_TARGET_MINUTES`` | a drill slower than this raises the RTO alarm (default 60) |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from chalicelib_shared.kinds.restoring import Place

DRILL_EVERY_DAYS = "DRILL_EVERY_DAYS"
DRILL_SOURCES = "DRILL_SOURCES"
DRILL_SUBNET_GROUP = "DRILL_SUBNET_GROUP"
DRILL_SECURITY_GROUPS = "DRILL_SECURITY_GROUPS"
DRILL_ZONE = "DRILL_ZONE"
DRILL_INSTANCE_CLASS = "DRILL_INSTANCE_CLASS"
DRILL_CONCURRENCY = "DRILL_CONCURRENCY"
DRILL_HOURS_PER_MONTH = "DRILL_HOURS_PER_MONTH"
DRILL_TIMEOUT_MINUTES = "DRILL_TIMEOUT_MINUTES"
DRILL_VALIDATOR = "DRILL_VALIDATOR"
RTO_TARGET_MINUTES = "RTO_TARGET_MINUTES"
VARIABLES = (DRILL_EVERY_DAYS, DRILL_SOURCES, DRILL_SUBNET_GROUP, DRILL_SECURITY_GROUPS, DRILL_ZONE,
             DRILL_INSTANCE_CLASS, DRILL_CONCURRENCY, DRILL_HOURS_PER_MONTH, DRILL_TIMEOUT_MINUTES,
             DRILL_VALIDATOR, RTO_TARGET_MINUTES)  # fmt: skip

_SUBNET_GROUP = re.compile(r"^[A-Za-z0-9 ._-]{1,255}\Z")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}\Z")
_ZONE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9][a-z]\Z")
_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+\Z")
_FUNCTION = re.compile(r"^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:)?[A-Za-z0-9_-]{1,64}(:[\w$-]+)?\Z")
_TAG = re.compile(r"^(?P<key>[^=]{1,128})=(?P<value>.{0,256})\Z")


@dataclass(frozen=True)
class DrillSettings:
    every_days: int = 0
    tag: tuple[str, str] | None = None  # (key, value): only sources so tagged
    place: Place = field(default_factory=Place)
    instance_class: str = ""
    concurrency: int = 2
    hours_per_month: float = 24.0
    timeout: timedelta = timedelta(minutes=240)
    validator: str = ""
    rto_target: timedelta = timedelta(minutes=60)
    problems: tuple[str, ...] = ()

    @property
    def scheduled(self) -> bool:
        return self.every_days > 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DrillSettings:
        problems: list[str] = []
        groups = tuple(g for g in env.get(DRILL_SECURITY_GROUPS, "").split(",") if g.strip())
        values = cls(
            every_days=_number(env, DRILL_EVERY_DAYS, 0, 0, 366, problems),
            tag=parse_tag(env.get(DRILL_SOURCES, ""), problems, DRILL_SOURCES),
            place=Place(env.get(DRILL_SUBNET_GROUP, ""), tuple(g.strip() for g in groups), env.get(DRILL_ZONE, "")),
            instance_class=env.get(DRILL_INSTANCE_CLASS, ""),
            concurrency=_number(env, DRILL_CONCURRENCY, 2, 1, 20, problems),
            hours_per_month=_number(env, DRILL_HOURS_PER_MONTH, 24, 1, 10000, problems),
            timeout=timedelta(minutes=_number(env, DRILL_TIMEOUT_MINUTES, 240, 15, 2880, problems)),
            validator=env.get(DRILL_VALIDATOR, ""),
            rto_target=timedelta(minutes=_number(env, RTO_TARGET_MINUTES, 60, 1, 10080, problems)),
        )
        return values.checked(problems)

    def checked(self, problems: list[str] | None = None) -> DrillSettings:
        """These settings with every problem found in them."""
        found = list(problems or ())
        place = self.place
        if place.subnet_group and not _SUBNET_GROUP.match(place.subnet_group):
            found.append(f"DB subnet group {place.subnet_group!r} is not a DB subnet group name")
        bad = [group for group in place.security_groups if not _SECURITY_GROUP.match(group)]
        found += [f"{group!r} is not a security group id (sg-...)" for group in bad]
        if place.zone and not _ZONE.match(place.zone):
            found.append(f"{place.zone!r} is not an availability zone name (like us-east-1a)")
        if self.instance_class and not _CLASS.match(self.instance_class):
            found.append(f"{self.instance_class!r} is not a DB instance class (like db.t3.micro)")
        if self.validator and not _FUNCTION.match(self.validator):
            found.append(f"{self.validator!r} is not a Lambda function name or ARN")
        return DrillSettings(**{**self.__dict__, "problems": tuple(found)})


def parse_tag(raw: str, problems: list[str], name: str = "--tag") -> tuple[str, str] | None:
    """``KEY=VALUE`` as a pair; empty: ``None``."""
    if not raw:
        return None
    match = _TAG.match(raw)
    if not match:
        problems.append(f"{name}={raw!r} must be KEY=VALUE")
        return None
    return match["key"], match["value"]


def _number(env: Mapping[str, str], name: str, default: int, bottom: int, top: int, problems: list[str]) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not bottom <= int(raw) <= top:
        problems.append(f"{name}={raw!r} must be a whole number from {bottom} to {top}")
        return default
    return int(raw)
