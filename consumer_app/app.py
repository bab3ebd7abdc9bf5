"""DRACO consumer: the DR account's Lambda functions. Wiring only."""

from chalice import Chalice, Rate

from chalicelib_shared import handlers
from chalicelib_shared.config import CONSUMER_TOPIC, INBOX_QUEUE

app = Chalice(app_name="draco-consumer")


@app.on_sns_message(topic=CONSUMER_TOPIC)
def on_consumer_topic(event):
    """Copy-finished events of this account (DRACO messages come through the inbox only)."""
    return handlers.on_sns(handlers.consumer, event.subject, event.message, messages=False)


@app.on_sqs_message(queue=INBOX_QUEUE, batch_size=1)
def on_inbox(event):
    """DRACO messages from the production accounts' outboxes, each with the account SNS names."""
    return handlers.on_inbox(handlers.consumer, [record.body for record in event])


@app.schedule(Rate(handlers.poll_minutes(), unit=Rate.MINUTES))
def poll_jobs(event):
    """Advance DR copies and re-send unanswered messages."""
    return handlers.on_schedule(handlers.consumer)


@app.schedule(Rate(1, unit=Rate.HOURS))
def wake_poller(event):
    """Hourly, whether or not the poller rests: hourly checks, and the poller switched on when work is due."""
    return handlers.on_wake(handlers.consumer)
