"""Gap 12 of ``draco.world.moto_gaps`` (see there): DynamoDB's index queries, transactions and item reads'
answers, at the cost of what they touch. Installed and removed with the other fills by
``moto_gaps.install``/``uninstall``."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

#: moto's own methods, as this module found them (it is imported before any fill is installed).
_originals: dict[tuple[type, str], Any] = {
    (Table, "query"): Table.query,
    (Table, "put_item"): Table.put_item,
    (Table, "delete_item"): Table.delete_item,
    (DynamoDBBackend, "update_item"): DynamoDBBackend.update_item,
    (DynamoDBBackend, "transact_write_items"): DynamoDBBackend.transact_write_items,
    (ActionResult, "execute_result"): ActionResult.execute_result,
}

ItemKey = tuple[Any, Any]  # (hash key, range key or None), as moto keys its items


@dataclass
class _Partitions:
    """A table's index partitions: (index, hash key value) -> item keys; ``dirty``: items written since."""

    by_value: dict[tuple[str, Any], set[ItemKey]]
    filed: dict[ItemKey, list[tuple[str, Any]]]
    dirty: set[ItemKey]


def _partitions(table: Table) -> _Partitions:
    """Kept on the table (a backup's deep copy of it carries them along, consistent with its items)."""
    held = table.__dict__.get("draco_partitions")
    if held is None:
        every = {(item.hash_key, item.range_key) for item in _stored_items(table)}
        held = table.__dict__["draco_partitions"] = _Partitions({}, {}, every)
    return held


def _stored_items(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for by_range in table.items.values() for item in by_range.values()]
    return list(table.items.values())


def _written(table: Table, key: ItemKey) -> None:
    if "draco_partitions" in table.__dict__:
        table.__dict__["draco_partitions"].dirty.add(key)


def _refile(table: Table) -> _Partitions:
    """File the items written since the last Query under the index partitions they are in now."""
    parts = _partitions(table)
    for key in parts.dirty:
        for place in parts.filed.pop(key, []):
            parts.by_value[place].discard(key)
        item = table.get_item(*key) if key[0] in table.items else None
        if item is None:
            continue
        places = []
        for index in table.global_indexes or []:
            hash_attr = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
            value = item.attrs.get(hash_attr)
            if value is not None:
                places.append((index.name, value))
                parts.by_value.setdefault((index.name, value), set()).add(key)
        parts.filed[key] = places
    parts.dirty.clear()
    return parts


INDEX_ARG = 7  # moto's Table.query takes the index name as its eighth argument


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    original = _originals[(Table, "query")]
    index_name = args[INDEX_ARG] if len(args) > INDEX_ARG else kwargs.get("index_name")
    conditions = kwargs.get("hash_key_conditions") or []
    if not any(index.name == index_name for index in self.global_indexes or []) or len(conditions) != 1:
        return original(self, *args, **kwargs)
    found = index_items(self, index_name, conditions[0][1])
    self.all_items = lambda: found  # type: ignore[method-assign]  # what moto's Query reads
    try:
        return original(self, *args, **kwargs)
    finally:
        del self.all_items


def _table_put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    item = _originals[(Table, "put_item")](self, item_attrs, *args, **kwargs)
    _written(self, (item.hash_key, item.range_key))
    return item


def _table_delete_item(self: Table, hash_key: Any, range_key: Any) -> Any:
    item = _originals[(Table, "delete_item")](self, hash_key, range_key)
    _written(self, (hash_key, range_key))
    return item


def _update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
    item = _originals[(DynamoDBBackend, "update_item")](self, table_name, *args, **kwargs)
    _written(self.get_table(table_name), (item.hash_key, item.range_key))
    return item


def _same(self: Table, memo: dict[int, Any]) -> Table:
    return self


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's transaction, backed up item by item instead of table by table."""
    saved = _named_items(self, transact_items)
    Table.__deepcopy__ = _same  # moto's whole-table backup becomes the table itself; ours is ``saved``
    try:
        _originals[(DynamoDBBackend, "transact_write_items")](self, transact_items)
    except Exception:
        for table, key, item in saved:
            _put_back(table, key, item)
        raise
    finally:
        del Table.__deepcopy__


def _named_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Table, ItemKey, Any]]:
    """Each item a transaction names, as it is now (``None``: absent); malformed actions are moto's to refuse."""
    saved = []
    for action in transact_items:
        try:
            op = next(iter(action.values()))
            table = backend.tables[op["TableName"]]
            named = op.get("Key") or op["Item"]
            key = (
                _typed(named[table.hash_key_attr]),
                _typed(named[table.range_key_attr]) if table.range_key_attr else None,
            )
            saved.append((table, key, copy.deepcopy(table.get_item(*key))))
        except Exception:  # noqa: BLE001, S112 - moto's own transaction reports what is wrong with it
            continue
    return saved


def _typed(value: Any) -> DynamoType:
    """moto's parsed request holds key values as ``DynamoType`` already, or as DynamoDB JSON."""
    return value if isinstance(value, DynamoType) else DynamoType(value)


def _put_back(table: Table, key: ItemKey, item: Any) -> None:
    hash_key, range_key = key
    if item is None:
        if range_key is None:
            table.items.pop(hash_key, None)
        else:
            table.items.get(hash_key, {}).pop(range_key, None)
    elif range_key is None:
        table.items[hash_key] = item
    else:
        table.items[hash_key][range_key] = item
    _written(table, key)


def index_items(table: Table, index_name: str, value: Any) -> list[Any]:
    """moto's items in one partition of a global secondary index (the local world reads active jobs so)."""
    keys = _refile(table).by_value.get((index_name, value), set())
    return [item for item in (table.get_item(*key) for key in keys) if item is not None]


#: DynamoDB's item reads: their answer is DynamoDB JSON already, which moto's serializer walks member by member.
ITEM_READS = frozenset({"Query", "Scan", "GetItem", "BatchGetItem", "TransactGetItems"})


def _execute_result(self: ActionResult, context: ActionContext) -> Any:
    """An item read's answer as the JSON it already is (moto's serializer gives the same document, slower by
    the item); anything JSON can't carry as it is (bytes, dates) or another operation goes to moto's."""
    original = _originals[(ActionResult, "execute_result")]
    if context.service_model.service_name != "dynamodb" or context.operation_model.name not in ITEM_READS:
        return original(self, context)
    if isinstance(self.result, Exception):
        return original(self, context)
    try:
        body = json.dumps(self.result)
    except TypeError:
        return original(self, context)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


DYNAMODB_FILLS: dict[tuple[type, str], Any] = {
    (ActionResult, "execute_result"): _execute_result,
    (Table, "query"): _query,
    (Table, "put_item"): _table_put_item,
    (Table, "delete_item"): _table_delete_item,
    (DynamoDBBackend, "update_item"): _update_item,
    (DynamoDBBackend, "transact_write_items"): _transact_write_items,
}
