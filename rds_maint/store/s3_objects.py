"""The S3 store's objects: key layout and the JSON documents kept under it.

Pure data, no SDK: what `s3.py` writes and reads. The layout is described in `s3.py`; it is the
stored contract, so a change here is a change of every bucket already in use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rds_maint.errors import StoreError
from rds_maint.model import SCHEMA_VERSION, Event, Operation
from rds_maint.store.base import check_lock_key, check_operation_id

__all__ = [
    "EVENTS",
    "LOCKS",
    "OPERATIONS",
    "Layout",
    "batch_body",
    "holder_of",
    "lock_body",
    "merge_events",
    "operation_body",
    "parse_batch",
    "parse_operation",
]

OPERATIONS, EVENTS, LOCKS = "operations", "events", "locks"


@dataclass(frozen=True)
class Layout:
    """Where each record lives in a bucket under a prefix."""

    bucket: str
    prefix: str

    def key(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts] if self.prefix else parts)

    def operation(self, operation_id: str) -> str:
        return self.key(OPERATIONS, f"{check_operation_id(operation_id)}.json")

    def batch(self, operation_id: str, version: int) -> str:
        return self.key(EVENTS, operation_id, f"{version:010d}.json")

    def lock(self, cluster_id: str, region: str) -> str:
        check_lock_key(cluster_id, region)
        return self.key(LOCKS, region, f"{cluster_id}.json")

    def where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def operation_body(operation: Operation, events: list[Event]) -> bytes:
    """The operation object: the operation and the events of the save that wrote it (the tail)."""
    return _dump(
        {
            "schema_version": SCHEMA_VERSION,
            "operation": operation.model_dump(mode="json"),
            "events": [e.model_dump(mode="json") for e in events],
        }
    )


def parse_operation(data: dict[str, Any], where: str, operation_id: str) -> tuple[Operation, list[Event]]:
    """The operation and its tail from an operation object; StoreError naming the object otherwise."""
    try:
        operation = Operation.model_validate(data["operation"])
        tail = [Event.model_validate(e) for e in data.get("events") or []]
    except (KeyError, TypeError, ValidationError) as exc:
        raise StoreError(f"{where} does not hold a valid operation: {exc}") from exc
    if operation.id != operation_id:
        raise StoreError(f"{where} holds operation '{operation.id}', not '{operation_id}'")
    return operation, tail


def batch_body(operation_id: str, version: int, events: list[Event]) -> bytes:
    """The events object of one version: the tail of that version's operation object, written out."""
    return _dump(
        {
            "schema_version": SCHEMA_VERSION,
            "operation_id": operation_id,
            "version": version,
            "events": [e.model_dump(mode="json") for e in events],
        }
    )


def parse_batch(data: dict[str, Any], where: str) -> list[Event]:
    try:
        return [Event.model_validate(e) for e in data["events"]]
    except (KeyError, TypeError, ValidationError) as exc:
        raise StoreError(f"{where} does not hold valid events: {exc}") from exc


def merge_events(batches: dict[int, list[Event]]) -> list[Event]:
    """Events in commit order (by version), each once: a tail and its written-out copy hold the same events."""
    seen: set[str] = set()
    ordered: list[Event] = []
    for version in sorted(batches):
        for event in batches[version]:
            if event.id not in seen:
                seen.add(event.id)
                ordered.append(event)
    return ordered


def lock_body(cluster_id: str, region: str, holder: str | None) -> bytes:
    """A lock object; `holder` None means free (the store never deletes: the IAM policy grants no delete)."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "cluster_id": cluster_id,
        "region": region,
        "operation_id": holder,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(document).encode()


def holder_of(data: dict[str, Any], where: str) -> str | None:
    holder = data.get("operation_id")
    if holder is not None and not isinstance(holder, str):
        raise StoreError(f"{where} is not a valid lock record; it was left as it is")
    return holder
