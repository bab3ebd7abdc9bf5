"""The edge between Lambda and the use-cases: build the service, route, log the outcome.

Bad input never raises here: an unknown subject, a malformed or unauthorised
message is logged with its reason and dropped (raising would only make Lambda
retry it). Configuration problems are logged once per cold start and the
handler then does nothing. AWS errors that survive the clients' own retries do
raise, so Lambda retries the event; every step is idempotent, so that is safe.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from chalicelib_shared import aws, metrics
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.kinds import KINDS, SnapshotEvent, read_notice
from chalicelib_shared.log import correlated, for_app, logger
from chalicelib_shared.messages import SUBJECT, Message, parse_message
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.ports import SnsPublisher
from chalicelib_shared.producer import Producer
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.report import report

POLL_MINUTES_VARIABLE = "DRACO_POLL_MINUTES"
SWEEP_HOURS_VARIABLE = "DRACO_SWEEP_HOURS"
PRODUCER_SERVICE = "draco-producer"
CONSUMER_SERVICE = "draco-consumer"
_reported: set[tuple[str, tuple[str, ...]]] = set()


class Service(Protocol):
    def on_message(self, message: Message) -> Result | Rejection: ...
    def on_event(self, event: SnapshotEvent) -> Result: ...
    def poll(self) -> Counter[Outcome]: ...


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
        logger.error("configuration is invalid; doing nothing until it is fixed", problems=list(problems))
    return not problems


Clients = Callable[[str], Any]
"""A boto3 client for a service name, in the account and Region the app acts in."""


def make_producer(config: ProducerConfig, client: Clients, table: Any) -> Producer:
    """The producer on AWS: its ports are the job table, SNS and each kind's API."""
    jobs = JobTable(table)
    return Producer(
        config=config,
        jobs=jobs,
        slots=jobs,
        publisher=SnsPublisher(client("sns")),
        snapshots=lambda kind: KINDS[kind].api(client(KINDS[kind].service)),
    )


def make_consumer(config: ConsumerConfig, client: Clients, table: Any, region: str) -> Consumer:
    """The consumer on AWS: as the producer, plus KMS for the per-source keys."""
    jobs = JobTable(table, inventory=True)
    return Consumer(
        config=config,
        jobs=jobs,
        slots=jobs,
        publisher=SnsPublisher(client("sns")),
        snapshots=lambda kind: KINDS[kind].api(client(KINDS[kind].service)),
        keys=SourceKeys(client("kms"), client("sts"), config.consumer_role_arn),
        inventory=jobs,
        region=region,
    )


def producer() -> Producer | None:
    for_app(PRODUCER_SERVICE)
    config = ProducerConfig.from_env()
    if not _usable(PRODUCER_SERVICE, config.problems):
        return None
    region = aws.region()
    return make_producer(config, lambda service: aws.client(service, region), aws.table(config.job_table, region))


def consumer() -> Consumer | None:
    for_app(CONSUMER_SERVICE)
    config = ConsumerConfig.from_env()
    if not _usable(CONSUMER_SERVICE, config.problems):
        return None
    region = aws.region()
    client = lambda service: aws.client(service, region)  # noqa: E731
    return make_consumer(config, client, aws.table(config.job_table, region), region)


def on_sns(build: Callable[[], Service | None], subject: Any, body: Any) -> str:
    """Route one SNS message to the service; return (and log) what came of it."""
    try:
        return str(_on_sns(build, subject, body))
    finally:
        metrics.flush()


def _on_sns(build: Callable[[], Service | None], subject: Any, body: Any) -> Result:
    service = build()
    if service is None:
        return Result(Outcome.IGNORED, "invalid configuration")
    if subject == SUBJECT:
        message = parse_message(subject, body)
        if isinstance(message, Rejection):
            return _rejected(message)
        with correlated(message.source_arn):
            outcome = service.on_message(message)
            return _rejected(outcome) if isinstance(outcome, Rejection) else report(outcome)
    events = read_notice(subject, body)
    if isinstance(events, Rejection):
        return _rejected(events)
    results = [service.on_event(event) for event in events]
    for result in results:
        report(result, quiet=result.outcome is Outcome.IGNORED)
    return results[0] if len(results) == 1 else Result(Outcome.IGNORED, f"{len(results)} snapshot events")


def _rejected(rejection: Rejection) -> Result:
    logger.warning("message rejected", reason=rejection.reason, **dict(rejection.detail))
    if Outcome.REJECTED.metric:
        metrics.count(Outcome.REJECTED.metric)
    return Result(Outcome.REJECTED, rejection.reason)


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
    counts = {outcome.value: count for outcome, count in outcomes.items()}
    if counts:
        logger.info("poll", outcomes=counts)
    return counts
