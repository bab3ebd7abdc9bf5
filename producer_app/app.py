"""DRACO producer: the production account's Lambda functions. Wiring only."""

from chalice import Chalice, Rate

from chalicelib_shared import handlers
from chalicelib_shared.config import PRODUCER_TOPIC
from chalicelib_shared.container import Container

app = Chalice(app_name="draco-producer")
#: What this Lambda container remembers between runs (the hourly checks; a bad configuration logged once).
container = Container()


def producer():
    """The producer service for one run."""
    return handlers.producer(container)


@app.on_sns_message(topic=PRODUCER_TOPIC)
def on_producer_topic(event):
    """RDS snapshot events and DRACO messages from the DR account."""
    return handlers.on_sns(producer, event.subject, event.message)


@app.schedule(Rate(handlers.poll_minutes(), unit=Rate.MINUTES))
def poll_jobs(event):
    """Advance transit copies and re-send unanswered messages."""
    return handlers.on_schedule(producer)


@app.schedule(Rate(1, unit=Rate.HOURS))
def wake_poller(event):
    """Hourly, whether or not the poller rests: hourly checks, and the poller switched on when work is due."""
    return handlers.on_wake(producer)


@app.schedule(Rate(handlers.sweep_hours(), unit=Rate.HOURS))
def sweep_snapshots(event):
    """Start copies of recent snapshots whose RDS event never arrived."""
    return handlers.on_sweep(producer)
