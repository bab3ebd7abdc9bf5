"""Structured JSON logs for both apps, through Powertools for AWS Lambda.

One logger for the package. Each invocation names its app (``service``:
``draco-producer`` or ``draco-consumer``), and every line written while a
snapshot is handled carries that snapshot's source ARN as ``correlation_id``,
so one snapshot's journey through both accounts is one query in CloudWatch
Logs Insights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger

logger = Logger(service="draco")


def for_app(service: str) -> None:
    """Name the app on every line of this invocation."""
    logger.append_keys(service=service)


@contextmanager
def correlated(source_arn: str) -> Iterator[None]:
    """Lines logged inside carry ``source_arn`` as their correlation id."""
    previous = logger.get_correlation_id()
    logger.set_correlation_id(source_arn or None)
    try:
        yield
    finally:
        logger.set_correlation_id(previous)
