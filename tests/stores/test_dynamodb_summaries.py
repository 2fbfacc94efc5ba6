"""The DynamoDB store lists from summaries its indexes carry and follows an operation with a cursor (moto).

What a user of `list` and `status --watch` notices on a DynamoDB store is requests and bytes: they are
counted here with botocore hooks on the store's own client (`before-call` per request, `after-call` for
the reply's bytes), which is deterministic. The shared behaviour of every store (what `summaries` and
`follow` answer) is in test_state_stores.py; this file shows what only this store does.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rds_maint.errors import BadInput, OperationNotFound, StoreError
from rds_maint.model import Event, Operation, OperationState, OperationType, Step
from rds_maint.store import DynamoDBStore, init_store
from rds_maint.store.dynamodb_items import operation_item
from rds_maint.store.summary import summary_of
from tests.helpers.world import REGION

NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
TABLE = "rds-maint-summaries"
# Only the operation's body holds this (a step's description), never its summary: a reply that
# contains it carried a body.
BODY_MARK = "only-in-the-body"


def operation(op_id: str, target: str = "c1", minutes: int = 0, *, instance: bool = False) -> Operation:
    """An operation shaped like a planned one: a dozen steps, a few KB of JSON, most of it not in the summary."""
    at = NOW + timedelta(minutes=minutes)
    steps = [
        Step(
            id=f"s{n:02d}",
            name=f"step_{n}",
            action="modify_instance",
            description=f"{BODY_MARK}: change {target}-{n} to db.r6g.xlarge and wait until it is available again",
            parameters={"instance_id": f"{target}-{n}", "instance_class": "db.r6g.xlarge"},
        )
        for n in range(12)
    ]
    where = {"instance_id": target, "target_type": "db_instance"} if instance else {"cluster_id": target}
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        region=REGION,
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=steps,
        created_at=at,
        updated_at=at,
        **where,
    )


def event(op_id: str, name: str) -> Event:
    return Event(id=name, operation_id=op_id, type="note", message=f"message {name}", timestamp=NOW)


class Wire:
    """The requests a client sends (by API) and the bytes of the replies it gets, while counting."""

    def __init__(self, client: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.replies: list[bytes] = []
        client.meta.events.register("before-call.dynamodb", self._request)
        client.meta.events.register("after-call.dynamodb", self._reply)

    def _request(self, model: Any, **_: Any) -> None:
        self.requests[str(model.name)] += 1

    def _reply(self, http_response: Any, **_: Any) -> None:
        self.replies.append(bytes(http_response.content))

    def reset(self) -> None:
        self.requests.clear()
        self.replies.clear()

    @property
    def reply_bytes(self) -> int:
        return sum(len(reply) for reply in self.replies)

    def replied(self, text: str) -> bool:
        return any(text.encode() in reply for reply in self.replies)


@pytest.fixture
def ddb() -> Iterator[DynamoDBStore]:
    with mock_aws():
        init_store(f"dynamodb://{TABLE}")
        yield DynamoDBStore(TABLE, sleep=lambda _: None)


def raw() -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def seed_others(first: int, last: int) -> None:
    """Operations on other clusters, in every state, written as the store writes them."""
    states = list(OperationState)
    client = raw()
    for n in range(first, last):
        op = operation(f"other-{n:04d}", target=f"other-{n % 40}", minutes=n).model_copy(
            update={"state": states[n % len(states)], "version": 1}
        )
        client.put_item(TableName=TABLE, Item=operation_item(op))


def older_item(op: Operation) -> dict[str, Any]:
    """The item an rds-maint from before summaries wrote: no `summary`, no `target_type`."""
    item = operation_item(op.model_copy(update={"version": 1}))
    del item["summary"], item["target_type"]
    return item


# -- the summary is written with the item ---------------------------------------------------------------


def test_every_write_of_an_operation_carries_its_summary_in_the_same_conditional_write(ddb: DynamoDBStore) -> None:
    wire = Wire(ddb.client)
    created = ddb.create(operation("op-1"), [])
    saved = ddb.save(ddb.load("op-1"), [event("op-1", "e1")])
    moved = saved.model_copy(update={"state": OperationState.RUNNING})
    saved = ddb.save(moved, [])
    assert wire.requests == {"PutItem": 2, "TransactWriteItems": 1, "GetItem": 1}, "no second write for the summary"
    item = raw().get_item(TableName=TABLE, Key={"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}})["Item"]
    assert json.loads(item["summary"]["S"]) == json.loads(summary_of(saved).to_json())
    assert item["target_type"] == {"S": "aurora_cluster"}
    assert created.version == 1 and saved.version == 3


# -- listing ----------------------------------------------------------------------------------------


def test_listing_a_target_sends_the_same_requests_with_5_or_200_other_operations_and_no_bodies(
    ddb: DynamoDBStore,
) -> None:
    mine = [ddb.create(operation(f"op-{n}", minutes=n), []) for n in range(3)]
    seed_others(0, 5)
    wire = Wire(ddb.client)
    assert ddb.summaries("c1") == [summary_of(op) for op in mine]
    few, few_bytes = dict(wire.requests), wire.reply_bytes
    assert not wire.replied(BODY_MARK)

    seed_others(5, 200)
    wire.reset()
    assert ddb.summaries("c1") == [summary_of(op) for op in mine]
    assert dict(wire.requests) == few == {"Query": 1}
    assert wire.reply_bytes == few_bytes
    assert not wire.replied(BODY_MARK)
    body = len(operation_item(mine[0])["body"]["S"])
    assert wire.reply_bytes < body, "three summaries weigh less than one operation"

    wire.reset()
    created = [(n, f"op-{n}") for n in range(3)] + [
        (n, f"other-{n:04d}") for n in range(200) if n % len(OperationState) == 0
    ]
    assert [s.id for s in ddb.summaries(state="created")] == [op_id for _, op_id in sorted(created)]
    assert dict(wire.requests) == {"Query": 1} and not wire.replied(BODY_MARK)
    wire.reset()
    assert len(ddb.summaries()) == 203
    assert dict(wire.requests) == {"Query": len(OperationState)} and not wire.replied(BODY_MARK)


def test_kind_and_state_are_filtered_by_the_index_query_not_after_it(ddb: DynamoDBStore) -> None:
    ddb.create(operation("on-cluster", "orders"), [])
    ddb.create(operation("on-instance", "orders", minutes=1, instance=True), [])
    running = ddb.create(operation("running", "orders", minutes=2), [])
    ddb.save(running.model_copy(update={"state": OperationState.RUNNING}), [])
    wire = Wire(ddb.client)
    assert [s.id for s in ddb.summaries("orders", kind="instance")] == ["on-instance"]
    assert not wire.replied('"on-cluster"') and not wire.replied('"running"')
    assert [s.id for s in ddb.summaries("orders", kind="cluster", state="running")] == ["running"]
    assert [s.id for s in ddb.summaries(state="running", kind="instance")] == []
    assert [s.id for s in ddb.summaries("orders", kind="cluster")] == ["on-cluster", "running"]
    assert wire.requests == {"Query": 4}
    with pytest.raises(BadInput, match="invalid target kind 'volume'"):
        ddb.summaries("orders", kind="volume")  # type: ignore[arg-type]


def test_items_an_older_rds_maint_wrote_list_from_their_body_and_are_never_rewritten(ddb: DynamoDBStore) -> None:
    new = ddb.create(operation("new", "c1", minutes=3), [])
    old_cluster = operation("old-cluster", "c1", minutes=1)
    old_instance = operation("old-instance", "c1", minutes=2, instance=True)
    client = raw()
    for op in (old_cluster, old_instance):
        client.put_item(TableName=TABLE, Item=older_item(op))
    before = client.scan(TableName=TABLE)["Items"]
    wire = Wire(ddb.client)

    listed = ddb.summaries("c1")
    assert [s.id for s in listed] == ["old-cluster", "old-instance", "new"]
    assert listed[1] == summary_of(old_instance.model_copy(update={"version": 1}))
    assert listed[2] == summary_of(new)
    assert wire.requests == {"Query": 1, "GetItem": 2}, "one read of each older item, none of the others"
    wire.reset()
    assert [s.id for s in ddb.summaries("c1", kind="instance")] == ["old-instance"]
    assert [s.id for s in ddb.summaries(state="created", kind="cluster")] == ["old-cluster", "new"]
    assert set(wire.requests) == {"Query", "GetItem"}
    assert client.scan(TableName=TABLE)["Items"] == before, "nothing was written"


def test_a_damaged_summary_is_named_and_left_as_it_is(ddb: DynamoDBStore) -> None:
    ddb.create(operation("op-1"), [])
    client = raw()
    key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    item = client.get_item(TableName=TABLE, Key=key)["Item"]
    item["summary"] = {"S": '{"summary_schema": 1, "id": "op-1"'}
    client.put_item(TableName=TABLE, Item=item)
    with pytest.raises(StoreError, match=f"dynamodb://{TABLE} item OP#op-1 summary is not a valid summary"):
        ddb.summaries("c1")
    assert client.get_item(TableName=TABLE, Key=key)["Item"] == item


def test_a_table_made_by_an_older_init_with_whole_items_in_its_indexes_still_lists_summaries_only() -> None:
    with mock_aws():
        client = raw()
        client.create_table(  # what `rds-maint init` created before summaries: both indexes project ALL
            TableName=TABLE,
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
                for index, key in (("by_cluster", "cluster_id"), ("by_state", "op_state"))
            ],
        )
        notes = init_store(f"dynamodb://{TABLE}")
        assert "expected layout" in notes[0] and "project ALL" in notes[1]
        store = DynamoDBStore(TABLE)
        client.put_item(TableName=TABLE, Item=older_item(operation("old", minutes=0)))
        new = store.create(operation("new", minutes=1), [])
        wire = Wire(store.client)
        assert [s.id for s in store.summaries("c1")] == ["old", "new"]
        assert wire.requests == {"Query": 1, "GetItem": 1}
        # the older item's body came by its own GetItem; the Query asked for summaries only
        query_reply = wire.replies[0]
        assert BODY_MARK.encode() not in query_reply and b"summary" in query_reply
        wire.reset()
        assert [op.id for op in store.list_operations(cluster_id="c1")] == ["old", "new"]
        assert wire.requests == {"Query": 1}, "whole operations come from an ALL index in one query"
        assert store.summaries("c1")[1] == summary_of(new)


def test_whole_operations_from_a_summaries_index_are_read_item_by_item(ddb: DynamoDBStore) -> None:
    mine = [ddb.create(operation(f"op-{n}", minutes=n), []) for n in range(2)]
    wire = Wire(ddb.client)
    assert ddb.list_operations(cluster_id="c1") == mine
    assert wire.requests == {"Query": 1, "GetItem": 2}


# -- init -------------------------------------------------------------------------------------------


def _table_with(projection: dict[str, Any], name: str) -> None:
    raw().create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "cluster_id", "op_state", "created_at")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_cluster",
                "KeySchema": [
                    {"AttributeName": "cluster_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": projection,
            },
            {
                "IndexName": "by_state",
                "KeySchema": [
                    {"AttributeName": "op_state", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    )


def test_init_projects_the_summaries_and_moto_honours_it(ddb: DynamoDBStore) -> None:
    indexes = raw().describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]
    projections = {i["IndexName"]: i["Projection"] for i in indexes}
    assert projections == {
        "by_cluster": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary", "target_type", "op_state"]},
        "by_state": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary", "target_type"]},
    }
    ddb.create(operation("op-1"), [])
    # A query of the index that asks for everything gets what the index holds: moto keeps INCLUDE
    # projections (5.x), so the store's ProjectionExpression is not the only thing keeping bodies out.
    (entry,) = raw().query(
        TableName=TABLE,
        IndexName="by_cluster",
        KeyConditionExpression="cluster_id = :c",
        ExpressionAttributeValues={":c": {"S": "c1"}},
    )["Items"]
    assert "summary" in entry and "body" not in entry and "steps" not in json.dumps(entry)


@pytest.mark.parametrize(
    ("projection", "refusal"),
    [
        ({"ProjectionType": "KEYS_ONLY"}, "index by_cluster projects KEYS_ONLY without summary, target_type, op_state"),
        (
            {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["op_state", "target_type"]},
            "index by_cluster projects INCLUDE without summary,",
        ),
    ],
)
def test_init_refuses_an_index_without_the_summaries_and_says_what_to_do(
    projection: dict[str, Any], refusal: str
) -> None:
    with mock_aws():
        _table_with(projection, "hand-made")
        with pytest.raises(StoreError) as caught:
            init_store("dynamodb://hand-made")
        message = str(caught.value)
        assert refusal in message, message
        assert "delete the index" in message and '"IndexName":"by_cluster"' in message
        assert "projection INCLUDE summary, target_type, op_state, or ALL" in message
        assert "by_state" not in message, "the ALL index is fine"
        assert raw().describe_table(TableName="hand-made")["Table"]["GlobalSecondaryIndexes"][0]["Projection"] == (
            projection
        ), "left as it is"


def test_init_accepts_an_include_index_that_carries_more_than_it_needs() -> None:
    with mock_aws():
        wide = {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary", "target_type", "op_state", "region"]}
        _table_with(wide, "wider")
        assert "expected layout" in init_store("dynamodb://wider")[0]


# -- follow -----------------------------------------------------------------------------------------


def test_follow_is_one_request_per_call_and_hands_out_each_event_once(ddb: DynamoDBStore) -> None:
    op = ddb.create(operation("op-1"), [event("op-1", "e0")])
    wire = Wire(ddb.client)
    first = ddb.follow("op-1")
    assert [e.id for e in first.events] == ["e0"] and first.operation == op
    assert wire.requests == {"Query": 1}
    cursor, seen = first.cursor, ["e0"]
    for n in range(1, 6):
        op = ddb.save(op, [event("op-1", f"e{n}a"), event("op-1", f"e{n}b")] if n % 2 else [])
        wire.reset()
        followed = ddb.follow("op-1", cursor)
        assert wire.requests == {"Query": 1}
        assert followed.operation == op
        assert not wire.replied('"message e0"'), "events handed out before are not read again"
        seen += [e.id for e in followed.events]
        cursor = followed.cursor
    assert seen == [e.id for e in ddb.events("op-1")] == ["e0", "e1a", "e1b", "e3a", "e3b", "e5a", "e5b"]
    assert ddb.follow("op-1", cursor).events == []


def test_follow_refuses_a_cursor_it_never_handed_out_and_a_missing_operation(ddb: DynamoDBStore) -> None:
    ddb.create(operation("op-1"), [event("op-1", "e0")])
    for cursor in ("3", "OPERATION", "EVENT#1#0", "EVENT#0000000001#0000 "):
        with pytest.raises(BadInput, match="invalid follow cursor"):
            ddb.follow("op-1", cursor)
    with pytest.raises(OperationNotFound):
        ddb.follow("op-missing")
    with pytest.raises(BadInput, match="invalid operation id"):
        ddb.follow("../op-1")


def test_follow_leaves_a_save_it_sees_half_applied_for_the_next_call(ddb: DynamoDBStore) -> None:
    """A Query is read-committed, not a snapshot: it may see some items of a save's transaction and not
    others. What it would see is written here by hand, item by item, as a transaction being applied."""
    op = ddb.create(operation("op-1"), [event("op-1", "e0")])
    cursor = ddb.follow("op-1").cursor
    op = ddb.save(op, [event("op-1", "e1"), event("op-1", "e2"), event("op-1", "e3")])
    client = raw()
    first_key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "EVENT#0000000002#0000"}}
    first = client.get_item(TableName=TABLE, Key=first_key)["Item"]
    client.delete_item(TableName=TABLE, Key=first_key)  # e1 not visible yet, e2 and e3 already

    early = ddb.follow("op-1", cursor)
    assert early.events == [] and early.cursor == cursor and early.operation.version == 2
    client.put_item(TableName=TABLE, Item=first)
    assert [e.id for e in ddb.follow("op-1", cursor).events] == ["e1", "e2", "e3"]

    # the events of version 3 are visible before the operation item that goes with them
    ahead = {"pk": {"S": "OP#op-1"}, "sk": {"S": "EVENT#0000000003#0000"}, "operation_id": {"S": "op-1"}}
    client.put_item(TableName=TABLE, Item={**ahead, "event": {"S": event("op-1", "e4").model_dump_json()}})
    after_e3 = "EVENT#0000000002#0002"
    assert ddb.follow("op-1", after_e3).events == []
    client.delete_item(TableName=TABLE, Key={"pk": ahead["pk"], "sk": ahead["sk"]})
    ddb.save(op, [event("op-1", "e4")])
    assert [e.id for e in ddb.follow("op-1", after_e3).events] == ["e4"]


def test_follow_hands_out_the_events_of_an_older_save_that_lost_one(ddb: DynamoDBStore) -> None:
    """A gap in a save older than the operation is damage, not a write in flight: never held forever."""
    op = ddb.create(operation("op-1"), [])
    op = ddb.save(op, [event("op-1", "e1"), event("op-1", "e2")])
    ddb.save(op, [])
    raw().delete_item(TableName=TABLE, Key={"pk": {"S": "OP#op-1"}, "sk": {"S": "EVENT#0000000002#0000"}})
    assert [e.id for e in ddb.follow("op-1").events] == ["e2"]
