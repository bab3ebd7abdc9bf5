"""Why input was not acted on: a value, logged by the handler, never raised."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rejection:
    """A malformed or unauthorised message or notification, and the reason."""

    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)
