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

Production's messages to DR go, as on AWS, to the production account's own
``DracoOutbox`` topic, which its bootstrap subscribed DR's ``DracoInbox`` queue
to (``moto_gaps`` delivers across accounts as AWS does). ``drain`` takes them
off that queue with the ``TopicArn`` SNS put on each (the publishing account's
topic, whatever the body claims), and the world hands them to the consumer's
``@app.on_sqs_message`` handler. Any number of production accounts may run a
producer app, each in a Chalice project of its own.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice.test import Client
from moto.sqs.models import sqs_backends

from chalicelib_shared.config import CONSUMER_TOPIC, INBOX_QUEUE, POLLER_RULE, PRODUCER_TOPIC, WAKE_RULE
from chalicelib_shared.container import Container
from draco import bootstrap
from draco.app_folders import app_folder

MOTO_ACCOUNT = "MOTO_ACCOUNT_ID"
#: Each app's topic and the handler its topic's notifications go to.
TOPICS = {"producer": (PRODUCER_TOPIC, "on_producer_topic"), "consumer": (CONSUMER_TOPIC, "on_consumer_topic")}
#: The consumer's handler of its inbox queue.
INBOX_HANDLER = "on_inbox"


@dataclass(frozen=True)
class Delivery:
    """One SNS notification on its way to an app."""

    account: str  # the topic's account, i.e. which app receives it (DR, for its inbox)
    subject: str
    message: str
    topic_arn: str = ""  # the topic it was published to, as SNS names it in the envelope
    inbox: bool = False  # through DR's inbox: from a production account's outbox

    def envelope(self) -> str:
        """The SNS envelope an SQS subscriber receives, as far as DRACO reads it."""
        fields = {"Type": "Notification", "TopicArn": self.topic_arn, "Subject": self.subject, "Message": self.message}
        return json.dumps(fields)


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
    wake_rule: str = ""  # the wake-up's (``WAKE_RULE``, production's); empty: none, it runs every hour
    queue_url: str = ""
    inbox_url: str = ""  # the consumer's inbox queue (made by its bootstrap)
    module: Any = None  # the app's module, shared by every app of its name (several production accounts)
    container: Container = field(default_factory=Container)  # this app's own Lambda container

    def enter(self) -> None:
        """Before a run: the app's module remembers this app's container (``runs``)."""
        if self.module is not None:
            self.module.container = self.container

    @property
    def topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:{self.topic}"

    @property
    def queue_name(self) -> str:
        return f"{self.topic}-lambda"


def start_app(workdir: Path, name: str, account: str, region: str, env: Mapping[str, str], clients: Clients) -> App:
    """The app ``name`` (``producer`` or ``consumer``) with ``env``, running in ``account`` and ``region``."""
    project = workdir / f"{name}-{account}"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(app_folder(name) / ".chalice" / "config.json", project / ".chalice" / "config.json")
    env = {**env, MOTO_ACCOUNT: account, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    bootstrap.write_stage_config(project, "local", env)
    for variable, rate in ((POLLER_RULE, "rate(1 minute)"), (WAKE_RULE, "rate(1 hour)")):
        if env.get(variable):  # chalice deploy makes each schedule's rule, which the app switches
            clients("events", account, region).put_rule(Name=env[variable], ScheduleExpression=rate)
    topic, handler = TOPICS[name]
    module = importlib.import_module(f"{name}_app.app")
    client = Client(module.app, stage_name="local", project_dir=str(project))
    rules = {"rule": env.get(POLLER_RULE, ""), "wake_rule": env.get(WAKE_RULE, "")}
    app = App(account, region, topic, client, handler, **rules, module=module)  # a new container
    app.enter()
    subscribe(app, clients)
    if name == "consumer":
        app.inbox_url = clients("sqs", account, region).get_queue_url(QueueName=INBOX_QUEUE)["QueueUrl"]
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
        queues = [(app.queue_name, app.queue_url, False)]
        queues += [(INBOX_QUEUE, app.inbox_url, True)] if app.inbox_url else []
        sqs = clients("sqs", app.account, app.region)
        for name, url, inbox in queues:
            while sqs_backends[app.account][app.region].queues[name].messages:
                received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                for message in received:
                    envelope = json.loads(message["Body"])
                    subject, topic = envelope.get("Subject", ""), envelope.get("TopicArn", "")
                    batch.append(Delivery(app.account, subject, envelope["Message"], topic, inbox))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return batch


def publish(app: App, clients: Clients, subject: str | None, body: Any) -> None:
    """Publish an AWS notification to the app's topic, as RDS or an EventBridge rule does."""
    extra = {"Subject": subject} if subject else {}
    clients("sns", app.account, app.region).publish(TopicArn=app.topic_arn, Message=json.dumps(body), **extra)
