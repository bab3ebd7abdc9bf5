"""The edge between Lambda and the use-cases: build the service, route, log the outcome.

Bad input never raises here: an unknown subject, a malformed or unauthorised
message is logged with its reason and dropped (raising would only make Lambda
retry it). Configuration problems are logged once per cold start and the
handler then does nothing. AWS errors that survive the clients' own retries do
raise, so Lambda retries the event; every step is idempotent, so that is safe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib_shared import aws, metrics, rds_events
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.jobs import JobTable
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.log import logger
from chalicelib_shared.messages import SUBJECT, Message, Rejection, parse_message
from chalicelib_shared.producer import Producer
from chalicelib_shared.rds_events import RdsEvent
from chalicelib_shared.slots import CopySlots

POLL_MINUTES_VARIABLE = "DRACO_POLL_MINUTES"
SWEEP_HOURS_VARIABLE = "DRACO_SWEEP_HOURS"
_reported: set[tuple[str, tuple[str, ...]]] = set()


class Service(Protocol):
    def on_message(self, message: Message) -> str | Rejection: ...
    def on_rds_event(self, event: RdsEvent) -> str: ...
    def poll(self) -> dict[str, int]: ...


def _schedule(variable: str, default: int, top: int) -> int:
    raw = os.environ.get(variable, str(default))
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= top else default


def poll_minutes() -> int:
    """The pollers' schedule, read when Chalice loads the app (deploy or package)."""
    return _schedule(POLL_MINUTES_VARIABLE, 1, 60)


def sweep_hours() -> int:
    """The production sweep's schedule, likewise."""
    return _schedule(SWEEP_HOURS_VARIABLE, 6, 24)


def _usable(app: str, problems: tuple[str, ...]) -> bool:
    if problems and (app, problems) not in _reported:
        _reported.add((app, problems))
        logger.error("configuration is invalid; doing nothing until it is fixed", app=app, problems=list(problems))
    return not problems


def producer() -> Producer | None:
    config = ProducerConfig.from_env()
    if not _usable("producer", config.problems):
        return None
    region = aws.region()
    return Producer(
        config=config,
        rds=aws.client("rds", region),
        sns=aws.client("sns", region),
        jobs=JobTable(aws.table(config.job_table, region)),
        slots=CopySlots(aws.table(config.job_table, region), config.limits.copies),
    )


def consumer() -> Consumer | None:
    config = ConsumerConfig.from_env()
    if not _usable("consumer", config.problems):
        return None
    region = aws.region()
    return Consumer(
        config=config,
        rds=aws.client("rds", region),
        sns=aws.client("sns", region),
        keys=SourceKeys(aws.client("kms", region), aws.client("sts", region), config.consumer_role_arn),
        jobs=JobTable(aws.table(config.job_table, region), inventory=True),
        slots=CopySlots(aws.table(config.job_table, region), config.limits.copies),
        region=region,
    )


def on_sns(build: Callable[[], Service | None], subject: Any, body: Any) -> str:
    """Route one SNS message to the service; return (and log) what came of it."""
    try:
        return _on_sns(build, subject, body)
    finally:
        metrics.flush()


def _on_sns(build: Callable[[], Service | None], subject: Any, body: Any) -> str:
    service = build()
    if service is None:
        return "ignored: invalid configuration"
    if subject == rds_events.SUBJECT:
        event = rds_events.parse_rds_event(body)
        if event is None:
            return "ignored"
        outcome = event if isinstance(event, Rejection) else service.on_rds_event(event)
    elif subject == SUBJECT:
        message = parse_message(subject, body)
        outcome = message if isinstance(message, Rejection) else service.on_message(message)
    else:
        outcome = Rejection(f"unknown subject {str(subject)[:80]!r}")
    if isinstance(outcome, Rejection):
        logger.warning("message rejected", reason=outcome.reason, **dict(outcome.detail))
        return f"rejected: {outcome.reason}"
    logger.info(outcome)
    return outcome


def on_sweep(build: Callable[[], Producer | None]) -> dict[str, int]:
    producer = build()
    if producer is None:
        return {}
    try:
        counts = producer.sweep()
    finally:
        metrics.flush()
    logger.info("sweep", **counts)
    return counts


def on_schedule(build: Callable[[], Service | None]) -> dict[str, int]:
    service = build()
    if service is None:
        return {}
    try:
        outcomes = service.poll()
    finally:
        metrics.flush()
    if outcomes:
        logger.info("poll", outcomes=outcomes)
    return outcomes
