"""Seeded fault injection for the local world: the worst days AWS can give DRACO.

A ``FaultPlan`` decides, from its seed alone, which SNS deliveries are lost,
repeated or reordered, which AWS calls made by the apps fail (throttling,
internal errors, the copy limit, a full snapshot quota) and at which call a
Lambda run dies part way. The world applies it; ``counts`` says what was done.

AWS calls are intercepted by a botocore ``before-send`` handler placed ahead
of moto's, which hands each call to the world (``listen``): the world counts
it, and a plan may fail it, so the failure reaches the app exactly as a real
error response would, a ``ClientError`` with AWS's code. Only calls made inside
an app run (``MOTO_ACCOUNT_ID`` set) are seen, never the world's own.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS

#: (code, HTTP status, message, operations it applies to: empty for any)
AWS_ERRORS: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("Throttling", 400, "Rate exceeded", ()),
    ("InternalFailure", 500, "An internal error occurred", ()),
    ("ServiceUnavailable", 503, "Service unavailable", ()),
    (
        "InvalidParameterCombination",
        400,
        "Cannot copy snapshot: too many concurrent copies in progress",
        ("CopyDBSnapshot", "CopyDBClusterSnapshot"),
    ),
    ("ResourceLimitExceeded", 400, "Too many snapshot copies in progress", ("CopySnapshot",)),
    (
        "SnapshotQuotaExceeded",
        400,
        "Cannot create more than 100 manual snapshots",
        ("CopyDBSnapshot", "CopyDBClusterSnapshot"),
    ),
)


class Killed(BaseException):
    """A Lambda run that dies part way (a crash or a timeout): not an error the app can catch."""


@dataclass
class FaultPlan:
    seed: int
    drop: float = 0.0  # chance an SNS delivery is lost
    duplicate: float = 0.0  # chance it arrives twice
    reorder: bool = False  # deliveries of one batch arrive shuffled
    error: float = 0.0  # chance an app's AWS call fails
    kill: float = 0.0  # chance an app's run dies at an AWS call
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def transport(self, deliveries: list[Any]) -> list[Any]:
        out = []
        for delivery in deliveries:
            if self._random.random() < self.drop:
                self.counts["dropped"] += 1
                continue
            out.append(delivery)
            if self._random.random() < self.duplicate:
                self.counts["repeated"] += 1
                out.append(delivery)
        if self.reorder and len(out) > 1:
            self._random.shuffle(out)
            self.counts["reordered"] += 1
        return out

    def before_call(self, operation: str) -> None:
        """Called before every AWS call an app makes; may fail it or end the run."""
        if self._random.random() < self.kill:
            self.counts["killed"] += 1
            raise Killed(operation)
        if self._random.random() < self.error:
            choices = [e for e in AWS_ERRORS if not e[3] or operation in e[3]]
            code, status, message, _ = self._random.choice(choices)
            self.counts[f"AWS {code}"] += 1
            raise ClientError(
                {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                operation,
            )


#: Called with (account, service, operation) before each AWS call an app makes.
AppCallListener = Callable[[str, str, str], None]
_listeners: list[AppCallListener] = []


def _before_send(event_name: str = "", **_: Any) -> None:
    account = os.environ.get("MOTO_ACCOUNT_ID")
    if _listeners and account:
        _, service, operation = event_name.split(".", 2)
        _listeners[-1](account, service, operation)


def listen(listener: AppCallListener) -> None:
    """Have ``listener`` see (and maybe fail) every AWS call the apps make, until ``stop``."""
    _listeners.append(listener)


def stop(listener: AppCallListener) -> None:
    _listeners.remove(listener)


# Ahead of moto's handler, so a failure happens before moto answers.
if ("before-send", _before_send) not in BUILTIN_HANDLERS:
    BUILTIN_HANDLERS.insert(0, ("before-send", _before_send))
