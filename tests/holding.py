"""A local-world transport that holds back copy-shared messages on their way to DR while ``on``, so an
attack test can send its own in their place (and release or drop the held ones)."""

from __future__ import annotations

import json

from chalicelib_shared.messages import SUBJECT, EventType
from draco.world.core import DR, Delivery


class Holding:
    """Holds back copy-shared messages on their way to DR while ``on``: the attacker sends its own."""

    def __init__(self) -> None:
        self.on = False
        self.held: list[Delivery] = []

    def __call__(self, deliveries: list[Delivery]) -> list[Delivery]:
        passed = []
        for delivery in deliveries:
            kind = json.loads(delivery.message).get("EventType") if delivery.subject == SUBJECT else None
            if self.on and delivery.account == DR and kind == EventType.COPY_SHARED.value:
                self.held.append(delivery)
            else:
                passed.append(delivery)
        return passed
