"""The S3 store's summaries and follow cursor (moto): what `list` and `status --watch` cost, and that no crash
or lost race makes a listing report a state the operation is not in.

Requests are counted and faults injected with botocore hooks on the store's own client, so the store code runs
unchanged. A "crash" is an exception no store code catches, raised instead of a request: the process dies there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from structlog.testing import capture_logs

from rds_maint.errors import BadInput, Conflict, StoreError
from rds_maint.model import Event, Operation, OperationState, OperationType, Step
from rds_maint.store import S3Store, init_store
from rds_maint.store import s3 as s3_module
from rds_maint.store.s3_objects import operation_body
from rds_maint.store.summary import summary_of

REGION = "us-east-1"
BUCKET, PREFIX = "rds-maint-summaries-test", "state"
URL = f"s3://{BUCKET}/{PREFIX}"
NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
S = OperationState


class Crash(Exception):
    """The process dies here: nothing in the store catches it."""


def operation(op_id: str, cluster: str = "c1", minutes: int = 0, state: OperationState = S.CREATED) -> Operation:
    at = NOW + timedelta(minutes=minutes)
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        cluster_id=cluster,
        region=REGION,
        state=state,
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=[Step(id="s01", name="check_cluster", action="check_cluster", description="check")],
        created_at=at,
        updated_at=at,
    )


def on_instance(op_id: str, name: str, minutes: int = 0) -> Operation:
    return operation(op_id, name, minutes).model_copy(
        update={"cluster_id": None, "instance_id": name, "target_type": "db_instance"}
    )


def event(op_id: str, name: str) -> Event:
    return Event(id=name, operation_id=op_id, type="note", message=name, timestamp=NOW)


def moved(store: S3Store, op_id: str, state: OperationState, events: list[Event] | None = None) -> Operation:
    op = store.load(op_id)
    op.state = state
    return store.save(op, events or [])


def new_store() -> S3Store:
    """Another process: nothing learnt by an earlier store object is reused."""
    return S3Store(BUCKET, PREFIX, sleep=lambda _: None)


def plain() -> Any:
    return boto3.client("s3", region_name=REGION)


def keys_under(part: str) -> list[str]:
    listing = plain().list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{part}")
    return sorted(str(item["Key"]) for item in listing.get("Contents", []))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def store(aws: None) -> S3Store:
    init_store(URL)
    return new_store()


# -- hooks on a store's client ----------------------------------------------------------------------


@dataclass
class Requests:
    """Every request a client sent: (API, the key or prefix it named, its parameters)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def count(self, api: str | None = None) -> int:
        return sum(1 for name, _, _ in self.calls if api is None or name == api)

    def named(self, api: str) -> list[str]:
        return [where for name, where, _ in self.calls if name == api]


def record(store: S3Store) -> Requests:
    seen = Requests()

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.calls.append((model.name, str(params.get("Key") or params.get("Prefix") or ""), dict(params)))

    store.client.meta.events.register("before-parameter-build.s3", keep)
    return seen


def _answer(code: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    class Body:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield b""

    parsed = {
        "Error": {"Code": code, "Message": f"injected {code}"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return AWSResponse("https://injected.invalid/", status, HTTPHeaders(), Body()), parsed


def fail(store: S3Store, api: str, key_part: str, *, code: str = "AccessDenied", status: int = 403) -> list[str]:
    """Answer every `api` request on a key containing `key_part` with an error, or crash (code "crash")."""
    last: dict[str, str] = {}
    hit: list[str] = []

    def stash(params: dict[str, Any], **_: Any) -> None:
        last["key"] = str(params.get("Key", ""))

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if key_part not in last["key"]:
            return None
        hit.append(last["key"])
        if code == "crash":
            raise Crash(last["key"])
        return _answer(code, status)

    store.client.meta.events.register(f"before-parameter-build.s3.{api}", stash)
    store.client.meta.events.register_first(f"before-call.s3.{api}", answer)
    return hit


def states(store: S3Store, **filters: Any) -> dict[str, str]:
    return {s.id: s.state.value for s in store.summaries(**filters)}


# -- what a listing costs ---------------------------------------------------------------------------


def _seed(others: int) -> None:
    """c1's three operations (one per kind of state) and `others` on 20 other clusters, in mixed states."""
    writer = new_store()
    writer.create(operation("c1-done", minutes=1, state=S.COMPLETED), [])
    writer.create(operation("c1-paused", minutes=2, state=S.PAUSED), [])
    writer.create(operation("c1-new", minutes=3), [])
    writer.create(on_instance("i-c1", "c1", minutes=4), [])
    mix = [S.COMPLETED, S.COMPLETED, S.FAILED, S.PAUSED, S.CREATED, S.ROLLED_BACK]
    for n in range(others):
        writer.create(operation(f"other-{n:04d}", f"other-{n % 20}", 10 + n, mix[n % len(mix)]), [])


def _cost_of(others: int, **filters: Any) -> tuple[int, list[str]]:
    with mock_aws():
        init_store(URL)
        _seed(others)
        reader = new_store()
        seen = record(reader)
        ids = [s.id for s in reader.summaries(**filters)]
        return seen.count(), ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"target_id": "c1", "kind": "cluster"}, ["c1-done", "c1-paused", "c1-new"]),
        ({"target_id": "c1"}, ["c1-done", "c1-paused", "c1-new", "i-c1"]),
        ({"target_id": "c1", "kind": "instance"}, ["i-c1"]),
        ({"target_id": "c1", "kind": "cluster", "state": "completed"}, ["c1-done"]),
    ],
)
def test_listing_one_target_costs_the_same_whatever_other_targets_hold(
    filters: dict[str, Any], expected: list[str]
) -> None:
    few, few_ids = _cost_of(5, **filters)
    many, many_ids = _cost_of(200, **filters)
    assert few_ids == many_ids == expected
    assert few == many
    # one LIST per state (and kind) and one GET per operation of c1, plus the layout marker
    assert many <= 1 + 14 + len(expected)


def test_listing_one_target_lists_only_its_prefixes_and_reads_no_other_operation(store: S3Store) -> None:
    store.create(operation("mine", "c1"), [])
    store.create(operation("theirs", "c2", state=S.COMPLETED), [])
    store.create(operation("theirs-2", "c2"), [])
    reader = new_store()
    seen = record(reader)
    assert [s.id for s in reader.summaries("c1", kind="cluster")] == ["mine"]
    prefixes = seen.named("ListObjectsV2")
    assert sorted(prefixes) == sorted(f"{PREFIX}/summaries/{state.value}/c1/" for state in S)
    assert all("theirs" not in key for key in seen.named("GetObject"))


def test_listing_a_non_final_state_reads_nothing_of_operations_in_other_states(store: S3Store) -> None:
    for n, state in enumerate([S.PAUSED, S.RUNNING, S.COMPLETED, S.FAILED, S.CREATED, S.PAUSED]):
        store.create(operation(f"op-{n}-{state.value}", f"c{n}", n, state), [])
    reader = new_store()
    seen = record(reader)
    assert [s.id for s in reader.summaries(state="paused")] == ["op-0-paused", "op-5-paused"]
    assert seen.named("ListObjectsV2") == [f"{PREFIX}/summaries/paused/"]
    read = seen.named("GetObject")
    assert read == [
        f"{PREFIX}/summaries/_layout.json",
        f"{PREFIX}/operations/op-0-paused.json",
        f"{PREFIX}/operations/op-5-paused.json",
    ]


def test_listing_a_final_state_trusts_its_summaries_and_checks_only_active_operations(store: S3Store) -> None:
    store.create(operation("done", "c1", 1, S.COMPLETED), [])
    store.create(operation("done-too", "c2", 2, S.COMPLETED), [])
    store.create(operation("failed", "c3", 3, S.FAILED), [])
    store.create(operation("active", "c4", 4, S.RUNNING), [])
    reader = new_store()
    seen = record(reader)
    assert [s.id for s in reader.summaries(state="completed")] == ["done", "done-too"]
    read = seen.named("GetObject")
    assert f"{PREFIX}/summaries/completed/c1/done.json" in read
    assert not any("operations/done" in key or "failed" in key for key in read)
    assert f"{PREFIX}/summaries/failed/" not in seen.named("ListObjectsV2")


def test_listing_everything_reads_summaries_and_only_active_operations(store: S3Store) -> None:
    store.create(operation("done", "c1", 1, S.COMPLETED), [])
    store.create(operation("new", "c2", 2), [])
    reader = new_store()
    seen = record(reader)
    assert [(s.id, s.state.value) for s in reader.summaries()] == [("done", "completed"), ("new", "created")]
    assert seen.named("ListObjectsV2") == [f"{PREFIX}/summaries/"]  # the marker comes with the listing
    assert seen.named("GetObject") == [f"{PREFIX}/summaries/completed/c1/done.json", f"{PREFIX}/operations/new.json"]


def test_a_long_listing_reads_each_summary_once_and_keeps_the_order(store: S3Store) -> None:
    for n in range(40):  # more than the store reads at once
        store.create(operation(f"op-{n:02d}", f"c{n % 7}", 40 - n, S.COMPLETED if n % 3 else S.PAUSED), [])
    reader = new_store()
    seen = record(reader)
    found = reader.summaries()
    assert [s.id for s in found] == [f"op-{n:02d}" for n in reversed(range(40))]  # oldest first
    assert sorted(seen.named("GetObject")) == sorted(set(seen.named("GetObject"))) and seen.count("GetObject") == 40
    assert {s.id: s.state.value for s in found} == {
        f"op-{n:02d}": "completed" if n % 3 else "paused" for n in range(40)
    }


def test_a_summary_follows_the_operation_through_its_states(store: S3Store) -> None:
    store.create(operation("op-1"), [])
    for state in (S.RUNNING, S.PAUSED, S.RUNNING, S.ROLLING_BACK, S.ROLLED_BACK):
        saved = moved(store, "op-1", state)
        assert keys_under("summaries/") == sorted(
            [f"{PREFIX}/summaries/_layout.json", f"{PREFIX}/summaries/{state.value}/c1/op-1.json"]
        )
        reader = new_store()
        assert reader.summaries(state=state.value) == [summary_of(saved)]
        assert reader.summaries("c1", kind="cluster") == [summary_of(saved)]
        for other in S:
            if other is not state:
                assert reader.summaries(state=other.value) == []


def test_every_summary_write_is_conditional_and_encrypted_and_deletes_touch_summaries_only(store: S3Store) -> None:
    seen = record(store)
    store.create(operation("op-1"), [event("op-1", "e0")])
    moved(store, "op-1", S.RUNNING)
    store.save(store.load("op-1"), [event("op-1", "e1")])  # same state: its index entry stays as it is
    moved(store, "op-1", S.PAUSED)
    moved(new_store(), "op-1", S.RUNNING)  # a process that did not write the summary it replaces
    moved(store, "op-1", S.COMPLETED)
    puts = [params for name, _, params in seen.calls if name == "PutObject"]
    assert puts and all(p["ServerSideEncryption"] == "AES256" for p in puts)
    assert all(("IfMatch" in p) != ("IfNoneMatch" in p) for p in puts)
    summary_puts = [p for p in puts if "/summaries/" in p["Key"]]
    # one per change of state (the other process's save is not recorded here); none for the same-state save
    assert len(summary_puts) == 4
    deleted = seen.named("DeleteObject")
    assert deleted and all(key.startswith(f"{PREFIX}/summaries/") for key in deleted)
    assert keys_under("summaries/") == [
        f"{PREFIX}/summaries/_layout.json",
        f"{PREFIX}/summaries/completed/c1/op-1.json",
    ]
    for key in keys_under("summaries/"):
        assert plain().head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] == "AES256"


# -- crash windows and lost races -------------------------------------------------------------------


def test_a_failed_summary_write_stops_the_save_before_the_operation_changes(store: S3Store) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    fail(store, "PutObject", "/summaries/paused/")
    with pytest.raises(StoreError, match="access denied"):
        moved(store, "op-1", S.PAUSED)
    reader = new_store()
    assert reader.load("op-1").state is S.RUNNING
    assert states(reader) == {"op-1": "running"}
    assert states(reader, state="paused") == {}


def test_a_crash_between_the_summary_and_the_operation_write_never_lists_the_state_not_reached(
    store: S3Store,
) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    fail(store, "PutObject", "/operations/", code="crash")
    with pytest.raises(Crash):
        moved(store, "op-1", S.PAUSED)
    assert f"{PREFIX}/summaries/paused/c1/op-1.json" in keys_under("summaries/")  # ahead of its operation
    reader = new_store()
    assert states(reader, state="paused") == {}
    assert states(reader, state="running") == {"op-1": "running"}
    assert states(reader, target_id="c1", kind="cluster") == {"op-1": "running"}
    assert states(reader) == {"op-1": "running"}
    # the engine tries again from a new process: the summary it finds is taken over, the old one goes
    moved(new_store(), "op-1", S.PAUSED)
    assert keys_under("summaries/paused/") == [f"{PREFIX}/summaries/paused/c1/op-1.json"]
    assert keys_under("summaries/running/") == []
    assert states(new_store(), state="paused") == {"op-1": "paused"}


@pytest.mark.parametrize("how", ["crash", "AccessDenied"])
def test_a_final_state_whose_summary_was_not_written_is_still_listed_as_final(store: S3Store, how: str) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    fail(store, "PutObject", "/summaries/completed/", code=how)
    if how == "crash":
        with pytest.raises(Crash):
            moved(store, "op-1", S.COMPLETED)
    else:
        assert moved(store, "op-1", S.COMPLETED).state is S.COMPLETED  # saved: the summary is derived
    assert keys_under("summaries/completed/") == []
    assert keys_under("summaries/running/") == [f"{PREFIX}/summaries/running/c1/op-1.json"]  # kept, not deleted
    reader = new_store()
    assert states(reader, state="completed") == {"op-1": "completed"}
    assert states(reader, state="running") == {}
    assert states(reader, target_id="c1", kind="cluster", state="completed") == {"op-1": "completed"}
    assert states(reader) == {"op-1": "completed"}


def test_a_failed_delete_leaves_a_summary_that_is_checked_not_trusted(store: S3Store) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    hit = fail(store, "DeleteObject", "/summaries/")
    moved(store, "op-1", S.PAUSED)
    assert hit == [f"{PREFIX}/summaries/running/c1/op-1.json"]
    assert len(keys_under("summaries/")) == 3  # marker, running (left), paused
    reader = new_store()
    assert states(reader) == {"op-1": "paused"}
    assert states(reader, state="running") == {}
    assert states(reader, state="paused") == {"op-1": "paused"}
    hit.clear()
    moved(store, "op-1", S.COMPLETED)  # entering a final state: every non-final key is tried
    assert len(hit) == 4
    assert states(new_store(), state="running") == {}
    assert states(new_store(), state="completed") == {"op-1": "completed"}


@pytest.mark.parametrize("winner_state", [S.COMPLETED, S.PAUSED])
def test_a_lost_race_leaves_no_summary_of_the_version_that_was_never_written(
    store: S3Store, winner_state: OperationState
) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    winner, loser = new_store(), new_store()
    mine, theirs = winner.load("op-1"), loser.load("op-1")
    mine.state = winner_state
    winner.save(mine, [])
    theirs.state = S.ROLLING_BACK
    with pytest.raises(Conflict):
        loser.save(theirs, [event("op-1", "lost")])
    assert keys_under("summaries/rolling_back/") == []
    reader = new_store()
    assert states(reader) == {"op-1": winner_state.value}
    assert states(reader, state="rolling_back") == {}
    assert states(reader, state=winner_state.value) == {"op-1": winner_state.value}


def test_a_lost_race_whose_summary_could_not_be_taken_back_is_still_not_trusted(store: S3Store) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    winner, loser = new_store(), new_store()
    mine, theirs = winner.load("op-1"), loser.load("op-1")
    mine.state = S.COMPLETED
    winner.save(mine, [])
    fail(loser, "DeleteObject", "/summaries/")  # an operator's role: no s3:DeleteObject
    theirs.state = S.PAUSED
    with pytest.raises(Conflict):
        loser.save(theirs, [])
    assert keys_under("summaries/paused/") == [f"{PREFIX}/summaries/paused/c1/op-1.json"]
    reader = new_store()
    assert states(reader, state="paused") == {}
    assert states(reader) == {"op-1": "completed"}
    assert states(reader, target_id="c1", kind="cluster") == {"op-1": "completed"}


def test_a_lost_race_never_takes_back_the_summary_of_a_writer_entering_that_state(store: S3Store) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    loser = new_store()
    theirs = loser.load("op-1")
    moved(new_store(), "op-1", S.PAUSED)  # the winner of version 2
    entering = new_store()  # loaded version 2; has put its summary, not yet its operation
    next_one = entering.load("op-1")
    next_one.state = S.ROLLING_BACK
    key = f"{PREFIX}/summaries/rolling_back/c1/op-1.json"
    body = summary_of(next_one.model_copy(update={"version": 3})).to_json().encode()
    plain().put_object(Bucket=BUCKET, Key=key, Body=body, ServerSideEncryption="AES256")
    theirs.state = S.ROLLING_BACK
    with pytest.raises(Conflict):
        loser.save(theirs, [])
    assert plain().get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    entering.save(next_one, [])
    assert states(new_store(), state="rolling_back") == {"op-1": "rolling_back"}
    assert states(new_store(), target_id="c1", kind="cluster") == {"op-1": "rolling_back"}


def test_a_duplicate_create_overwrites_no_summary(store: S3Store) -> None:
    store.create(operation("op-1", "c1", state=S.COMPLETED), [])
    before = keys_under("summaries/")
    with pytest.raises(BadInput, match="already exists"):
        new_store().create(operation("op-1", "c2"), [])
    assert keys_under("summaries/") == before
    assert states(new_store()) == {"op-1": "completed"}


def test_a_damaged_final_summary_is_named_and_left_as_it_is(store: S3Store) -> None:
    store.create(operation("op-1", state=S.COMPLETED), [])
    key = f"{PREFIX}/summaries/completed/c1/op-1.json"
    plain().put_object(Bucket=BUCKET, Key=key, Body=b"{not json")
    with pytest.raises(StoreError, match=rf"s3://{BUCKET}/{key} is not a valid summary"):
        new_store().summaries()
    assert plain().get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"{not json"


def test_bad_filters_are_refused_before_anything_is_read(store: S3Store) -> None:
    seen = record(store)
    with pytest.raises(BadInput, match="invalid state"):
        store.summaries(state="sleeping")
    with pytest.raises(BadInput, match="invalid cluster identifier"):
        store.summaries("c1/../c2", kind="cluster")
    with pytest.raises(BadInput, match="two hyphens"):
        store.summaries("instance--c1", kind="cluster")
    assert seen.calls == []


# -- follow -----------------------------------------------------------------------------------------


def test_follow_after_one_save_is_one_get(store: S3Store) -> None:
    store.create(operation("op-1"), [event("op-1", "e0")])
    watcher = new_store()
    seen = record(watcher)
    followed = watcher.follow("op-1")
    assert [e.id for e in followed.events] == ["e0"]
    for n in range(1, 6):
        store.save(store.load("op-1"), [event("op-1", f"e{n}")] if n != 3 else [])
        seen.calls.clear()
        followed = watcher.follow("op-1", followed.cursor)
        assert [e.id for e in followed.events] == ([f"e{n}"] if n != 3 else [])
        assert seen.named("GetObject") == [f"{PREFIX}/operations/op-1.json"] and seen.count() == 1
    seen.calls.clear()
    assert watcher.follow("op-1", followed.cursor).events == []
    assert seen.count() == 1


def test_follow_behind_reads_only_the_batches_after_the_cursor_each_event_once(store: S3Store) -> None:
    store.create(operation("op-1"), [event("op-1", "e0")])
    for n in range(1, 8):
        store.save(store.load("op-1"), [event("op-1", f"e{n}a"), event("op-1", f"e{n}b")] if n % 2 else [])
    watcher = new_store()
    seen = record(watcher)
    followed = watcher.follow("op-1", "3")  # versions 4..8 are new: events of 4, 6, 8 (saves 3, 5, 7)
    assert [e.id for e in followed.events] == ["e3a", "e3b", "e5a", "e5b", "e7a", "e7b"]
    assert followed.cursor == "8" and followed.operation.version == 8
    (listing,) = [params for name, _, params in seen.calls if name == "ListObjectsV2"]
    assert listing["StartAfter"] == f"{PREFIX}/events/op-1/0000000003.json"
    batches = [key for key in seen.named("GetObject") if "/events/" in key]
    assert batches == [f"{PREFIX}/events/op-1/0000000004.json", f"{PREFIX}/events/op-1/0000000006.json"]
    everything = watcher.follow("op-1")
    assert [e.id for e in everything.events] == ["e0"] + [f"e{n}{x}" for n in (1, 3, 5, 7) for x in "ab"]
    assert [e.id for e in watcher.events("op-1")] == [e.id for e in everything.events]


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "", "99", "00000000001"])
def test_follow_refuses_a_cursor_it_did_not_give(store: S3Store, cursor: str) -> None:
    store.create(operation("op-1"), [])
    with pytest.raises(BadInput, match="cursor"):
        store.follow("op-1", cursor)


# -- buckets from before summaries ------------------------------------------------------------------


def _old_bucket(ops: list[Operation]) -> None:
    """A bucket an older rds-maint wrote: operation objects, no summaries, no marker."""
    client = plain()
    client.create_bucket(Bucket=BUCKET)
    for op in ops:
        body = operation_body(op.model_copy(update={"version": 3}), [])
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/operations/{op.id}.json", Body=body)


def test_an_old_bucket_lists_by_whole_reads_and_says_once_to_run_init(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_module, "_warned_unmarked", set())
    _old_bucket([operation("old-1", "c1", 1, S.COMPLETED), operation("old-2", "c2", 2, S.PAUSED)])
    reader = new_store()
    with capture_logs() as logs:
        assert states(reader) == {"old-1": "completed", "old-2": "paused"}
        assert states(reader, target_id="c1", kind="cluster") == {"old-1": "completed"}
        assert states(reader, state="paused") == {"old-2": "paused"}
    warnings = [entry for entry in logs if entry["event"] == "s3_store_without_summaries"]
    assert len(warnings) == 1 and f"rds-maint init --store {URL}" in warnings[0]["hint"]
    assert keys_under("summaries/") == []  # a read never writes summaries of a store that has operations


def test_init_on_an_old_bucket_writes_the_missing_summaries_and_the_marker(aws: None) -> None:
    _old_bucket([operation("old-1", "c1", 1, S.COMPLETED), operation("old-2", "c1", 2, S.PAUSED)])
    writer = new_store()
    writer.create(operation("new-1", "c2", 3), [])  # a writer of this rds-maint before init: has its summary
    lines = init_store(URL)
    assert "exists; left its settings as they are" in lines[0]
    assert any("summaries: 2 written, 0 stale removed, for 3 operation(s)" in line for line in lines)
    assert keys_under("summaries/") == sorted(
        [
            f"{PREFIX}/summaries/_layout.json",
            f"{PREFIX}/summaries/completed/c1/old-1.json",
            f"{PREFIX}/summaries/paused/c1/old-2.json",
            f"{PREFIX}/summaries/created/c2/new-1.json",
        ]
    )
    reader = new_store()
    seen = record(reader)
    assert states(reader, target_id="c1", kind="cluster") == {"old-1": "completed", "old-2": "paused"}
    assert f"{PREFIX}/operations/old-1.json" not in seen.named("GetObject")  # its summary is trusted
    assert f"{PREFIX}/operations/" not in seen.named("ListObjectsV2")
    again = init_store(URL)
    assert any("summaries: 0 written" in line for line in again)


def test_init_removes_keys_no_writer_needs_and_leaves_the_rest(store: S3Store) -> None:
    store.create(operation("op-1", state=S.RUNNING), [])
    fail(store, "DeleteObject", "/summaries/")
    moved(store, "op-1", S.COMPLETED)  # its running key could not be deleted
    orphan = f"{PREFIX}/summaries/created/c9/never-written.json"  # a create that died before its operation
    plain().put_object(Bucket=BUCKET, Key=orphan, Body=summary_of(operation("never-written", "c9")).to_json())
    lines = init_store(URL)
    assert any("0 written, 1 stale removed" in line for line in lines)  # the orphan is too young to judge
    assert keys_under("summaries/running/") == []
    assert orphan in keys_under("summaries/created/")


def test_init_on_a_new_bucket_marks_it_and_an_empty_unmarked_store_is_marked_by_its_first_listing(
    aws: None,
) -> None:
    lines = init_store(URL)
    assert "created bucket" in lines[0]
    assert keys_under("summaries/") == [f"{PREFIX}/summaries/_layout.json"]
    marker = json.loads(plain().get_object(Bucket=BUCKET, Key=f"{PREFIX}/summaries/_layout.json")["Body"].read())
    assert marker["summaries_layout"] == 1
    # a bucket made outside `init` (the stack's): empty, so the first listing marks it
    plain().create_bucket(Bucket="rds-maint-stack-bucket")
    stack = S3Store("rds-maint-stack-bucket", PREFIX, sleep=lambda _: None)
    assert stack.summaries() == []
    listing = plain().list_objects_v2(Bucket="rds-maint-stack-bucket", Prefix=f"{PREFIX}/summaries/")
    assert [item["Key"] for item in listing["Contents"]] == [f"{PREFIX}/summaries/_layout.json"]
    stack.create(operation("op-1"), [])
    reader = S3Store("rds-maint-stack-bucket", PREFIX, sleep=lambda _: None)
    seen = record(reader)
    assert [s.id for s in reader.summaries("c1", kind="cluster")] == ["op-1"]
    assert f"{PREFIX}/operations/" not in seen.named("ListObjectsV2")


def test_a_marker_from_a_newer_layout_is_refused(store: S3Store) -> None:
    key = f"{PREFIX}/summaries/_layout.json"
    plain().put_object(Bucket=BUCKET, Key=key, Body=json.dumps({"summaries_layout": 9}).encode())
    with pytest.raises(StoreError, match="newer rds-maint"):
        new_store().summaries("c1", kind="cluster")
