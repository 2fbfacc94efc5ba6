"""The three stores (file, S3, DynamoDB on moto): conditional writes, events, locks, faults.

Every behaviour the engine relies on is shown on each store; what only one store has (S3
ETags and 403s, DynamoDB item limits) is shown on that one. Faults are injected with
botocore `before-call` hooks on the store's own client, so the store code runs unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from rds_maint.errors import BadInput, Conflict, OperationNotFound, StoreError, StoreNotFound
from rds_maint.model import SCHEMA_VERSION, Event, Operation, OperationState, OperationType, Step, StepState
from rds_maint.store import DynamoDBStore, FileStore, S3Store, StateStore, init_store, open_store
from rds_maint.store import base as store_base
from rds_maint.store.base import check_schema, lock_key_for
from rds_maint.store.summary import OperationSummary, summary_of
from tests.helpers.call_params import record_params
from tests.helpers.world import REGION, STORE_KINDS, store_url_for

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
BUCKET, PREFIX, TABLE = "rds-maint-test-state", "rds-maint", "rds-maint-test-state"


def operation(op_id: str = "op-1", cluster: str = "c1", minutes: int = 0) -> Operation:
    at = NOW + timedelta(minutes=minutes)
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        cluster_id=cluster,
        region=REGION,
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=[Step(id="s01", name="check_cluster", action="check_cluster", description="check")],
        created_at=at,
        updated_at=at,
    )


def event(op_id: str, name: str) -> Event:
    return Event(id=name, operation_id=op_id, type="note", message=name, timestamp=NOW)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    with mock_aws():
        url = store_url_for(str(request.param), tmp_path)
        if request.param != "file":
            init_store(url)
        yield open_store(url)


@pytest.fixture
def s3() -> Iterator[S3Store]:
    with mock_aws():
        init_store(f"s3://{BUCKET}/{PREFIX}")
        yield S3Store(BUCKET, PREFIX, sleep=lambda _: None)


@pytest.fixture
def ddb() -> Iterator[DynamoDBStore]:
    with mock_aws():
        init_store(f"dynamodb://{TABLE}")
        yield DynamoDBStore(TABLE, sleep=lambda _: None)


# -- botocore hooks ---------------------------------------------------------------------------------


class _Body:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def error_answer(code: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse("https://injected.invalid/", status, HTTPHeaders(), _Body()), parsed


def inject(
    client: Any,
    api: str,
    code: str,
    status: int,
    times: int | None,
    apply: Callable[[dict[str, Any]], object] | None = None,
) -> list[int]:
    """Answer the next `times` calls of `api` with an error; `apply` first carries the call out
    (a response lost after AWS applied the request). Returns a counter of injected answers."""
    count = [0]
    last: dict[str, Any] = {}
    service = client.meta.service_model.service_name

    def stash(params: dict[str, Any], **_: Any) -> None:
        last.clear()
        last.update(params)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if times is not None and count[0] >= times:
            return None
        count[0] += 1
        if apply is not None:
            apply(dict(last))
        return error_answer(code, status)

    client.meta.events.register(f"before-parameter-build.{service}.{api}", stash)
    client.meta.events.register_first(f"before-call.{service}.{api}", answer)
    return count


# -- every store ------------------------------------------------------------------------------------


def test_create_load_save_bump_the_version_and_keep_events_in_order(store: StateStore) -> None:
    created = store.create(operation(), [event("op-1", "e0")])
    assert created.version == 1
    loaded = store.load("op-1")
    loaded.pause_reason = "look"
    assert store.save(loaded, [event("op-1", "e1"), event("op-1", "e2")]).version == 2
    again = store.load("op-1")
    assert again.pause_reason == "look" and again.version == 2
    assert store.save(again, []).version == 3
    assert [e.id for e in store.events("op-1")] == ["e0", "e1", "e2"]
    with pytest.raises(BadInput, match="already exists"):
        store.create(operation(), [])
    with pytest.raises(OperationNotFound):
        store.load("op-missing")
    with pytest.raises(OperationNotFound):
        store.events("op-missing")


def test_a_stale_save_is_refused_and_changes_nothing(store: StateStore) -> None:
    store.create(operation(), [])
    first, second = store.load("op-1"), store.load("op-1")
    first.pause_reason = "first"
    store.save(first, [event("op-1", "won")])
    second.pause_reason = "second"
    with pytest.raises(Conflict):
        store.save(second, [event("op-1", "lost")])
    assert store.load("op-1").pause_reason == "first"
    assert store.load("op-1").version == 2
    assert [e.id for e in store.events("op-1")] == ["won"]


def test_concurrent_saves_of_one_version_let_exactly_one_win(store: StateStore, serialised_aws: None) -> None:
    store.create(operation(), [])
    copies = [store.load("op-1") for _ in range(6)]
    outcomes: list[str] = []

    def save(copy: Operation, n: int) -> None:
        copy.pause_reason = f"writer {n}"
        try:
            open_store(store.url).save(copy, [event("op-1", f"w{n}")])
            outcomes.append("won")
        except Conflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=save, args=(c, n)) for n, c in enumerate(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
    final = store.load("op-1")
    assert final.version == 2 and final.pause_reason is not None
    winner = final.pause_reason.split()[-1]
    assert [e.id for e in store.events("op-1")] == [f"w{winner}"]  # the loser's events were never written


def test_events_survive_concurrent_appends(store: StateStore, serialised_aws: None) -> None:
    store.create(operation(), [event("op-1", "created")])
    errors: list[BaseException] = []
    conflicts: list[int] = []
    first_round = threading.Barrier(3)  # all three load version 1 before any saves, so two must conflict

    def append(writer: int) -> None:
        mine = open_store(store.url)  # a process of its own
        try:
            for n in range(6):
                while True:
                    current = mine.load("op-1")
                    if n == 0 and current.version == 1:
                        first_round.wait(timeout=30)
                    try:
                        mine.save(current, [event("op-1", f"w{writer}-{n}a"), event("op-1", f"w{writer}-{n}b")])
                        break
                    except Conflict:
                        conflicts.append(writer)
                        continue
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert conflicts, "the writers never raced, so this run proved nothing"
    ids = [e.id for e in store.events("op-1")]
    assert ids[0] == "created"
    assert len(ids) == 1 + 3 * 6 * 2 and len(set(ids)) == len(ids)  # none lost, none twice
    for writer in range(3):  # each writer's events in the order it saved them, pairs together
        mine = [i for i in ids if i.startswith(f"w{writer}-")]
        assert mine == [f"w{writer}-{n}{half}" for n in range(6) for half in "ab"]
        for n in range(6):
            assert ids.index(f"w{writer}-{n}b") == ids.index(f"w{writer}-{n}a") + 1
    assert store.load("op-1").version == 1 + 3 * 6


def test_cluster_lock_is_taken_once_released_only_by_its_holder_and_can_be_taken_over(store: StateStore) -> None:
    assert store.lock_holder("c1", REGION) is None
    assert store.acquire_lock("c1", REGION, "op-a") == "op-a"
    assert store.acquire_lock("c1", REGION, "op-a") == "op-a"  # the same operation again: idempotent
    assert store.acquire_lock("c1", REGION, "op-b") == "op-a"  # busy: the holder is named
    assert store.acquire_lock("c1", "eu-west-1", "op-b") == "op-b"  # another region, another lock
    assert store.release_lock("c1", REGION, "op-b") is False
    assert store.lock_holder("c1", REGION) == "op-a"
    assert store.acquire_lock("c1", REGION, "op-b", replace="op-x") == "op-a"  # replace only the named holder
    assert store.acquire_lock("c1", REGION, "op-b", replace="op-a") == "op-b"
    assert store.release_lock("c1", REGION, "op-b") is True
    assert store.lock_holder("c1", REGION) is None
    assert store.acquire_lock("c1", REGION, "op-c") == "op-c"
    with pytest.raises(BadInput, match="invalid cluster identifier"):
        store.acquire_lock("../c1", REGION, "op-c")
    with pytest.raises(BadInput, match="invalid region"):
        store.lock_holder("c1", "moon/1")


def test_a_db_instance_lock_never_meets_the_lock_of_a_cluster_of_the_same_name(store: StateStore) -> None:
    """AWS names DB instances and DB clusters apart: `orders` may be both; their locks are two records."""
    key = lock_key_for("instance", "orders")
    assert key == "instance--orders" and lock_key_for("cluster", "orders") == "orders"
    assert store.acquire_lock(key, REGION, "op-instance") == "op-instance"
    assert store.acquire_lock("orders", REGION, "op-cluster") == "op-cluster"
    assert (store.lock_holder(key, REGION), store.lock_holder("orders", REGION)) == ("op-instance", "op-cluster")
    assert store.release_lock(key, REGION, "op-instance") is True
    assert store.lock_holder("orders", REGION) == "op-cluster"
    long_id = "a" * 63  # the longest RDS identifier still makes a valid key
    assert store.acquire_lock(lock_key_for("instance", long_id), REGION, "op-long") == "op-long"
    with pytest.raises(BadInput, match="invalid cluster identifier"):
        store.acquire_lock("instance--../x", REGION, "op-x")


def test_concurrent_lock_takers_get_one_holder(store: StateStore, serialised_aws: None) -> None:
    answers: list[str] = []

    def take(n: int) -> None:
        answers.append(open_store(store.url).acquire_lock("c1", REGION, f"op-{n}"))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    holder = store.lock_holder("c1", REGION)
    assert holder is not None and answers == [holder] * 6


def test_list_operations_by_cluster_and_state(store: StateStore) -> None:
    assert store.list_operations() == []
    store.create(operation("op-b", cluster="c1", minutes=2), [])
    store.create(operation("op-a", cluster="c1", minutes=1), [])
    store.create(operation("op-c", cluster="c2", minutes=3), [])
    running = store.load("op-c")
    running.state = OperationState.RUNNING
    store.save(running, [])
    assert [o.id for o in store.list_operations()] == ["op-a", "op-b", "op-c"]
    assert [o.id for o in store.list_operations(cluster_id="c1")] == ["op-a", "op-b"]
    assert [o.id for o in store.list_operations(state="running")] == ["op-c"]
    assert [o.id for o in store.list_operations(cluster_id="c1", state="running")] == []


def test_summaries_by_target_kind_and_state_follow_every_save(store: StateStore) -> None:
    assert store.summaries() == []
    store.create(operation("op-b", cluster="c1", minutes=2), [])
    store.create(operation("op-a", cluster="c1", minutes=1), [])
    store.create(operation("op-c", cluster="c2", minutes=3), [])
    on_instance = operation("op-d", cluster="c1", minutes=4).model_copy(
        update={"cluster_id": None, "instance_id": "c1", "target_type": "db_instance"}
    )
    store.create(on_instance, [])
    running = store.load("op-c")
    running.state = OperationState.RUNNING
    running.current_step_index = 0
    running.steps[0].state = StepState.WAITING
    saved = store.save(running, [])
    assert [s.id for s in store.summaries()] == ["op-a", "op-b", "op-c", "op-d"]
    assert [s.id for s in store.summaries("c1")] == ["op-a", "op-b", "op-d"]
    assert [s.id for s in store.summaries("c1", kind="cluster")] == ["op-a", "op-b"]
    assert [s.id for s in store.summaries("c1", kind="instance")] == ["op-d"]
    assert [s.id for s in store.summaries(state="running")] == ["op-c"]
    assert store.summaries("c1", state="running") == []
    (summary,) = store.summaries("c2")
    assert summary == summary_of(saved)
    assert (summary.state, summary.version, summary.step_name, summary.step_state) == (
        OperationState.RUNNING,
        2,
        "check_cluster",
        StepState.WAITING,
    )
    assert OperationSummary.from_json(summary.to_json(), "here") == summary


def test_follow_reads_the_operation_and_only_the_events_saved_since_the_cursor(store: StateStore) -> None:
    store.create(operation(), [event("op-1", "e0")])
    first = store.follow("op-1")
    assert [e.id for e in first.events] == ["e0"] and first.operation.version == 1
    same = store.follow("op-1", first.cursor)
    assert same.events == [] and same.operation.version == 1
    loaded = store.load("op-1")
    loaded = store.save(loaded, [event("op-1", "e1"), event("op-1", "e2")])
    store.save(loaded, [])
    later = store.follow("op-1", same.cursor)
    assert [e.id for e in later.events] == ["e1", "e2"] and later.operation.version == 3
    assert store.follow("op-1", later.cursor).events == []
    assert [e.id for e in store.follow("op-1").events] == ["e0", "e1", "e2"]
    with pytest.raises(OperationNotFound):
        store.follow("op-missing")


def _overwrite(store: StateStore, change: Callable[[dict[str, Any]], Any]) -> str:
    """Rewrite the stored operation behind the store's back; returns where it is."""
    if isinstance(store, FileStore):
        path = Path(store.root) / "op-1" / "operation.json"
        path.write_text(str(change(json.loads(path.read_text()))))
        return str(path)
    if isinstance(store, S3Store):
        key = f"{PREFIX}/operations/op-1.json"
        client = boto3.client("s3", region_name=REGION)
        document = json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        client.put_object(Bucket=BUCKET, Key=key, Body=str(change(document)).encode())
        return f"s3://{BUCKET}/{key}"
    assert isinstance(store, DynamoDBStore)
    table = boto3.client("dynamodb", region_name=REGION)
    item_key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    item = table.get_item(TableName=TABLE, Key=item_key)["Item"]
    item["body"] = {"S": str(change(json.loads(item["body"]["S"])))}
    with contextlib.suppress(json.JSONDecodeError, KeyError):  # a newer rds-maint sets the attribute too
        item["schema_version"] = {"N": str(json.loads(item["body"]["S"])["schema_version"])}
    table.put_item(TableName=TABLE, Item=item)
    return "OP#op-1"


def _stored_text(store: StateStore) -> str:
    if isinstance(store, FileStore):
        return (Path(store.root) / "op-1" / "operation.json").read_text()
    if isinstance(store, S3Store):
        body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=f"{PREFIX}/operations/op-1.json")
        return str(body["Body"].read().decode())
    key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    return str(boto3.client("dynamodb", region_name=REGION).get_item(TableName=TABLE, Key=key)["Item"]["body"]["S"])


def test_malformed_state_is_reported_with_its_name_and_never_reset(store: StateStore) -> None:
    store.create(operation(), [])
    copy = store.load("op-1")
    where = _overwrite(store, lambda _: "{not json")
    with pytest.raises(StoreError, match=r"not.*valid JSON") as caught:
        store.load("op-1")
    assert where in str(caught.value)
    if not isinstance(store, DynamoDBStore):
        # a copy read before the damage cannot overwrite it either (file: the version on disk is
        # read first; S3: the ETag changed). DynamoDB conditions on version and write id, which a
        # hand edit keeps; the engine never saves without loading first, and loading refuses.
        with pytest.raises((Conflict, StoreError)):
            store.save(copy, [])
    assert _stored_text(store) == "{not json"


def test_state_written_by_a_newer_schema_is_neither_read_nor_overwritten(store: StateStore) -> None:
    store.create(operation(), [])
    copy = store.load("op-1")

    def newer(document: dict[str, Any]) -> str:
        document["schema_version"] = 99
        if "operation" in document:
            document["operation"]["schema_version"] = 99
        return json.dumps(document)

    _overwrite(store, newer)
    written = _stored_text(store)
    with pytest.raises(StoreError, match="newer rds-maint"):
        store.load("op-1")
    with pytest.raises((Conflict, StoreError)):
        store.save(copy, [event("op-1", "late")])
    assert _stored_text(store) == written


# A record as rds-maint wrote it at schema version 1, frozen here: what a store keeps from before a bump of
# SCHEMA_VERSION must still load. Step results in the v1 shape: the action's own keys and the engine's
# bookkeeping (lease, busy_since) side by side in one dict.
V1_OPERATION: dict[str, Any] = {
    "id": "op-1",
    "type": "instance_type_change",
    "state": "paused",
    "cluster_id": "c1",
    "region": REGION,
    "parameters": {"target_instance_type": "db.r6g.xlarge", "exclude_instances": [], "skip_temp_instance": False},
    "steps": [
        {
            "id": "s01",
            "name": "check_cluster",
            "description": "check the cluster",
            "state": "completed",
            "action": "check_cluster",
            "parameters": {},
            "result": {"writer": "c1-a", "readers": ["c1-b"]},
            "started_at": "2026-01-05T02:00:00Z",
            "completed_at": "2026-01-05T02:00:05Z",
        },
        {
            "id": "s02",
            "name": "modify_reader_c1-b",
            "description": "change c1-b to db.r6g.xlarge",
            "state": "in_progress",
            "action": "modify_instance",
            "parameters": {"instance_id": "c1-b", "instance_class": "db.r6g.xlarge"},
            "result": {
                "lease_attempt": "a1",
                "lease_until": "2026-01-05T02:06:00+00:00",
                "busy_since": "2026-01-05T02:01:00+00:00",
            },
            "error": None,
            "started_at": "2026-01-05T02:01:00Z",
            "wait_condition": "instance_available",
            "retry_count": 2,
            "max_retries": 20,
        },
    ],
    "current_step_index": 1,
    "pause_reason": "look at c1-b",
    "created_at": "2026-01-05T02:00:00Z",
    "updated_at": "2026-01-05T02:05:00Z",
    "started_at": "2026-01-05T02:00:00Z",
    "version": 3,
    "context": {"original_writer": "c1-a"},
    "schema_version": 1,
}
V1_EVENT: dict[str, Any] = {
    "id": "e1",
    "operation_id": "op-1",
    "type": "note",
    "message": "paused",
    "data": {},
    "timestamp": "2026-01-05T02:05:00Z",
}


def _write_v1_record(store: StateStore) -> None:
    """Put V1_OPERATION and V1_EVENT where each store kept them at schema version 1 (its stored layout)."""
    body = json.dumps(V1_OPERATION)
    if isinstance(store, FileStore):
        directory = Path(store.root) / "op-1"
        directory.mkdir(parents=True)
        (directory / "operation.json").write_text(body)
        (directory / "events.jsonl").write_text(json.dumps(V1_EVENT) + "\n")
        return
    if isinstance(store, S3Store):  # the events in the operation object's tail, not yet written out
        document = {"schema_version": 1, "operation": V1_OPERATION, "events": [V1_EVENT]}
        key = f"{PREFIX}/operations/op-1.json"
        boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
        return
    assert isinstance(store, DynamoDBStore)
    table = boto3.client("dynamodb", region_name=REGION)
    text = {
        "pk": "OP#op-1",
        "sk": "OPERATION",
        "cluster_id": "c1",
        "region": REGION,
        "op_state": "paused",
        "op_type": "instance_type_change",
        "created_at": "2026-01-05T02:00:00+00:00",
        "updated_at": "2026-01-05T02:05:00+00:00",
        "write_id": "v1write",
        "body": body,
    }
    item: dict[str, Any] = {name: {"S": value} for name, value in text.items()}
    item |= {"version": {"N": "3"}, "schema_version": {"N": "1"}}
    table.put_item(TableName=TABLE, Item=item)
    event_item = {"pk": "OP#op-1", "sk": "EVENT#0000000003#0000", "operation_id": "op-1", "event": json.dumps(V1_EVENT)}
    table.put_item(TableName=TABLE, Item={name: {"S": value} for name, value in event_item.items()})


def test_a_record_of_schema_version_1_loads_and_saves_on_every_store(store: StateStore) -> None:
    _write_v1_record(store)
    loaded = store.load("op-1")
    assert (loaded.id, loaded.state, loaded.cluster_id, loaded.version) == ("op-1", OperationState.PAUSED, "c1", 3)
    assert [(s.id, s.action, s.state.value) for s in loaded.steps] == [
        ("s01", "check_cluster", "completed"),
        ("s02", "modify_instance", "in_progress"),
    ]
    assert loaded.current_step_index == 1 and loaded.pause_reason == "look at c1-b"
    assert loaded.steps[1].parameters == {"instance_id": "c1-b", "instance_class": "db.r6g.xlarge"}
    assert loaded.steps[1].retry_count == 2 and loaded.context == {"original_writer": "c1-a"}
    assert [e.id for e in store.events("op-1")] == ["e1"]
    assert [op.id for op in store.list_operations(cluster_id="c1")] == ["op-1"]
    assert [op.id for op in store.list_operations(state="paused")] == ["op-1"]

    # the next save writes it at this rds-maint's version; it reads back, its events kept in order
    loaded.pause_reason = None
    assert store.save(loaded, [event("op-1", "e2")]).version == 4
    again = store.load("op-1")
    assert again.version == 4 and again.pause_reason is None and again.steps[1].parameters["instance_id"] == "c1-b"
    assert [e.id for e in store.events("op-1")] == ["e1", "e2"]


@pytest.mark.parametrize("known", [SCHEMA_VERSION, SCHEMA_VERSION + 1])
def test_every_schema_version_from_1_to_this_ones_is_read_and_no_other(
    known: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `known` stands for this rds-maint's SCHEMA_VERSION, today's and the next one's.
    monkeypatch.setattr(store_base, "SCHEMA_VERSION", known)
    assert [check_schema(v, "record") for v in range(1, known + 1)] == list(range(1, known + 1))
    assert check_schema(None, "record") == 1, "a record from before schema_version existed is version 1"
    with pytest.raises(StoreError, match=f"newer rds-maint .*schema {known + 1}, this one knows {known}"):
        check_schema(known + 1, "record")
    for never_written in (0, -1):
        with pytest.raises(StoreError, match="no rds-maint writes"):
            check_schema(never_written, "record")


def test_store_urls_are_checked() -> None:
    for url, message in [
        ("ftp://somewhere", "unknown store URL"),
        ("s3://Bad_Bucket/x", "not an S3 bucket name"),
        ("s3://rds-maint-state/a//b", "must not contain empty"),
        ("dynamodb://x", "not a DynamoDB table name"),
        ("dynamodb://rds-maint?colour=blue", "unknown option"),
        ("file://", "needs a path"),
    ]:
        with pytest.raises(BadInput, match=message):
            open_store(url)


@pytest.mark.parametrize("kind", ["s3", "dynamodb"])
def test_missing_storage_is_never_created_and_the_error_says_how(kind: str) -> None:
    url = "s3://rds-maint-nowhere/x" if kind == "s3" else "dynamodb://rds-maint-nowhere"
    with mock_aws():
        store = open_store(url)
        with pytest.raises(StoreNotFound, match=f"rds-maint init --store {url}"):
            store.load("op-1")
        with pytest.raises(StoreNotFound):
            store.create(operation(), [])
        with pytest.raises(StoreNotFound):
            store.list_operations()
        if kind == "s3":
            assert boto3.client("s3").list_buckets()["Buckets"] == []
        else:
            assert boto3.client("dynamodb").list_tables()["TableNames"] == []


# -- S3 ---------------------------------------------------------------------------------------------


def test_s3_every_write_is_conditional_and_encrypted(s3: S3Store) -> None:
    """moto honours If-Match / If-None-Match on PutObject (the stale-save tests above get real
    412s); here every PutObject is also shown to carry a condition and SSE."""
    puts = record_params(s3.client, "PutObject")
    s3.create(operation(), [event("op-1", "e0")])
    op = s3.load("op-1")
    s3.save(op, [event("op-1", "e1")])
    s3.acquire_lock("c1", REGION, "op-1")
    s3.release_lock("c1", REGION, "op-1")
    # the layout marker, create + its summary + its events, save (same state: no summary) + its events, lock, release
    assert len(puts) == 7
    for put in puts:
        assert put["ServerSideEncryption"] == "AES256"
        assert ("IfMatch" in put) != ("IfNoneMatch" in put)
        assert put.get("IfNoneMatch", "*") == "*"
    client = boto3.client("s3", region_name=REGION)
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]:
        head = client.head_object(Bucket=BUCKET, Key=item["Key"])
        assert head["ServerSideEncryption"] == "AES256", item["Key"]
    keys = [i["Key"] for i in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]]
    assert sorted(keys) == sorted(
        [
            f"{PREFIX}/operations/op-1.json",
            f"{PREFIX}/events/op-1/0000000001.json",
            f"{PREFIX}/events/op-1/0000000002.json",
            f"{PREFIX}/locks/{REGION}/c1.json",
            f"{PREFIX}/summaries/_layout.json",
            f"{PREFIX}/summaries/created/c1/op-1.json",
        ]
    )


def test_s3_events_kept_only_in_the_operation_object_are_written_out_before_it_is_replaced(s3: S3Store) -> None:
    """A writer dies after its operation write, before its events object: nothing is lost."""
    s3.create(operation(), [])
    first = S3Store(BUCKET, PREFIX, sleep=lambda _: None)
    loaded = first.load("op-1")
    last_key = [""]

    def keep_key(params: dict[str, Any], **_: Any) -> None:
        last_key[0] = str(params["Key"])

    def refuse_events(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        return error_answer("AccessDenied", 403) if "/events/" in last_key[0] else None

    first.client.meta.events.register("before-parameter-build.s3.PutObject", keep_key)
    first.client.meta.events.register_first("before-call.s3.PutObject", refuse_events)
    assert first.save(loaded, [event("op-1", "only-in-tail")]).version == 2
    client = boto3.client("s3", region_name=REGION)
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/events/")
    assert [e.id for e in s3.events("op-1")] == ["only-in-tail"]  # readers merge the tail
    other = S3Store(BUCKET, PREFIX, sleep=lambda _: None)  # another process
    other.save(other.load("op-1"), [event("op-1", "next")])  # writes the earlier tail out first
    assert [e.id for e in s3.events("op-1")] == ["only-in-tail", "next"]
    keys = [i["Key"] for i in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/events/")["Contents"]]
    assert keys == [f"{PREFIX}/events/op-1/0000000002.json", f"{PREFIX}/events/op-1/0000000003.json"]


def test_s3_missing_object_behind_a_403_is_not_found_and_a_real_denial_is_reported(s3: S3Store) -> None:
    # the policy limits s3:ListBucket to the prefix: a GET of a missing key can answer 403
    inject(s3.client, "GetObject", "AccessDenied", 403, times=1)
    with pytest.raises(OperationNotFound):
        s3.load("op-1")
    inject(s3.client, "GetObject", "AccessDenied", 403, times=1)
    inject(s3.client, "ListObjectsV2", "AccessDenied", 403, times=1)
    with pytest.raises(StoreError, match=r"access denied.*GetObject.*s3:ListBucket is refused too"):
        s3.load("op-1")
    s3.create(operation(), [])
    inject(s3.client, "GetObject", "AccessDenied", 403, times=1)
    with pytest.raises(StoreError, match=r"access denied: S3 GetObject on s3://.*/operations/op-1\.json"):
        s3.load("op-1")


def test_s3_throttling_is_retried_with_backoff_then_reported(s3: S3Store) -> None:
    sleeps: list[float] = []
    store = S3Store(BUCKET, PREFIX, sleep=sleeps.append)
    inject(store.client, "PutObject", "SlowDown", 503, times=3)
    store.create(operation(), [])
    assert store.load("op-1").version == 1
    assert len(sleeps) == 3
    inject(store.client, "GetObject", "SlowDown", 503, times=None)
    with pytest.raises(StoreError, match="kept answering SlowDown after 5 attempts"):
        store.load("op-1")


def test_s3_conditional_request_conflict_409_is_retried(s3: S3Store) -> None:
    s3.create(operation(), [])
    op = s3.load("op-1")
    count = inject(s3.client, "PutObject", "ConditionalRequestConflict", 409, times=2)
    assert s3.save(op, []).version == 2
    assert count[0] == 2
    assert s3.load("op-1").version == 2


def test_s3_a_write_whose_answer_was_lost_is_not_mistaken_for_a_conflict(s3: S3Store) -> None:
    plain = boto3.client("s3", region_name=REGION)
    inject(s3.client, "PutObject", "InternalError", 500, times=1, apply=lambda p: plain.put_object(**p))
    s3.create(operation(), [])  # applied, answered 500, retried: 412, and the object is ours
    op = s3.load("op-1")
    inject(s3.client, "PutObject", "InternalError", 500, times=1, apply=lambda p: plain.put_object(**p))
    assert s3.save(op, []).version == 2
    assert s3.load("op-1").version == 2


def test_s3_init_creates_an_encrypted_versioned_private_bucket_and_leaves_an_existing_one_alone() -> None:
    with mock_aws():
        lines = init_store("s3://rds-maint-init-test/ops")
        assert "created bucket rds-maint-init-test" in lines[0]
        client = boto3.client("s3", region_name=REGION)
        rules = client.get_bucket_encryption(Bucket="rds-maint-init-test")["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert client.get_bucket_versioning(Bucket="rds-maint-init-test")["Status"] == "Enabled"
        block = client.get_public_access_block(Bucket="rds-maint-init-test")["PublicAccessBlockConfiguration"]
        assert all(block.values())
        again = init_store("s3://rds-maint-init-test/ops")
        assert "exists" in again[0]


# -- DynamoDB ---------------------------------------------------------------------------------------


def test_dynamodb_every_write_is_conditional(ddb: DynamoDBStore) -> None:
    puts = record_params(ddb.client, "PutItem")
    transactions = record_params(ddb.client, "TransactWriteItems")
    deletes = record_params(ddb.client, "DeleteItem")
    ddb.create(operation(), [event("op-1", "e0")])
    op = ddb.load("op-1")
    ddb.save(op, [])
    ddb.save(ddb.load("op-1"), [event("op-1", "e1"), event("op-1", "e2")])
    ddb.acquire_lock("c1", REGION, "op-1")
    ddb.release_lock("c1", REGION, "op-1")
    writes = [*puts, *deletes, *(w["Put"] for t in transactions for w in t["TransactItems"])]
    assert len(puts) == 2 and len(transactions) == 2 and len(deletes) == 1
    for write in writes:
        assert write["ConditionExpression"]
    saved = next(p for p in puts if p["Item"]["sk"]["S"] == "OPERATION")
    assert saved["ConditionExpression"].startswith("#version = :expected")
    assert saved["ExpressionAttributeValues"][":expected"] == {"N": "1"}
    assert [e.id for e in ddb.events("op-1")] == ["e0", "e1", "e2"]


def test_dynamodb_large_operations_are_compressed_and_too_large_ones_refused(ddb: DynamoDBStore) -> None:
    ddb.create(operation(), [])
    op = ddb.load("op-1")
    op.context["inventory"] = ["db.r6g.large instance in us-east-1a"] * 8000  # ~300 KB of JSON
    ddb.save(op, [])
    assert ddb.load("op-1").context["inventory"] == op.context["inventory"]
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    )["Item"]
    assert "body_z" in item and "body" not in item
    assert len(zlib.decompress(item["body_z"]["B"])) > 250_000
    huge = ddb.load("op-1")
    huge.context["blob"] = os.urandom(500_000).hex()  # 1 MB that does not compress below 400 KB
    with pytest.raises(StoreError, match="beyond DynamoDB's 400 KB item limit; nothing was written"):
        ddb.save(huge, [event("op-1", "never")])
    assert ddb.load("op-1").version == 2
    assert ddb.events("op-1") == []


def test_dynamodb_throttling_and_transaction_conflicts_are_retried(ddb: DynamoDBStore) -> None:
    sleeps: list[float] = []
    store = DynamoDBStore(TABLE, sleep=sleeps.append)
    inject(store.client, "TransactWriteItems", "ProvisionedThroughputExceededException", 400, times=2)
    store.create(operation(), [event("op-1", "e0")])
    inject(store.client, "GetItem", "ThrottlingException", 400, times=3)
    op = store.load("op-1")
    inject(store.client, "TransactWriteItems", "TransactionConflictException", 400, times=1)
    store.save(op, [event("op-1", "e1")])
    assert len(sleeps) == 6
    assert [e.id for e in store.events("op-1")] == ["e0", "e1"]


def test_dynamodb_a_write_whose_answer_was_lost_is_not_mistaken_for_a_conflict(ddb: DynamoDBStore) -> None:
    plain = boto3.client("dynamodb", region_name=REGION)
    ddb.create(operation(), [])
    op = ddb.load("op-1")
    inject(ddb.client, "PutItem", "InternalServerError", 500, times=1, apply=lambda p: plain.put_item(**p))
    assert ddb.save(op, []).version == 2
    op = ddb.load("op-1")
    apply = lambda p: plain.transact_write_items(**p)  # noqa: E731
    inject(ddb.client, "TransactWriteItems", "InternalServerError", 500, times=1, apply=apply)
    assert ddb.save(op, [event("op-1", "e1")]).version == 3
    assert [e.id for e in ddb.events("op-1")] == ["e1"]


def test_dynamodb_init_creates_the_table_with_its_indexes_and_checks_an_existing_one() -> None:
    with mock_aws():
        lines = init_store("dynamodb://rds-maint-init-test")
        assert "created table rds-maint-init-test" in lines[0]
        table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName="rds-maint-init-test")["Table"]
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"by_cluster", "by_state"}
        assert table["SSEDescription"]["Status"] in ("ENABLED", "ENABLING")
        assert "expected layout" in init_store("dynamodb://rds-maint-init-test")[0]
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="someone-elses",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with pytest.raises(StoreError, match="not an rds-maint store"):
            init_store("dynamodb://someone-elses")


@pytest.mark.parametrize(
    ("kind", "api", "code", "status"),
    [("s3", "PutObject", "AccessDenied", 403), ("ddb", "TransactWriteItems", "AccessDeniedException", 400)],
)
def test_force_unlock_by_a_read_only_operator_says_it_is_an_administrator_action(
    request: pytest.FixtureRequest, kind: str, api: str, code: str, status: int
) -> None:
    from rds_maint.engine import Engine
    from rds_sim.clock import VirtualClock

    store: S3Store | DynamoDBStore = request.getfixturevalue(kind)
    store.create(operation(), [])
    assert store.acquire_lock("c1", REGION, "op-1") == "op-1"
    inject(store.client, api, code, status, times=None)  # the operator policy grants no writes

    def no_rds(region: str) -> Any:
        raise AssertionError("unlock must not call RDS")

    engine = Engine(store, no_rds, VirtualClock(NOW))
    with pytest.raises(StoreError, match=r"access denied.*`rds-maint init` and `unlock --force` are administrator"):
        engine.force_unlock("c1", REGION, "runbook 7")
    assert store.lock_holder("c1", REGION) == "op-1", "a refused unlock leaves the lock where it was"


# -- corrupt records, on every store, through the CLI and the Lambda -----------------------------------

CORRUPTIONS = ("invalid_utf8", "not_an_object", "schema_not_a_number")
CORRUPTION_TEXT = {
    "invalid_utf8": "not valid UTF-8",
    "not_an_object": "not an object",
    "schema_not_a_number": "schema_version",
}


def _corrupt_operation(store: StateStore, kind: str) -> str:
    """Damage op-1 behind the store's back, as a hand edit or another tool would; returns where it is."""
    bad_bytes = b'{"id": "op-1", "note": "\xff\xfe"}'
    if isinstance(store, FileStore):
        path = Path(store.root) / "op-1" / "operation.json"
        data = json.loads(path.read_text())
        data["schema_version"] = "two"
        raw = {"invalid_utf8": bad_bytes, "not_an_object": b"[1, 2]", "schema_not_a_number": json.dumps(data).encode()}
        path.write_bytes(raw[kind])
        return str(path)
    if isinstance(store, S3Store):
        key = f"{PREFIX}/operations/op-1.json"
        client = boto3.client("s3", region_name=REGION)
        document = json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        document["schema_version"] = "two"
        raw = {
            "invalid_utf8": bad_bytes,
            "not_an_object": b"[1, 2]",
            "schema_not_a_number": json.dumps(document).encode(),
        }
        client.put_object(Bucket=BUCKET, Key=key, Body=raw[kind])
        return f"s3://{BUCKET}/{key}"
    assert isinstance(store, DynamoDBStore)
    table = boto3.client("dynamodb", region_name=REGION)
    item_key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    item = table.get_item(TableName=TABLE, Key=item_key)["Item"]
    if kind == "invalid_utf8":  # a string attribute is always UTF-8: the compressed body is where it can break
        item.pop("body", None)
        item["body_z"] = {"B": zlib.compress(bad_bytes)}
    elif kind == "not_an_object":
        item["body"] = {"S": "[1, 2]"}
    else:
        item["schema_version"] = {"S": "two"}
    table.put_item(TableName=TABLE, Item=item)
    return f"dynamodb://{TABLE} item OP#op-1"


def _corrupt_lock(store: StateStore) -> str:
    """A lock record that is not one: garbage where the holder should be."""
    if isinstance(store, FileStore):
        path = Path(store.root) / ".locks" / REGION / "c1.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\xffgarbage")
        return str(path)
    if isinstance(store, S3Store):
        key = f"{PREFIX}/locks/{REGION}/c1.json"
        boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b'{"operation_id": 42}')
        return f"s3://{BUCKET}/{key}"
    item = {"pk": {"S": f"LOCK#{REGION}#c1"}, "sk": {"S": "LOCK"}, "holder": {"N": "42"}}
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item=item)
    return f"dynamodb://{TABLE} item LOCK#{REGION}#c1"


def _cli(store: StateStore, *args: str) -> Any:
    from click.testing import CliRunner

    from rds_maint.cli import main

    return CliRunner().invoke(main, [*args, "--store", store.url, "--region", REGION])


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corrupt_operation_record_is_named_with_what_is_wrong_and_left_as_it_is(
    store: StateStore, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rds_maint.lambda_handler import handler

    store.create(operation(), [event("op-1", "e0")])
    where = _corrupt_operation(store, kind)
    before = _stored_bytes(store)
    with pytest.raises(StoreError, match=CORRUPTION_TEXT[kind]) as caught:
        store.load("op-1")
    assert where in str(caught.value)

    shown = _cli(store, "status", "op-1")
    assert shown.exit_code == 1, shown.output
    assert where in shown.output and CORRUPTION_TEXT[kind] in shown.output and "Traceback" not in shown.output
    resumed = _cli(store, "resume", "op-1", "--action", "continue")
    assert resumed.exit_code == 1 and where in resumed.output

    monkeypatch.setenv("RDS_MAINT_STORE", store.url)
    monkeypatch.setenv("AWS_REGION", REGION)
    for action in ("status", "step", "resume"):
        answer = handler({"action": action, "operation_id": "op-1", "params": {"action": "continue"}})
        assert answer["failed"] is True and where in str(answer["error"]), answer
    assert _stored_bytes(store) == before, "nothing was written"


def test_a_garbage_lock_record_is_named_and_never_taken_as_free(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rds_maint.lambda_handler import handler

    where = _corrupt_lock(store)
    with pytest.raises(StoreError, match="lock record") as caught:
        store.lock_holder("c1", REGION)
    assert where in str(caught.value)
    with pytest.raises(StoreError, match="lock record"):
        store.acquire_lock("c1", REGION, "op-1")
    unlocked = _cli(store, "unlock", "c1")
    assert unlocked.exit_code == 1 and where in unlocked.output and "Traceback" not in unlocked.output

    store.create(operation(), [])
    monkeypatch.setenv("RDS_MAINT_STORE", store.url)
    answer = handler({"action": "start", "operation_id": "op-1"})
    assert answer["failed"] is True and where in str(answer["error"]), answer
    assert store.load("op-1").state is OperationState.CREATED, "nothing was written"
    with pytest.raises(StoreError):
        store.lock_holder("c1", REGION)  # still the garbage, left as it was


def _stored_bytes(store: StateStore) -> bytes:
    if isinstance(store, FileStore):
        return (Path(store.root) / "op-1" / "operation.json").read_bytes()
    if isinstance(store, S3Store):
        body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=f"{PREFIX}/operations/op-1.json")
        return bytes(body["Body"].read())
    key = {"pk": {"S": "OP#op-1"}, "sk": {"S": "OPERATION"}}
    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=TABLE, Key=key)["Item"]
    return json.dumps(item, default=repr, sort_keys=True).encode()
