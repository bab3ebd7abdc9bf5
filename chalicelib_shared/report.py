"""Logging and counting what use-cases return: the one place a ``Result`` becomes a log line and a metric."""

from __future__ import annotations

from chalicelib_shared import metrics
from chalicelib_shared.log import correlated, logger
from chalicelib_shared.outcomes import Outcome, Result

_WARNINGS = frozenset({Outcome.REJECTED, Outcome.RETRYING})


def report(result: Result, *, quiet: bool = False) -> Result:
    """Count the result's metric and log it (``quiet``: at debug level, for what repeats every poll)."""
    if result.outcome.metric:
        metrics.count(result.outcome.metric)
    with correlated(result.correlation_id):
        if result.outcome is Outcome.FAILED:
            logger.error(str(result), outcome=result.outcome.value)
        elif result.outcome in _WARNINGS:
            logger.warning(str(result), outcome=result.outcome.value)
        elif quiet:
            logger.debug(str(result), outcome=result.outcome.value)
        else:
            logger.info(str(result), outcome=result.outcome.value)
    return result
