"""The StateStore protocol: what the engine needs from any place that keeps operations."""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from rds_maint.errors import BadInput, StoreError
from rds_maint.model import SCHEMA_VERSION, Event, Operation

_OPERATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# RDS cluster identifiers (1-63: a letter first, letters, digits, hyphens) and region names.
_CLUSTER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$")


def check_operation_id(operation_id: str) -> str:
    """Refuse ids that could escape a directory, key prefix or table key."""
    if not isinstance(operation_id, str) or not _OPERATION_ID.match(operation_id):
        raise BadInput(
            f"invalid operation id {operation_id!r}: use letters, digits, '-' and '_' "
            "(at most 128 characters, no path characters)"
        )
    return operation_id


def check_lock_key(cluster_id: str, region: str) -> tuple[str, str]:
    """A cluster lock is named by cluster and region: both become part of a path or key."""
    if not isinstance(cluster_id, str) or not _CLUSTER_ID.match(cluster_id):
        raise BadInput(
            f"invalid cluster identifier {cluster_id!r}: a letter first, then letters, digits and hyphens "
            "(at most 63 characters)"
        )
    if not isinstance(region, str) or not _REGION.match(region):
        raise BadInput(f"invalid region {region!r}: expected a region name such as us-east-1")
    return cluster_id, region


def decode_record(raw: bytes, where: str) -> dict[str, Any]:
    """A stored record as a JSON object, or a StoreError naming the record and what is wrong with it.

    Every store reads its records through this, so a damaged one (a hand edit, a truncated write, a
    file from another tool) is reported the same way everywhere, and never rewritten.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"{where} is not valid UTF-8 (byte {exc.start}: {exc.reason}); it was left as it is") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{where} is not valid JSON ({exc}); it was left as it is") from None
    if not isinstance(data, dict):
        raise StoreError(
            f"{where} holds a JSON {type(data).__name__}, not an object as rds-maint writes; it was left as it is"
        )
    return data


def check_schema(value: Any, where: str) -> int:
    """A record's `schema_version`: a whole number this rds-maint can read (missing means 1)."""
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"{where} has schema_version {value!r}, which is not a number; it was left as it is")
    if value > SCHEMA_VERSION:
        raise StoreError(
            f"{where} was written by a newer rds-maint (schema {value}, this one knows {SCHEMA_VERSION}); "
            "it was neither read nor overwritten: upgrade rds-maint"
        )
    return value


class StateStore(Protocol):
    """Keeps operations, their event logs and one lock per cluster.

    `create` fails if the id exists; `save` writes only if the stored version is the
    one the caller loaded (a lost race raises Conflict and changes nothing), then
    bumps `version` and appends the events in the same conditional write, so a
    losing writer's events never appear and a winner's are never lost.

    Cluster locks: `acquire_lock` takes the lock of (cluster, region) for an operation
    and returns the id of the operation that holds it afterwards: `operation_id` when it
    was free or already held by that operation, the other holder's id otherwise.
    `replace=X` takes over a lock held by X (compare-and-swap: the engine does this only
    when X has finished). `release_lock` frees the lock only if `operation_id` holds it.
    """

    url: str

    def create(self, operation: Operation, events: list[Event]) -> Operation: ...

    def load(self, operation_id: str) -> Operation: ...

    def save(self, operation: Operation, events: list[Event]) -> Operation: ...

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]: ...

    def events(self, operation_id: str) -> list[Event]: ...

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str: ...

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool: ...

    def lock_holder(self, cluster_id: str, region: str) -> str | None: ...
