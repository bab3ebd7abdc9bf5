"""The apps of the local world: each a Chalice project of its own, and SNS delivery to it.

``start_app`` writes the app's stage (bootstrap's environment, with the account
and Region it runs in) into a scratch Chalice project and loads the app from it
with Chalice's test client, as a Lambda of that account and Region would run it.

moto does not deliver SNS to Lambda, but it delivers SNS to an SQS queue of
the topic's own account and Region. So each app's topic gets a queue
(``subscribe``), and the world hands every queued notification to the app's
``@app.on_sns_message`` handler (``drain`` reads them, as ``Delivery`` records,
in the order they came). Each app, its topic and its queue live in the app's
account and Region: with DR in another Region, production's and DR's are
in different Regions, as on AWS.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client
from moto.sqs.models import sqs_backends

from chalicelib_shared.config import CONSUMER_TOPIC, POLLER_RULE, PRODUCER_TOPIC
from chalicelib_shared.container import Container
from draco import bootstrap

REPO = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "MOTO_ACCOUNT_ID"
#: Each app's topic and the handler its topic's notifications go to.
TOPICS = {"producer": (PRODUCER_TOPIC, "on_producer_topic"), "consumer": (CONSUMER_TOPIC, "on_consumer_topic")}


@dataclass(frozen=True)
class Delivery:
    """One SNS notification on its way to an app."""

    account: str  # the topic's account, i.e. which app receives it
    subject: str
    message: str


Transport = Callable[[list[Delivery]], list[Delivery]]
"""What happens to a batch of deliveries on the way (the default: nothing; ``faults`` may drop, repeat, reorder)."""

#: A boto3 client for (service, account, Region).
Clients = Callable[[str, str, str], Any]


@dataclass
class App:
    """One Chalice app of the world, where it runs, and the topic it listens on."""

    account: str
    region: str
    topic: str
    client: Client
    sns_handler: str
    rule: str = ""  # the poller's EventBridge rule (``POLLER_RULE``); empty: none, the poller always runs
    queue_url: str = ""

    @property
    def topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{self.topic}"

    @property
    def queue_name(self) -> str:
        return f"{self.topic}-lambda"


def start_app(workdir: Path, name: str, account: str, region: str, env: Mapping[str, str], clients: Clients) -> App:
    """The app ``name`` (``producer`` or ``consumer``) with ``env``, running in ``account`` and ``region``."""
    project = workdir / name
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(REPO / f"{name}_app" / ".chalice" / "config.json", project / ".chalice" / "config.json")
    env = {**env, MOTO_ACCOUNT: account, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    bootstrap.write_stage_config(project, "local", env)
    if env.get(POLLER_RULE):  # chalice deploy makes the poller's schedule rule, which the app switches
        clients("events", account, region).put_rule(Name=env[POLLER_RULE], ScheduleExpression="rate(1 minute)")
    topic, handler = TOPICS[name]
    module = importlib.import_module(f"{name}_app.app")
    module.container = Container()  # a new world runs in new Lambda containers
    chalice_app = module.app
    client = Client(chalice_app, stage_name="local", project_dir=str(project))
    app = App(account, region, topic, client, handler, env.get(POLLER_RULE, ""))
    subscribe(app, clients)
    return app


def subscribe(app: App, clients: Clients) -> None:
    """An SQS queue on the app's topic, in its account and Region, stands in for the Lambda subscription."""
    sqs = clients("sqs", app.account, app.region)
    app.queue_url = sqs.create_queue(QueueName=app.queue_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=app.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    clients("sns", app.account, app.region).subscribe(
        TopicArn=app.topic_arn, Protocol="sqs", Endpoint=attributes["QueueArn"]
    )


def drain(apps: Iterable[App], clients: Clients) -> list[Delivery]:
    """Every notification waiting in the apps' queues, taken off them."""
    batch = []
    for app in apps:
        sqs = clients("sqs", app.account, app.region)
        while sqs_backends[app.account][app.region].queues[app.queue_name].messages:
            received = sqs.receive_message(QueueUrl=app.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            for message in received:
                envelope = json.loads(message["Body"])
                batch.append(Delivery(app.account, envelope.get("Subject", ""), envelope["Message"]))
                sqs.delete_message(QueueUrl=app.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return batch


def publish(app: App, clients: Clients, subject: str | None, body: Any) -> None:
    """Publish an AWS notification to the app's topic, as RDS or an EventBridge rule does."""
    extra = {"Subject": subject} if subject else {}
    clients("sns", app.account, app.region).publish(TopicArn=app.topic_arn, Message=json.dumps(body), **extra)
