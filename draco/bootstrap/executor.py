"""Run a plan's calls in order, filling in the values AWS hands back on the way.

Later calls rely on earlier ones (a key's alias on the key, a topic's policy on
the topic), so the order is the plan's. A call's ``outputs`` are read from its
answer into ``variables``, from where ``resolve`` puts them into the calls
after it. What a call makes is recorded in ``created``. A failure stops the
run where it is; running bootstrap again plans only what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from draco.bootstrap.instructions import APICall, Step, Wait, resolve


class Executor:
    """Runs steps with clients from ``client(service)``, starting from values already ``known``."""

    def __init__(self, client: Callable[[str], Any], known: Mapping[str, str] | None = None) -> None:
        self._client = client
        self.variables: dict[str, str] = dict(known or {})
        self.created: list[str] = []

    def execute(self, steps: Iterable[Step]) -> None:
        for step in steps:
            for call in step.calls:
                if isinstance(call, Wait):
                    self._client(call.service).get_waiter(call.waiter).wait(**resolve(call.params, self.variables))
                else:
                    self._call(call)

    def _call(self, call: APICall) -> None:
        answer = getattr(self._client(call.service), call.method)(**resolve(call.params, self.variables))
        for name, path in call.outputs.items():
            self.variables[name] = str(_dig(answer, path))
        if call.creates:
            self.created.append(call.creates)


def _dig(answer: Mapping[str, Any], path: str) -> Any:
    """``answer["A"]["B"]`` for ``"A.B"``."""
    value: Any = answer
    for part in path.split("."):
        value = value[part]
    return value
