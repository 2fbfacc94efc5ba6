"""The DynamoDB store's items: key layout and how an operation, an event and a lock become an item.

Pure data, no SDK: what `dynamodb.py` writes and reads, in the attribute-value form the low-level
client speaks (`{"S": ...}`, `{"N": ...}`, `{"B": ...}`). The layout is described in `dynamodb.py`;
it is the stored contract, so a change here is a change of every table already in use.
"""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from rds_maint.campaign_model import CAMPAIGN_SCHEMA_VERSION, Campaign
from rds_maint.errors import StoreError
from rds_maint.model import SCHEMA_VERSION, Event, Operation
from rds_maint.store.base import (
    campaign_record,
    check_campaign_id,
    check_lock_key,
    check_operation_id,
    check_schema,
    operation_record,
)
from rds_maint.store.summary import OperationSummary, summary_of

__all__ = [
    "BODY_LIMIT",
    "BY_CLUSTER",
    "BY_STATE",
    "CAMPAIGNS_PK",
    "CAMPAIGN_COMPRESS_ABOVE",
    "CAMPAIGN_PREFIX",
    "COMPRESS_ABOVE",
    "EVENT_PREFIX",
    "LOCK_SK",
    "OPERATION_SK",
    "SUMMARY",
    "TARGET_TYPE",
    "campaign_item",
    "campaign_key",
    "event_item",
    "holder_of",
    "lock_item",
    "lock_key",
    "lock_pk",
    "number",
    "op_pk",
    "operation_item",
    "parse_campaign",
    "parse_event",
    "parse_operation",
    "parse_summary",
    "str_attr",
]

OPERATION_SK = "OPERATION"
EVENT_PREFIX = "EVENT#"
LOCK_SK = "LOCK"
# Every campaign record is an item of this one partition (no operation, event or lock key starts so), sorted by
# id: `campaigns()` is one Query of it. The items carry none of the indexes' key attributes (`cluster_id`,
# `op_state`, `created_at`), so the sparse indexes never list a campaign as an operation.
CAMPAIGNS_PK = "CAMPAIGNS"
CAMPAIGN_PREFIX = "CAMPAIGN#"
BY_CLUSTER = "by_cluster"
BY_STATE = "by_state"
SUMMARY = "summary"
TARGET_TYPE = "target_type"
COMPRESS_ABOVE = 64 * 1024
# A campaign record is rewritten at every target's start and end, and DynamoDB bills a write per KB of the
# item (1 WCU per 1 KB, "Read/write capacity mode" in the DynamoDB Developer Guide): its JSON, repetitive
# across targets, shrinks 10-25 fold (500 targets: 237 KB -> 9 KB), so it is compressed from 8 KB on.
CAMPAIGN_COMPRESS_ABOVE = 8 * 1024
BODY_LIMIT = 380 * 1024  # the item limit is 400 KB, attribute names and the other attributes included


def str_attr(value: str) -> dict[str, str]:
    """A string attribute value."""
    return {"S": value}


def number(attribute: Any, where: str, name: str) -> int | None:
    """A numeric attribute (`{"N": "1"}`) as an int; None when absent; StoreError when it is anything else."""
    if attribute is None:
        return None
    text = attribute.get("N") if isinstance(attribute, dict) else None
    if isinstance(text, str) and text.strip().lstrip("-").isdigit():
        return int(text)
    raise StoreError(f"{where} has {name} {attribute!r}, which is not a number; it was left as it is")


def op_pk(operation_id: str) -> str:
    return f"OP#{check_operation_id(operation_id)}"


def operation_item(operation: Operation) -> dict[str, Any]:
    """The operation's item, body compressed above 64 KB; StoreError (nothing written) when it cannot fit.

    The item carries the operation's summary beside the body: both are one attribute of one item, so
    every write that changes the body changes the summary with it (no window where they disagree).
    `target_type` is there for the indexes' kind filter, which cannot look inside the summary's JSON.
    """
    item: dict[str, Any] = {
        "pk": str_attr(op_pk(operation.id)),
        "sk": str_attr(OPERATION_SK),
        "version": {"N": str(operation.version)},
        "schema_version": {"N": str(SCHEMA_VERSION)},
        "cluster_id": str_attr(operation.target_id),
        "region": str_attr(operation.region),
        "op_state": str_attr(operation.state.value),
        "op_type": str_attr(operation.type.value),
        "created_at": str_attr(operation.created_at.isoformat()),
        "updated_at": str_attr(operation.updated_at.isoformat()),
        TARGET_TYPE: str_attr(operation.target_type),
        SUMMARY: str_attr(summary_of(operation).to_json()),
        # Unique per write: after a lost response, tells our own write from a racing one.
        "write_id": str_attr(uuid.uuid4().hex),
    }
    item.update(_packed_body(operation.model_dump_json(), f"operation '{operation.id}'"))
    return item


def _packed_body(text: str, what: str, above: int = COMPRESS_ABOVE) -> dict[str, Any]:
    """`body` (S) as it is, or above `above` bytes `body_z` (B) zlib-compressed; StoreError when even that
    cannot fit."""
    data = text.encode()
    if len(data) <= above:
        return {"body": str_attr(text)}
    packed = zlib.compress(data, 9)
    if len(packed) > BODY_LIMIT:
        raise StoreError(
            f"{what} is {len(data) // 1024} KB ({len(packed) // 1024} KB compressed), beyond DynamoDB's 400 KB "
            "item limit; nothing was written. Keep it in an s3:// store"
        )
    return {"body_z": {"B": packed}}


def _raw_body(item: dict[str, Any], where: str) -> bytes:
    try:
        if "body" in item:
            return str(item["body"]["S"]).encode()
        if "body_z" in item:
            return zlib.decompress(bytes(item["body_z"]["B"]))
    except (zlib.error, KeyError, TypeError) as exc:
        raise StoreError(f"{where} has an unreadable body ({type(exc).__name__}: {exc}); it was left as it is") from exc
    raise StoreError(f"{where} has no body; it was left as it is")


def campaign_key(campaign_id: str) -> dict[str, Any]:
    return {"pk": str_attr(CAMPAIGNS_PK), "sk": str_attr(f"{CAMPAIGN_PREFIX}{check_campaign_id(campaign_id)}")}


def campaign_item(campaign: Campaign) -> dict[str, Any]:
    """A campaign's item: the record's JSON (compressed as an operation's is), `version` for the conditional
    save, and a `write_id` unique per write (a retry after a lost answer recognises its own write by it)."""
    return {
        **campaign_key(campaign.id),
        "version": {"N": str(campaign.version)},
        "schema_version": {"N": str(CAMPAIGN_SCHEMA_VERSION)},
        "campaign_state": str_attr(campaign.state.value),
        "updated_at": str_attr(campaign.updated_at.isoformat()),
        "write_id": str_attr(uuid.uuid4().hex),
        **_packed_body(campaign.model_dump_json(), f"campaign '{campaign.id}'", CAMPAIGN_COMPRESS_ABOVE),
    }


def parse_campaign(item: dict[str, Any], where: str, campaign_id: str | None = None) -> Campaign:
    """The campaign an item holds, or a StoreError naming the item (`store.base.campaign_record`)."""
    return campaign_record(_raw_body(item, where), where, campaign_id)


def parse_operation(item: dict[str, Any], where: str, operation_id: str | None = None) -> Operation:
    """The operation an item holds, or a StoreError naming the item and what is wrong with it."""
    check_schema(number(item.get("schema_version"), where, "schema_version"), where)
    return operation_record(_raw_body(item, where), where, operation_id)


def parse_summary(item: dict[str, Any], where: str) -> OperationSummary | None:
    """The summary an operation item (or its index entry) carries; None when an older rds-maint wrote it
    without one; StoreError naming the item when it is there but unreadable."""
    attribute = item.get(SUMMARY)
    if attribute is None:
        return None
    text = attribute.get("S") if isinstance(attribute, dict) else None
    if not isinstance(text, str):
        raise StoreError(f"{where} has summary {attribute!r}, not a string; it was left as it is")
    return OperationSummary.from_json(text, f"{where} summary")


def event_item(operation_id: str, version: int, index: int, event: Event) -> dict[str, Any]:
    """Event `index` of the save that wrote `version`: its sort key keeps commit order."""
    return {
        "pk": str_attr(op_pk(operation_id)),
        "sk": str_attr(f"{EVENT_PREFIX}{version:010d}#{index:04d}"),
        "operation_id": str_attr(operation_id),
        "event": str_attr(event.model_dump_json()),
    }


def parse_event(item: dict[str, Any], where: str) -> Event:
    try:
        return Event.model_validate_json(item["event"]["S"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise StoreError(f"{where} is not a valid event: {exc}") from exc


def lock_pk(cluster_id: str, region: str) -> str:
    return f"LOCK#{region}#{cluster_id}"


def lock_key(cluster_id: str, region: str) -> dict[str, Any]:
    check_lock_key(cluster_id, region)
    return {"pk": str_attr(lock_pk(cluster_id, region)), "sk": str_attr(LOCK_SK)}


def lock_item(cluster_id: str, region: str, operation_id: str) -> dict[str, Any]:
    return {
        **lock_key(cluster_id, region),
        "holder": str_attr(operation_id),
        "lock_cluster": str_attr(cluster_id),
        "lock_region": str_attr(region),
        "acquired_at": str_attr(datetime.now(UTC).isoformat()),
    }


def holder_of(item: dict[str, Any] | None, where: str) -> str | None:
    """The holder of a lock item; a lock item without a text `holder` is damaged, never taken as free."""
    if not item:
        return None
    holder = item.get("holder")
    text = holder.get("S") if isinstance(holder, dict) else None
    if not isinstance(text, str) or not text:
        raise StoreError(f"{where} is not a valid lock record (holder {holder!r}); it was left as it is")
    return text
