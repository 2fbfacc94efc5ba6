"""`rds-maint init --store dynamodb://TABLE`: create the table the store needs, or check an existing one.

An existing table is only read, never changed: it may hold another tool's data, or ours with
settings an administrator chose. A table with other keys or without the two indexes is refused
with what to do, since every query of the store would fail on it later.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rds_maint.errors import StoreError
from rds_maint.store.aws import error_code
from rds_maint.store.dynamodb_items import BY_CLUSTER, BY_STATE

__all__ = ["audit_table", "initialise_table"]

# The attribute each sparse index is keyed on (range key: created_at); only operation items carry them.
INDEX_KEYS = {BY_CLUSTER: "cluster_id", BY_STATE: "op_state"}


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
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": key, "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index, key in INDEX_KEYS.items()
            ],
            SSESpecification={"Enabled": True},
            Tags=[{"Key": "rds-maint:store", "Value": "true"}],
        )
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    except ClientError as exc:
        raise fail(exc, "CreateTable") from exc
    notes = [
        f"created table {table} in {client.meta.region_name}: on-demand, encrypted, indexes {BY_CLUSTER} and {BY_STATE}"
    ]
    try:
        client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        notes.append("point-in-time recovery enabled")
    except ClientError as exc:
        notes.append(f"warning: could not enable point-in-time recovery ({error_code(exc)})")
    return notes


def audit_table(table: str, description: dict[str, Any]) -> list[str]:
    """An existing table's keys and indexes, checked; StoreError when it cannot be an rds-maint store."""
    keys = {k["AttributeName"]: k["KeyType"] for k in description.get("KeySchema", [])}
    if keys != {"pk": "HASH", "sk": "RANGE"}:
        raise StoreError(
            f"table {table} exists with keys {keys}, not pk (hash) + sk (range): it is not an rds-maint "
            "store; choose another table name"
        )
    indexes = {i["IndexName"] for i in description.get("GlobalSecondaryIndexes", [])}
    missing = sorted({BY_CLUSTER, BY_STATE} - indexes)
    if missing:
        raise StoreError(
            f"table {table} exists but lacks the index(es) {', '.join(missing)}; add them "
            "(hash cluster_id / op_state, range created_at, projection ALL) or use a new table"
        )
    return [f"table {table} exists with the expected layout; left as it is"]
