"""The S3 store's objects: key layout and the JSON documents kept under it.

Pure data, no SDK: what `s3.py` writes and reads. The layout is described in `s3.py`; it is the
stored contract, so a change here is a change of every bucket already in use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rds_maint.campaign_model import Campaign
from rds_maint.errors import StoreError
from rds_maint.model import SCHEMA_VERSION, Event, Operation, OperationState
from rds_maint.store.base import check_campaign_id, check_lock_key, check_operation_id, lock_key_for
from rds_maint.store.summary import OperationSummary

__all__ = [
    "CAMPAIGNS",
    "EVENTS",
    "LOCKS",
    "NON_FINAL_STATES",
    "OPERATIONS",
    "SUMMARIES",
    "SUMMARY_LAYOUT",
    "Layout",
    "SummaryKey",
    "batch_body",
    "campaign_body",
    "check_marker",
    "etag_of",
    "holder_of",
    "lock_body",
    "marker_body",
    "merge_events",
    "operation_body",
    "parse_batch",
    "parse_operation",
    "summary_body",
]

OPERATIONS, EVENTS, LOCKS, SUMMARIES = "operations", "events", "locks", "summaries"
CAMPAIGNS = "campaigns"
MARKER = "_layout.json"
# The layout of summaries/ that `rds-maint init` records in the marker; a bucket marked with a later one was
# prepared by a newer rds-maint, whose summaries this one may misread.
SUMMARY_LAYOUT = 1
NON_FINAL_STATES: tuple[OperationState, ...] = tuple(s for s in OperationState if not s.is_final)
_STATES = frozenset(s.value for s in OperationState)
_SUMMARY_TAIL = re.compile(r"^(?P<state>[a-z_]+)/(?P<lock>[A-Za-z0-9-]+)/(?P<id>[A-Za-z0-9][A-Za-z0-9_-]*)\.json$")


@dataclass(frozen=True)
class SummaryKey:
    """What a summary's key says: the state it was written in, the target's lock key and the operation."""

    key: str
    state: OperationState
    lock_key: str
    operation_id: str


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

    def summary(self, summary: OperationSummary) -> str:
        """`summaries/<state>/<lock key>/<id>.json`: a cluster and a DB instance of one name never share a prefix."""
        lock_key = lock_key_for(summary.target_kind, summary.target_id)
        check_lock_key(lock_key, summary.region)
        return self.key(SUMMARIES, summary.state.value, lock_key, f"{check_operation_id(summary.id)}.json")

    def summary_of_state(self, state: OperationState, lock_key: str, operation_id: str) -> str:
        return self.key(SUMMARIES, state.value, lock_key, f"{operation_id}.json")

    def summaries(self, state: OperationState | None = None, lock_key: str | None = None) -> str:
        """The prefix to LIST: every summary, one state's, or one target's in one state (ends with '/')."""
        parts = [SUMMARIES] + ([state.value] if state is not None else []) + ([lock_key] if lock_key else [])
        return self.key(*parts) + "/"

    def marker(self) -> str:
        return self.key(SUMMARIES, MARKER)

    def campaign(self, campaign_id: str) -> str:
        return self.key(CAMPAIGNS, f"{check_campaign_id(campaign_id)}.json")

    def campaigns(self) -> str:
        """The prefix to LIST for every campaign record (ends with '/')."""
        return self.key(CAMPAIGNS) + "/"

    def parse_summary_key(self, key: str) -> SummaryKey | None:
        """The parts of a summary key; None for anything else under summaries/ (the marker, foreign objects)."""
        head = self.key(SUMMARIES) + "/"
        if not key.startswith(head):
            return None
        match = _SUMMARY_TAIL.match(key[len(head) :])
        if match is None or match["state"] not in _STATES:
            return None
        return SummaryKey(key, OperationState(match["state"]), match["lock"], match["id"])

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


def campaign_body(campaign: Campaign) -> bytes:
    """A campaign object: the record as the file store keeps it (`store.base.campaign_record` reads both)."""
    return campaign.model_dump_json().encode()


def summary_body(summary: OperationSummary) -> bytes:
    """A final summary whole; a non-final one as an index entry: only what does not change while the operation
    stays in that state (the rest pinned), since readers take a non-final summary only as the operation's place
    in the index and read the operation itself. So one entry serves every save in that state (no PUT per look),
    and a process that did not write it still knows its bytes (and ETag) from the operation alone."""
    if not summary.state.is_final:
        summary = dataclasses.replace(
            summary,
            updated_at=summary.created_at,
            started_at=None,
            completed_at=None,
            version=0,
            step_index=0,
            step_name=None,
            step_state=None,
            lease_until=None,
            awaiting_answer=False,
        )
    return summary.to_json().encode()


def etag_of(body: bytes) -> str:
    """The ETag S3 gives an object written in one PutObject, unencrypted or SSE-S3: the MD5 of its bytes, quoted
    (S3 API Reference, `Object` data type, "ETag"). Lets a process that did not write a summary name it in a
    conditional write or delete without reading it first."""
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def marker_body() -> bytes:
    """`summaries/_layout.json`: every operation under the prefix has its summary, and every writer keeps them."""
    return _dump(
        {"summaries_layout": SUMMARY_LAYOUT, "written_at": datetime.now(UTC).isoformat(), "written_by": "rds-maint"}
    )


def check_marker(data: dict[str, Any], where: str) -> int:
    layout = data.get("summaries_layout")
    if isinstance(layout, bool) or not isinstance(layout, int) or layout < 1:
        raise StoreError(f"{where} is not a valid layout marker (summaries_layout {layout!r}); it was left as it is")
    if layout > SUMMARY_LAYOUT:
        raise StoreError(
            f"{where} says the summaries were laid out by a newer rds-maint (layout {layout}, this one knows "
            f"{SUMMARY_LAYOUT}); upgrade rds-maint"
        )
    return layout


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
