"""What the apps' runs would be billed for, metered as they happen in the local world.

Two meters, for the benchmark's cost model (``draco.bench.costs``):

* ``LogTap`` sits between the apps and the world's log stream and sees every
  byte they log (Powertools' JSON lines and the EMF lines that become metrics).
* DynamoDB request units, read from moto's memory around each of the apps'
  DynamoDB calls: the item as it was and as it is after a write, the items a
  read returned. The arithmetic (``write_units``, ``read_units``) follows the
  DynamoDB developer guide: writes in 1 KB units of the larger of the item's
  old and new size, plus one write per global secondary index the item enters,
  leaves or changes in (two when an index key changes), twice that inside a
  transaction; reads in 4 KB units of what one request read together, at
  least one, halved when eventually consistent (every index read is).

moto reports a fixed ``ConsumedCapacity``, so it is not used.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.handlers import BUILTIN_HANDLERS
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

WRITE_UNIT = 1024
READ_UNIT = 4096


@dataclass(frozen=True)
class Stored:
    """An item as DynamoDB holds it: its attributes (comparable values) and its size in bytes."""

    attrs: Mapping[str, str]
    size: int


def write_units(before: Stored | None, after: Stored | None, indexes: Sequence[Sequence[str]], tx: bool) -> float:
    """Write request units of one item write; ``indexes``: each global secondary index's key attributes."""
    units = _units(max(_size(before), _size(after)), WRITE_UNIT)
    for keys in indexes:
        was, now = _in_index(before, keys), _in_index(after, keys)
        if was and now and before and after:
            if any(before.attrs[key] != after.attrs[key] for key in keys):
                units += _units(before.size, WRITE_UNIT) + _units(after.size, WRITE_UNIT)
            elif before.attrs != after.attrs:  # every index projects all attributes
                units += _units(after.size, WRITE_UNIT)
        elif was and before:
            units += _units(before.size, WRITE_UNIT)
        elif now and after:
            units += _units(after.size, WRITE_UNIT)
    return units * (2 if tx else 1)


def read_units(sizes: Iterable[int], consistent: bool) -> float:
    """Read request units of what one request read together (one item, or one page of a Query)."""
    units = _units(sum(sizes), READ_UNIT)
    return units if consistent else units / 2


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _size(item: Stored | None) -> int:
    return item.size if item else 0


def _in_index(item: Stored | None, keys: Sequence[str]) -> bool:
    return item is not None and all(key in item.attrs for key in keys)


@dataclass
class WorldStats:
    """What happened, counted as it happened (for reports and benchmarks)."""

    #: Lambda runs by function, as "<topic>:<function>", e.g. "DracoProducer:poll_jobs"
    invocations: Counter[str] = field(default_factory=Counter)
    cold_runs: Counter[str] = field(default_factory=Counter)  # runs that started a new environment
    #: AWS calls the apps made: (function, account, service, operation)
    calls: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    failed_runs: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)  # wall time spent in app runs, by function
    log_bytes: Counter[str] = field(default_factory=Counter)  # what the runs logged, by function
    #: every (account, metric, hour) in which an app emitted a custom metric
    metric_hours: set[tuple[str, str, str]] = field(default_factory=set)
    #: DynamoDB request units: (function, account, "read" | "write")
    units: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    deliveries: int = 0
    in_flight_peak: Counter[str] = field(default_factory=Counter)

    def clear(self) -> None:
        """Start counting afresh (the peaks of copies in flight are kept)."""
        for counter in (self.invocations, self.cold_runs, self.calls, self.failed_runs, self.seconds):
            counter.clear()
        self.log_bytes.clear()
        self.metric_hours.clear()
        self.units.clear()
        self.deliveries = 0


# --- the DynamoDB meter --------------------------------------------------------------------
#: Called with (account, "read" or "write", request units) after each of the apps' DynamoDB calls.
UnitListener = Callable[[str, str, float], None]
_listeners: list[UnitListener] = []
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
_READS = ("GetItem", "BatchGetItem", "Query")


def listen(listener: UnitListener) -> None:
    """Have ``listener`` see the request units of every DynamoDB call the apps make, until ``stop``."""
    _listeners.append(listener)


def stop(listener: UnitListener) -> None:
    _listeners.remove(listener)


@dataclass
class _Call:
    account: str
    region: str
    operation: str
    body: dict[str, Any]
    before: list[tuple[str, Stored | None]]  # (table, item) of each write, as it was


def _before_call(model: Any, params: Any, request_signer: Any, context: Any, **_: Any) -> None:
    account = os.environ.get("MOTO_ACCOUNT_ID")
    if not (_listeners and account and context is not None) or model.name not in _WRITES + _READS:
        return
    body = json.loads(params.get("body") or b"{}")
    call = _Call(account, request_signer.region_name, model.name, body, [])
    if model.name in _WRITES:
        call.before = [(table, _stored(call, table, key)) for table, key in _written(call)]
    context["draco_units"] = call


def _after_call(parsed: Any, context: Any, **_: Any) -> None:
    call = (context or {}).pop("draco_units", None)
    if call is None or not _listeners:
        return
    if call.operation in _WRITES:
        tx = call.operation == "TransactWriteItems"
        units = sum(
            write_units(before, _stored(call, table, key), _indexes(call, table), tx)
            for (table, before), (_, key) in zip(call.before, _written(call), strict=True)
        )
        _listeners[-1](call.account, "write", units)
    else:
        _listeners[-1](call.account, "read", _read(call, parsed or {}))


def _written(call: _Call) -> list[tuple[str, dict[str, Any]]]:
    """(table, key) of each item a write request writes."""
    if call.operation != "TransactWriteItems":
        return [(call.body["TableName"], call.body.get("Key") or call.body["Item"])]
    actions = [next(iter(action.values())) for action in call.body["TransactItems"]]
    return [(action["TableName"], action.get("Key") or action["Item"]) for action in actions]


def _read(call: _Call, parsed: Mapping[str, Any]) -> float:
    body = call.body
    if call.operation == "GetItem":
        item = _stored(call, body["TableName"], body["Key"])
        return read_units([_size(item)], bool(body.get("ConsistentRead")))
    if call.operation == "BatchGetItem":
        return sum(
            read_units([_size(_stored(call, table, key))], bool(request.get("ConsistentRead")))
            for table, request in body["RequestItems"].items()
            for key in request["Keys"]
        )
    table = body["TableName"]
    sizes = [_size(_stored(call, table, item)) for item in parsed.get("Items", [])]
    return read_units(sizes, bool(body.get("ConsistentRead")) and "IndexName" not in body)


def _table(call: _Call, name: str) -> Any:
    return dynamodb_backends[call.account][call.region].get_table(name)


def _stored(call: _Call, table_name: str, key_or_item: Mapping[str, Any]) -> Stored | None:
    """The item with this key as moto holds it now (keys: DynamoDB JSON or plain strings)."""
    table = _table(call, table_name)
    value = key_or_item[table.hash_key_attr]
    item = table.items.get(DynamoType(value if isinstance(value, dict) else {"S": value}))
    if item is None:
        return None
    attrs = {name: json.dumps(attr.to_json(), sort_keys=True, default=str) for name, attr in item.attrs.items()}
    return Stored(attrs, item.size())


def _indexes(call: _Call, table_name: str) -> list[list[str]]:
    return [index.schema_key_attrs for index in _table(call, table_name).global_indexes]


# Registered with every botocore session made from now on (the apps make theirs in the world).
for _event, _handler in (("before-call.dynamodb", _before_call), ("after-call.dynamodb", _after_call)):
    if (_event, _handler) not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append((_event, _handler))


# --- the log tap ---------------------------------------------------------------------------
class LogTap(io.TextIOBase):
    """A text stream that writes through to ``stream`` and shows ``listener`` every piece written."""

    def __init__(self, stream: TextIO, listener: Callable[[str], None]) -> None:
        self._stream = stream
        self._listener = listener

    def write(self, text: str) -> int:
        self._listener(text)
        return self._stream.write(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._stream.flush()

    def getvalue(self) -> str:
        """What a ``StringIO`` underneath holds (tests read the log this way)."""
        return self._stream.getvalue()  # type: ignore[attr-defined]


def metric_names(text: str) -> list[str]:
    """The CloudWatch metrics an embedded-metric-format log line creates (none for other lines)."""
    if '"_aws"' not in text:
        return []
    try:
        document = json.loads(text)
    except ValueError:
        return []
    directive = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(directive, dict):
        return []
    return [metric["Name"] for group in directive.get("CloudWatchMetrics", []) for metric in group.get("Metrics", [])]
