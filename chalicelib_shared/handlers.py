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
from typing import Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib_shared import aws, errors, inbox, metrics
from chalicelib_shared.config import ConsumerConfig, ProducerConfig
from chalicelib_shared.consumer import Consumer
from chalicelib_shared.container import Container
from chalicelib_shared.drills.checks import LambdaValidator
from chalicelib_shared.drills.settings import DrillSettings
from chalicelib_shared.drills.table import DrillTable
from chalicelib_shared.drills.use_case import Drills
from chalicelib_shared.job_table import JobTable
from chalicelib_shared.jobs import CONSUMER_JOBS, PRODUCER_JOBS
from chalicelib_shared.keys import SourceKeys
from chalicelib_shared.kinds import KINDS, SnapshotEvent, read_notice
from chalicelib_shared.log import correlated, for_app, logger
from chalicelib_shared.messages import SUBJECT, Message, parse_message
from chalicelib_shared.outcomes import Outcome, Result
from chalicelib_shared.pacing import AlwaysOn, PacedJobs, RuleSwitch, Switch
from chalicelib_shared.ports import Snapshots, SnsPublisher
from chalicelib_shared.producer import Producer
from chalicelib_shared.rejection import Rejection
from chalicelib_shared.report import report

POLL_MINUTES_VARIABLE = "DRACO_POLL_MINUTES"
DRILL_MINUTES_VARIABLE = "DRACO_DRILL_MINUTES"
SWEEP_HOURS_VARIABLE = "DRACO_SWEEP_HOURS"
PRODUCER_SERVICE = "draco-producer"
CONSUMER_SERVICE = "draco-consumer"
S = TypeVar("S")
T = TypeVar("T")


class Service(Protocol):
    def on_message(self, message: Message) -> Result | Rejection: ...
    def on_event(self, event: SnapshotEvent) -> Result: ...
    def poll(self) -> Counter[Outcome]: ...
    def wake_up(self) -> None: ...


def _schedule(variable: str, default: int, top: int) -> int:
    raw = os.environ.get(variable, str(default))
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= top else default


def poll_minutes() -> int:
    """The pollers' schedule, read when Chalice loads the app (deploy or package)."""
    return _schedule(POLL_MINUTES_VARIABLE, 1, 60)


def sweep_hours() -> int:
    """The production sweep's schedule, likewise."""
    return _schedule(SWEEP_HOURS_VARIABLE, 6, 24)


def drill_minutes() -> int:
    """The scheduled drill's rounds (consumer), likewise: default every 10 minutes."""
    return _schedule(DRILL_MINUTES_VARIABLE, 10, 60)


def _usable(app: str, problems: tuple[str, ...], container: Container) -> bool:
    if problems and container.first_report(app, problems):
        logger.error("configuration is invalid; doing nothing until it is fixed", problems=list(problems))
    return not problems


Clients = Callable[[str, str], Any]
"""A boto3 client for a service name in a Region, in the account the app acts in."""


def _switch(config: ProducerConfig | ConsumerConfig, client: Clients, region: str, jobs: JobTable) -> Switch:
    limits = config.limits
    if not limits.poller_rule:
        return AlwaysOn()
    return RuleSwitch(client("events", region), limits.poller_rule, jobs, wake_rule=limits.wake_rule)


def _snapshots(client: Clients, region: str) -> Snapshots:
    """Each kind's snapshots in the app's account: in its Region, or in the one named."""
    return lambda kind, where="": KINDS[kind].api(client(KINDS[kind].service, where or region))


def _ports(
    config: ProducerConfig | ConsumerConfig, client: Clients, region: str, jobs: JobTable, container: Container | None
) -> dict[str, Any]:
    """What both apps run on: the job table (waking the poller), SNS, each kind's API, the poller's switch,
    and what the Lambda container remembers (a new one when none is given: an operator's one-off run)."""
    switch = _switch(config, client, region, jobs)
    return {
        "container": container or Container(),
        "config": config,
        "jobs": PacedJobs(jobs, switch),
        "slots": jobs,
        "publisher": SnsPublisher(lambda where: client("sns", where)),
        "snapshots": _snapshots(client, region),
        "switch": switch,
    }


def make_producer(
    config: ProducerConfig, client: Clients, table: Any, region: str, container: Container | None = None
) -> Producer:
    """The producer on AWS."""
    return Producer(**_ports(config, client, region, JobTable(table, machine=PRODUCER_JOBS), container))


def make_consumer(
    config: ConsumerConfig, client: Clients, table: Any, region: str, container: Container | None = None
) -> Consumer:
    """The consumer on AWS: as the producer, plus KMS for the DR keys (and the relay key across Regions)."""
    jobs = JobTable(table, inventory=True, machine=CONSUMER_JOBS)
    source_region = config.source_region or region
    return Consumer(
        **_ports(config, client, region, jobs, container),
        relay_keys=SourceKeys(client("kms", source_region), client("sts", region), config.consumer_role_arn),
        keys=SourceKeys(client("kms", region), client("sts", region), config.consumer_role_arn),
        inventory=jobs,
        region=region,
    )


def producer(container: Container) -> Producer | None:
    """The producer for one run, in a container that remembers ``container`` between runs."""
    for_app(PRODUCER_SERVICE)
    config = ProducerConfig.from_env()
    if not _usable(PRODUCER_SERVICE, config.problems, container):
        return None
    region = aws.region()
    return make_producer(config, aws.client, aws.table(config.job_table, region), region, container)


def consumer(container: Container) -> Consumer | None:
    """The consumer for one run, likewise."""
    for_app(CONSUMER_SERVICE)
    config = ConsumerConfig.from_env()
    if not _usable(CONSUMER_SERVICE, config.problems, container):
        return None
    region = aws.region()
    return make_consumer(config, aws.client, aws.table(config.job_table, region), region, container)


def make_drills(settings: DrillSettings, client: Clients, table: Any, region: str) -> Drills:
    """Restore drills on AWS, in the DR account's Region (``chalicelib_shared.drills``)."""
    validator = LambdaValidator(client("lambda", region), settings.validator) if settings.validator else None
    restores = lambda kind: KINDS[kind].restores(client(KINDS[kind].service, region))  # noqa: E731
    return Drills(DrillTable(table), JobTable(table, inventory=True), restores, settings, validator)


def drills(container: Container) -> Drills | None:
    """The scheduled drill; ``None`` (nothing done) while ``DRILL_EVERY_DAYS`` is 0 or unset.

    Drills off, the drill's own schedule rule (``DRILL_RULE``) is switched off, its one AWS
    call, so the function stops running every few minutes to do nothing. Setting drills
    means deploying the app again, and ``chalice deploy`` puts every schedule rule back
    enabled: Chalice calls PutRule without ``State``, and "rules are enabled by default, or
    based on value of the state" (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html).
    """
    for_app(CONSUMER_SERVICE)
    config = ConsumerConfig.from_env()
    settings = DrillSettings.from_env(os.environ)
    if not _usable(CONSUMER_SERVICE, (*config.problems, *settings.problems), container):
        return None
    region = aws.region()
    if not settings.scheduled:
        _rest_drills(config.limits.drill_rule, region)
        return None
    return make_drills(settings, aws.client, aws.table(config.job_table, region), region)


def _rest_drills(rule: str, region: str) -> None:
    if not rule:
        return
    try:
        aws.client("events", region).disable_rule(Name=rule)
    except (ClientError, BotoCoreError) as error:  # the next run tries again
        logger.warning("could not rest the drill schedule", rule=rule, error=errors.describe(error))
        return
    logger.info("drills are off: their schedule rests until the app is deployed again", rule=rule)


def on_drills(build: Callable[[], Drills | None]) -> dict[str, int]:
    """One round of the scheduled drill: sweep leftovers, step running drills, start the sources due."""
    counts = _scheduled(build, lambda service: service.scheduled_round(), {})
    if any(counts.values()):
        logger.info("drills", **counts)
    return counts


def on_sns(build: Callable[[], Service | None], subject: Any, body: Any, *, messages: bool = True) -> str:
    """Route one SNS message to the service; return (and log) what came of it.

    ``messages=False`` (DR's own topic): DRACO messages are refused there, as nothing
    on that topic says which account sent them; they reach DR through its inbox.
    """
    try:
        return str(_on_sns(build, subject, body, messages))
    finally:
        metrics.flush()


def _on_sns(build: Callable[[], Service | None], subject: Any, body: Any, messages: bool) -> Result:
    service = build()
    if service is None:
        return Result(Outcome.IGNORED, "invalid configuration")
    if subject == SUBJECT and not messages:
        return _rejected(Rejection("DRACO messages reach DR only through its inbox, from a production outbox"))
    if subject == SUBJECT:
        message = parse_message(subject, body)
        return _rejected(message) if isinstance(message, Rejection) else _act(service, message)
    events = read_notice(subject, body)
    if isinstance(events, Rejection):
        return _rejected(events)
    results = [service.on_event(event) for event in events]
    for result in results:
        report(result, quiet=result.outcome is Outcome.IGNORED)
    return results[0] if len(results) == 1 else Result(Outcome.IGNORED, f"{len(results)} snapshot events")


Confirm = Callable[[str, str], None]
"""Confirms an SNS subscription: (topic ARN, token)."""


def confirm_subscription(topic_arn: str, token: str) -> None:
    """With an SNS client of the topic's Region. The token is what authorises it; signed, with
    ``AuthenticateOnUnsubscribe``, only the topic's or the subscription's owner may unsubscribe it
    (https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html)."""
    sns = aws.client("sns", topic_arn.split(":")[3])
    sns.confirm_subscription(TopicArn=topic_arn, Token=token, AuthenticateOnUnsubscribe="true")


def on_inbox(build: Callable[[], Consumer | None], bodies: list[Any], confirm: Confirm = confirm_subscription) -> str:
    """DR's inbox: each record's message acted on as from the account AWS vouches for (``inbox``)."""
    try:
        consumer = build()
        if consumer is None:
            return str(Result(Outcome.IGNORED, "invalid configuration"))
        return "; ".join(str(_from_inbox(consumer, body, confirm)) for body in bodies)
    finally:
        metrics.flush()


def _from_inbox(consumer: Consumer, body: Any, confirm: Confirm) -> Result:
    read = inbox.read(body, consumer.config, consumer.source_region)
    if isinstance(read, Rejection):
        return _rejected(read)
    if isinstance(read, inbox.Confirmation):
        confirm(read.topic_arn, read.token)
        logger.info("confirmed the inbox's subscription to a production outbox", topic=read.topic_arn)
        return Result(Outcome.IGNORED, f"subscription to {read.topic_arn} confirmed")
    return _act(consumer, read)


def _act(service: Service, message: Message) -> Result:
    with correlated(message.source_arn):
        outcome = service.on_message(message)
        return _rejected(outcome) if isinstance(outcome, Rejection) else report(outcome)


def _rejected(rejection: Rejection) -> Result:
    logger.warning("message rejected", reason=rejection.reason, **dict(rejection.detail))
    if Outcome.REJECTED.metric:
        metrics.count(Outcome.REJECTED.metric)
    return Result(Outcome.REJECTED, rejection.reason)


def _scheduled(build: Callable[[], S | None], run: Callable[[S], T], nothing: T) -> T:
    """Build the service and run one scheduled task; ``nothing`` when the configuration is invalid."""
    service = build()
    if service is None:
        return nothing
    try:
        return run(service)
    finally:
        metrics.flush()


def on_sweep(build: Callable[[], Producer | None]) -> dict[str, int]:
    counts = _scheduled(build, lambda producer: producer.scheduled_sweep(), {})
    if counts:
        logger.info("sweep", **counts)
    return counts


def on_wake(build: Callable[[], Service | None]) -> None:
    """The hourly wake-up: hourly checks, and the poller switched on if work falls due (``pacing``)."""
    _scheduled(build, lambda service: service.wake_up(), None)


def on_schedule(build: Callable[[], Service | None]) -> dict[str, int]:
    """A poll round (every minute, while work is due)."""
    outcomes = _scheduled(build, lambda service: service.poll(), Counter[Outcome]())
    counts = {outcome.value: count for outcome, count in outcomes.items()}
    if counts:
        logger.info("poll", outcomes=counts)
    return counts
