"""DRACO consumer: the DR account's Lambda functions. Wiring only."""

from chalice import Chalice, Rate

from chalicelib_shared import handlers
from chalicelib_shared.config import CONSUMER_TOPIC
from chalicelib_shared.container import Container

app = Chalice(app_name="draco-consumer")
#: What this Lambda container remembers between runs (the hourly checks; a bad configuration logged once).
container = Container()


def consumer():
    """The consumer service for one run."""
    return handlers.consumer(container)


@app.on_sns_message(topic=CONSUMER_TOPIC)
def on_consumer_topic(event):
    """DRACO messages from production accounts and RDS copy events in this account."""
    return handlers.on_sns(consumer, event.subject, event.message)


@app.schedule(Rate(handlers.poll_minutes(), unit=Rate.MINUTES))
def poll_jobs(event):
    """Advance DR copies and re-send unanswered messages."""
    return handlers.on_schedule(consumer)


@app.schedule(Rate(1, unit=Rate.HOURS))
def wake_poller(event):
    """Hourly, whether or not the poller rests: hourly checks, and the poller switched on when work is due."""
    return handlers.on_wake(consumer)


def drills():
    """The restore drills for one run (None while DRILL_EVERY_DAYS is off)."""
    return handlers.drills(container)


@app.schedule(Rate(handlers.drill_minutes(), unit=Rate.MINUTES))
def run_drills(event):
    """Restore drills (DRILL_EVERY_DAYS; off by default): sweep leftovers, step running drills, start due ones."""
    return handlers.on_drills(drills)
