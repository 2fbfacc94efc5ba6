"""The DynamoDB store's two cheap reads: summaries from an index, and an operation's new events.

Pure data, no SDK, like `dynamodb_items.py`: the Query parameters each read sends and what its
replies mean. `dynamodb.py` sends them.

Listing. A target given: one Query of `by_cluster` on that id (the kind and the state as a filter),
so the requests depend on that target's operations only, never on how many others the table holds.
A state only: one Query of `by_state`. Neither: one Query of `by_state` per state, rather than a
Scan of an index, because the Lambda's policy grants Query on the indexes and not Scan
(iam/lambda-policy.json), and the seven requests stay seven whatever the table holds besides
operations. Every query asks for the key and `summary` only (ProjectionExpression), so even an
index that projects ALL (an older `init`) answers with summaries, not bodies. Items an older
rds-maint wrote carry no summary: the store reads those items (and only those) from the table
and derives their summary; it never rewrites them (their next save adds it).

Following. One Query of the operation's partition for sort keys after the cursor: the event items
saved since (`EVENT#<version>#<n>`) and the operation item, which sorts after every event. The
cursor is the sort key of the last event handed out, so each event is handed out once whatever
happens between two calls. A Query is read-committed, not a snapshot (AWS "Isolation levels for
DynamoDB transactions"): it may see part of a save's transaction. Two guards keep that from losing
or reordering an event: events of a version the operation item does not show yet are left for the
next call, and so are those after a gap in the newest version's numbering (its earlier events were
not visible yet). A gap in an older version is damage, not a save in flight: those events are
handed out rather than held forever.
"""

from __future__ import annotations

import re
from typing import Any

from rds_maint.errors import BadInput
from rds_maint.model import OperationState
from rds_maint.store.base import TargetKindFilter
from rds_maint.store.dynamodb_items import BY_CLUSTER, BY_STATE, EVENT_PREFIX, SUMMARY, TARGET_TYPE, str_attr
from rds_maint.store.summary import OperationSummary

__all__ = [
    "FOLLOW_START",
    "check_cursor",
    "follow_query",
    "matches",
    "new_events",
    "summary_queries",
]

# The cursor before any event: every event's sort key sorts after it, the operation item too.
FOLLOW_START = EVENT_PREFIX
_EVENT_SK = re.compile(r"^EVENT#(\d{10})#(\d{4})$")
# The target types of each kind (rds_maint.model.TargetKind): a DB instance is the only instance kind.
_KIND_TYPES: dict[str, tuple[str, ...]] = {
    "cluster": ("aurora_cluster", "multi_az_cluster"),
    "instance": ("db_instance",),
}
_PROJECTION = {"ProjectionExpression": "#pk, #summary"}
_PROJECTION_NAMES = {"#pk": "pk", "#summary": SUMMARY}


def summary_queries(
    target_id: str | None, kind: TargetKindFilter | None, state: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The Query parameters (less TableName) a listing sends, each with a name for error messages."""
    if kind is not None and kind not in _KIND_TYPES:
        raise BadInput(f"invalid target kind {kind!r}: expected cluster or instance")
    if target_id is None:
        states = [state] if state is not None else [s.value for s in OperationState]
        return [(f"{BY_STATE} {value}", _by_state(value, kind)) for value in states]
    names: dict[str, str] = {**_PROJECTION_NAMES, "#target": "cluster_id"}
    values: dict[str, Any] = {":target": str_attr(target_id)}
    filters: list[str] = []
    if state is not None:
        names["#state"] = "op_state"
        values[":state"] = str_attr(state)
        filters.append("#state = :state")
    if kind is not None:
        filters.append(_kind_filter(kind, names, values))
    query: dict[str, Any] = {
        "IndexName": BY_CLUSTER,
        "KeyConditionExpression": "#target = :target",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        **_PROJECTION,
    }
    if filters:
        query["FilterExpression"] = " AND ".join(filters)
    return [(f"{BY_CLUSTER} {target_id}", query)]


def _by_state(state: str, kind: TargetKindFilter | None) -> dict[str, Any]:
    names: dict[str, str] = {**_PROJECTION_NAMES, "#state": "op_state"}
    values: dict[str, Any] = {":state": str_attr(state)}
    query: dict[str, Any] = {"IndexName": BY_STATE, "KeyConditionExpression": "#state = :state", **_PROJECTION}
    if kind is not None:
        query["FilterExpression"] = _kind_filter(kind, names, values)
    query["ExpressionAttributeNames"] = names
    query["ExpressionAttributeValues"] = values
    return query


def _kind_filter(kind: TargetKindFilter, names: dict[str, str], values: dict[str, Any]) -> str:
    """The kind as a filter on `target_type`. An item without one (an older rds-maint's) passes: its
    kind is known only from its body, which the store reads and `matches` checks."""
    names["#type"] = TARGET_TYPE
    placeholders = []
    for index, target_type in enumerate(_KIND_TYPES[kind]):
        values[f":type{index}"] = str_attr(target_type)
        placeholders.append(f":type{index}")
    return f"(attribute_not_exists(#type) OR #type IN ({', '.join(placeholders)}))"


def matches(summary: OperationSummary, target_id: str | None, kind: TargetKindFilter | None, state: str | None) -> bool:
    """Whether a summary answers the listing: the server's filters, checked again on what came back
    (an item read from the table may have moved on since the index saw it; an older item had no
    `target_type` to filter on)."""
    return (
        (target_id is None or summary.target_id == target_id)
        and (kind is None or summary.target_kind == kind)
        and (state is None or summary.state.value == state)
    )


def _position(sort_key: str) -> tuple[int, int] | None:
    found = _EVENT_SK.match(sort_key)
    return (int(found.group(1)), int(found.group(2))) if found else None


def check_cursor(cursor: str | None) -> str:
    """The sort key to read after; BadInput for anything this store never handed out."""
    if cursor is None:
        return FOLLOW_START
    if cursor == FOLLOW_START or (isinstance(cursor, str) and _position(cursor) is not None):
        return cursor
    raise BadInput(
        f"invalid follow cursor {cursor!r} for a DynamoDB store: pass back the cursor the previous "
        "follow returned, or none to read every event"
    )


def follow_query(partition: str, cursor: str) -> dict[str, Any]:
    """The one Query (less TableName) of a follow: the events after `cursor` and the operation item."""
    return {
        "KeyConditionExpression": "#pk = :pk AND #sk > :cursor",
        "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
        "ExpressionAttributeValues": {":pk": str_attr(partition), ":cursor": str_attr(cursor)},
        "ConsistentRead": True,
    }


def new_events(items: list[dict[str, Any]], cursor: str, version: int) -> list[dict[str, Any]]:
    """The event items of a follow's reply to hand out, in order (see the module docstring: a save seen
    half-applied is left for the next call). `version` is the operation item's, read in the same reply."""
    seen = _position(cursor)
    handed: list[dict[str, Any]] = []
    for item in items:
        sort_key = str(item.get("sk", {}).get("S", ""))
        position = _position(sort_key)
        if position is None:
            continue  # the operation item, or something this store never writes
        saved_with, index = position
        if saved_with > version:
            break  # a save the operation item does not show yet
        expected = seen[1] + 1 if seen is not None and seen[0] == saved_with else 0
        if index != expected and saved_with == version:
            break  # the newest save's earlier events were not visible yet
        handed.append(item)
        seen = position
    return handed
