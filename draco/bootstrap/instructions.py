"""A plan as plain data: API calls with their arguments, grouped in steps an operator reads.

Some values exist only once AWS has made something: a new KMS key's id, which
CreateAlias and EnableKeyRotation need, or its ARN, which the producer's role
policy and environment name. A plan holds a ``Var`` in their place; the call
that makes the value names it in ``outputs``, and the executor puts it in
before a later call uses it (``resolve``). A value the planner already read
from the account is put in by the planner, so most plans hold no ``Var`` at
all. ``Json`` is a document sent as JSON text (a policy), serialised only once
its ``Var`` are resolved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Var:
    """A value known only once the call that makes it has run; ``preview`` stands for it in a dry run."""

    name: str
    preview: str


@dataclass(frozen=True)
class Json:
    """A document sent as JSON text."""

    value: Any


@dataclass(frozen=True)
class APICall:
    """``<service client>.<method>(**params)``; ``outputs`` names values taken from its answer (dotted paths)."""

    service: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    creates: str = ""  # what the call makes, recorded by the executor ("" for changes)


@dataclass(frozen=True)
class Wait:
    """Wait with a boto3 waiter (a new DynamoDB table must be ACTIVE before it is changed)."""

    service: str
    waiter: str
    params: Mapping[str, Any] = field(default_factory=dict)


Instruction = APICall | Wait


@dataclass(frozen=True)
class Step:
    """One change an operator reads, the calls that make it, and the document it sets (shown by --dry-run)."""

    description: str
    calls: tuple[Instruction, ...]
    document: Any = None

    def __str__(self) -> str:
        return self.description


class BootstrapError(Exception):
    """The account is in a state bootstrap won't change on its own; the message says what to do."""


class Unresolved(LookupError):
    """A ``Var`` with no value yet: the plan runs a call before the one that makes what it needs."""


def resolve(value: Any, variables: Mapping[str, str], *, preview: bool = False) -> Any:
    """``value`` with every ``Var`` replaced by its value (or its preview) and every ``Json`` serialised."""
    if isinstance(value, Var):
        if value.name in variables:
            return variables[value.name]
        if preview:
            return value.preview
        raise Unresolved(f"{value.name} is not known yet")
    if isinstance(value, Json):
        return json.dumps(resolve(value.value, variables, preview=preview))
    if isinstance(value, Mapping):
        return {k: resolve(v, variables, preview=preview) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(v, variables, preview=preview) for v in value]
    return value
