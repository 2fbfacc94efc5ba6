"""`rds-maint init --store dynamodb://TABLE`: create the table the store needs, or check an existing one.

An existing table is only read, never changed: it may hold another tool's data, or ours with
settings an administrator chose. A table with other keys, without the two indexes, or with an
index that does not carry the summaries `list` reads is refused with what to do, since every
listing would fail (or come back empty) on it later.

The indexes project `summary` and the attributes the listing filters on (INCLUDE), not whole
items: a listing's reply and the index's storage are then a few hundred bytes per operation, not
the operation's tens of KB. Tables made by an older rds-maint project ALL; they stay valid (the
store asks for the summaries only with a ProjectionExpression). An index's projection cannot be
changed in place (UpdateTable only creates or deletes a global secondary index, AWS "Managing
global secondary indexes" / UpdateTable API reference), so the guidance for a wrong one is to
delete and re-add that index, or to use a new table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rds_maint.errors import StoreError
from rds_maint.store.aws import error_code
from rds_maint.store.dynamodb_items import BY_CLUSTER, BY_STATE, SUMMARY, TARGET_TYPE

__all__ = ["INDEX_INCLUDES", "INDEX_KEYS", "audit_table", "initialise_table"]

# The attribute each sparse index is keyed on (range key: created_at); only operation items carry them.
INDEX_KEYS = {BY_CLUSTER: "cluster_id", BY_STATE: "op_state"}
# What each index must carry besides its keys: the summary, and what a query of it filters on
# (by_cluster: the kind and the state; by_state: the kind).
INDEX_INCLUDES: dict[str, tuple[str, ...]] = {
    BY_CLUSTER: (SUMMARY, TARGET_TYPE, "op_state"),
    BY_STATE: (SUMMARY, TARGET_TYPE),
}


def _index(name: str, key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": key, "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_INCLUDES[name])},
    }


def initialise_table(client: Any, table: str, fail: Callable[[ClientError, str], StoreError]) -> list[str]:
    """Create the table with its indexes; check (never change) an existing one. `fail` names an AWS error."""
    try:
        description = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise fail(exc, "DescribeTable") from exc
    else:
        return audit_table(table, description)
    try:
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "cluster_id", "op_state", "created_at")
            ],
            GlobalSecondaryIndexes=[_index(index, key) for index, key in INDEX_KEYS.items()],
            SSESpecification={"Enabled": True},
            Tags=[{"Key": "rds-maint:store", "Value": "true"}],
        )
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    except ClientError as exc:
        raise fail(exc, "CreateTable") from exc
    notes = [
        f"created table {table} in {client.meta.region_name}: on-demand, encrypted, indexes {BY_CLUSTER} and "
        f"{BY_STATE} (projecting the operations' summaries)"
    ]
    try:
        client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        notes.append("point-in-time recovery enabled")
    except ClientError as exc:
        notes.append(f"warning: could not enable point-in-time recovery ({error_code(exc)})")
    return notes


def _redo(table: str, name: str) -> str:
    """How to replace an index whose keys or projection are wrong (neither can be changed in place)."""
    key = INDEX_KEYS[name]
    include = ", ".join(INDEX_INCLUDES[name])
    return (
        f"delete the index (aws dynamodb update-table --table-name {table} --global-secondary-index-updates "
        f'\'[{{"Delete":{{"IndexName":"{name}"}}}}]\') and add it again (hash {key}, range created_at, '
        f"projection INCLUDE {include}, or ALL), or use a new table with rds-maint init"
    )


def _audit_index(table: str, index: dict[str, Any]) -> str | None:
    """What is wrong with one of our two indexes, with what to do; None when it serves the store."""
    name = str(index["IndexName"])
    keys = {k["AttributeName"]: k["KeyType"] for k in index.get("KeySchema", [])}
    if keys != {INDEX_KEYS[name]: "HASH", "created_at": "RANGE"}:
        return f"index {name} has keys {keys}, not {INDEX_KEYS[name]} (hash) + created_at (range): {_redo(table, name)}"
    projection = index.get("Projection", {})
    kind = projection.get("ProjectionType")
    if kind == "ALL":
        return None
    carried = set(projection.get("NonKeyAttributes", [])) if kind == "INCLUDE" else set()
    missing = [attr for attr in INDEX_INCLUDES[name] if attr not in carried]
    if not missing:
        return None
    return (
        f"index {name} projects {kind} without {', '.join(missing)}, which rds-maint list reads from it: "
        f"{_redo(table, name)}"
    )


def audit_table(table: str, description: dict[str, Any]) -> list[str]:
    """An existing table's keys and indexes, checked; StoreError when it cannot be an rds-maint store."""
    keys = {k["AttributeName"]: k["KeyType"] for k in description.get("KeySchema", [])}
    if keys != {"pk": "HASH", "sk": "RANGE"}:
        raise StoreError(
            f"table {table} exists with keys {keys}, not pk (hash) + sk (range): it is not an rds-maint "
            "store; choose another table name"
        )
    indexes = {str(i["IndexName"]): i for i in description.get("GlobalSecondaryIndexes", [])}
    missing = sorted({BY_CLUSTER, BY_STATE} - set(indexes))
    if missing:
        raise StoreError(
            f"table {table} exists but lacks the index(es) {', '.join(missing)}; add them "
            f"({'; '.join(_wanted(name) for name in missing)}) or use a new table"
        )
    problems = [p for p in (_audit_index(table, indexes[name]) for name in (BY_CLUSTER, BY_STATE)) if p]
    if problems:
        raise StoreError(f"table {table} exists but cannot serve rds-maint list: {'; '.join(problems)}")
    notes = [f"table {table} exists with the expected layout; left as it is"]
    whole = [
        name for name in (BY_CLUSTER, BY_STATE) if indexes[name].get("Projection", {}).get("ProjectionType") == "ALL"
    ]
    if whole:
        notes.append(
            f"note: index(es) {', '.join(whole)} project ALL (made by an older rds-maint): still valid, listings read "
            "only the summaries from them, but they store every operation twice"
        )
    return notes


def _wanted(name: str) -> str:
    return f"{name}: hash {INDEX_KEYS[name]}, range created_at, projection INCLUDE {', '.join(INDEX_INCLUDES[name])}"
