"""The file store's summaries (what `list` reads) and its byte-offset `follow` (what `status --watch` reads).

A summary.json sits beside each operation.json; a writer that dies between the two renames leaves one new
and one old, and these tests kill it at each point to show that `summaries` still answers the operation's
state as `load` does. `follow` is shown returning each event once, whatever the saves in between, and
leaving a half-written last line for the next call.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rds_maint.errors import BadInput, OperationNotFound, StoreError
from rds_maint.model import Event, Operation, OperationState, OperationType, Step, StepState
from rds_maint.store import FileStore, init_store
from rds_maint.store.summary import OperationSummary, summary_of

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
REGION = "us-east-1"


def operation(op_id: str = "op-1", cluster: str = "c1", minutes: int = 0) -> Operation:
    at = NOW + timedelta(minutes=minutes)
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        cluster_id=cluster,
        region=REGION,
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=[
            Step(id="s01", name="check_cluster", action="check_cluster", description="check"),
            Step(id="s02", name="modify_reader", action="modify_instance", description="modify"),
        ],
        created_at=at,
        updated_at=at,
    )


def event(op_id: str, name: str) -> Event:
    return Event(id=name, operation_id=op_id, type="note", message=name, timestamp=NOW)


def moved(op: Operation, state: OperationState, minutes: int = 1) -> Operation:
    """The operation as the engine would save it in `state` (times and current step moved along)."""
    changed = op.model_copy(deep=True)
    changed.state = state
    changed.updated_at = op.updated_at + timedelta(minutes=minutes)
    if state is not OperationState.CREATED and changed.started_at is None:
        changed.started_at = changed.updated_at
    changed.completed_at = changed.updated_at if state.is_final else None
    changed.current_step_index = 1 if state is not OperationState.CREATED else 0
    changed.steps[changed.current_step_index].state = StepState.COMPLETED if state.is_final else StepState.WAITING
    return changed


def summary_file(root: Path, op_id: str = "op-1") -> Path:
    return root / op_id / "summary.json"


class Crash(Exception):
    """The process died here: nothing after this point of the save ran."""


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Make the n-th atomic file write from now on die before its rename (the file keeps its old bytes)."""

    def arm(n: int) -> None:
        real = FileStore._write_atomic
        count = [0]

        def write(self: FileStore, path: Path, text: str) -> None:
            count[0] += 1
            if count[0] == n:
                raise Crash(f"died before writing {path.name}")
            real(self, path, text)

        monkeypatch.setattr(FileStore, "_write_atomic", write)

    return arm


_OPENS: list[list[str]] = []  # the lists the one audit hook fills while a test that asks for `opened` runs


def _audit(name: str, args: tuple[Any, ...]) -> None:
    if _OPENS and name == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        path = Path(os.fsdecode(args[0]))
        _OPENS[-1].append(f"{path.parent.name}/{path.name}")


sys.addaudithook(_audit)  # audit hooks cannot be removed: this one records only inside `opened`


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """The names (parent/file) of every file this process opens (`open` and `os.open` alike)."""
    seen: list[str] = []
    _OPENS.append(seen)
    try:
        yield seen
    finally:
        _OPENS.remove(seen)


# -- the summary follows every save ------------------------------------------------------------------


def test_the_summary_is_written_on_create_and_follows_every_save(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.create(operation(), [])
    assert summary_file(tmp_path).read_text() == summary_of(stored).to_json()
    for state in (OperationState.RUNNING, OperationState.PAUSED, OperationState.RUNNING, OperationState.COMPLETED):
        stored = store.save(moved(stored, state), [event("op-1", f"to-{state.value}-{stored.version}")])
        assert summary_file(tmp_path).read_text() == summary_of(stored).to_json()
        (summary,) = store.summaries()
        assert summary == summary_of(stored)
        assert (summary.state, summary.version, summary.step_name) == (state, stored.version, "modify_reader")
    # a save after the end (an operator's note on a finished operation) rewrites it too
    stored = store.save(stored, [event("op-1", "note")])
    assert store.summaries() == [summary_of(stored)] and stored.version == 6
    assert not [p.name for p in (tmp_path / "op-1").iterdir() if p.name.startswith(".tmp-")]


def test_summaries_filter_by_target_kind_and_state_oldest_first(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation("op-b", "c1", minutes=1), [])
    store.create(operation("op-a", "c1", minutes=1), [])  # same time: by id
    store.create(operation("op-c", "c1", minutes=0), [])
    on_instance = operation("op-d", "c1", minutes=2).model_copy(
        update={"cluster_id": None, "instance_id": "c1", "target_type": "db_instance"}
    )
    store.create(on_instance, [])
    store.save(moved(store.load("op-a"), OperationState.COMPLETED), [])
    assert [s.id for s in store.summaries()] == ["op-c", "op-a", "op-b", "op-d"]
    assert [s.id for s in store.summaries("c1", kind="instance")] == ["op-d"]
    assert [s.id for s in store.summaries("c1", kind="cluster", state="created")] == ["op-c", "op-b"]
    assert [s.id for s in store.summaries(state="completed")] == ["op-a"]
    assert store.summaries("c2") == [] and store.summaries(state="no-such-state") == []
    with pytest.raises(BadInput, match="invalid target kind 'database'"):
        store.summaries(kind="database")  # type: ignore[arg-type]
    assert FileStore(tmp_path / "never-created").summaries() == []


def test_summaries_read_only_summary_files_except_for_operations_still_active(
    tmp_path: Path, opened: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileStore(tmp_path)
    for n in range(5):
        created = store.create(operation(f"op-{n}", f"c{n}", minutes=n), [])
        store.save(moved(created, OperationState.COMPLETED if n else OperationState.RUNNING), [])
    (tmp_path / "stray-file").write_text("not an operation")
    (tmp_path / "empty-dir").mkdir()  # a create that died before writing anything
    monkeypatch.setattr(FileStore, "list_operations", None)
    monkeypatch.setattr(FileStore, "events", None)
    opened.clear()
    assert [s.state.value for s in store.summaries()] == ["running"] + ["completed"] * 4
    opened = [name for name in opened if name.split("/")[0] in {"empty-dir", "stray-file"} or name[:3] == "op-"]
    summaries = sorted(name for name in opened if name.endswith("summary.json"))
    assert summaries == ["empty-dir/summary.json"] + [f"op-{n}/summary.json" for n in range(5)]
    # the one active operation is re-derived from its record; a finished one never
    assert sorted(name for name in opened if name.endswith("operation.json")) == [
        "empty-dir/operation.json",
        "op-0/operation.json",
    ]


# -- a crash between the two writes --------------------------------------------------------------------

STATES = [
    OperationState.CREATED,
    OperationState.RUNNING,
    OperationState.PAUSED,
    OperationState.COMPLETED,
    OperationState.FAILED,
    OperationState.ROLLED_BACK,
]


@pytest.mark.parametrize("write", [1, 2], ids=["dies-at-first-write", "dies-at-second-write"])
@pytest.mark.parametrize("after", STATES, ids=lambda s: f"to-{s.value}")
@pytest.mark.parametrize("before", STATES, ids=lambda s: f"from-{s.value}")
def test_a_save_that_dies_between_its_writes_never_lists_a_state_the_operation_is_not_in(
    tmp_path: Path, crash_at: Callable[[int], None], before: OperationState, after: OperationState, write: int
) -> None:
    store = FileStore(tmp_path)
    stored = store.create(operation(), [])
    if before is not OperationState.CREATED:
        stored = store.save(moved(stored, before), [])
    crash_at(write)
    with pytest.raises(Crash):
        store.save(moved(stored, after, minutes=5), [event("op-1", "lost")])
    on_disk = store.load("op-1")
    assert on_disk.state in (before, after)
    assert store.summaries() == [summary_of(on_disk)]
    assert [s.id for s in store.summaries(state=on_disk.state.value)] == ["op-1"]
    # the next save (the engine retrying) puts the two files back in step
    healed = store.save(moved(on_disk, after, minutes=9), [])
    assert summary_file(tmp_path).read_text() == summary_of(healed).to_json()
    assert store.summaries() == [summary_of(healed)]


@pytest.mark.parametrize("state", [OperationState.CREATED, OperationState.COMPLETED], ids=lambda s: s.value)
@pytest.mark.parametrize("write", [1, 2])
def test_a_create_that_dies_between_its_writes_lists_what_load_finds(
    tmp_path: Path, crash_at: Callable[[int], None], state: OperationState, write: int
) -> None:
    store = FileStore(tmp_path)
    crash_at(write)
    with pytest.raises(Crash):
        store.create(operation().model_copy(update={"state": state}), [])
    try:
        loaded = [summary_of(store.load("op-1"))]
    except OperationNotFound:
        loaded = []
    assert store.summaries() == loaded


def test_an_operation_json_older_than_its_summary_is_what_is_listed(tmp_path: Path) -> None:
    """The crash window of a save to an active state, reproduced by hand: the summary was replaced, then the
    process died before operation.json was (here: operation.json written back behind the store's back)."""
    store = FileStore(tmp_path)
    stored = store.save(moved(store.create(operation(), []), OperationState.RUNNING), [])
    record = tmp_path / "op-1" / "operation.json"
    older = record.read_bytes()
    store.save(moved(stored, OperationState.PAUSED), [])
    record.write_bytes(older)
    assert json.loads(summary_file(tmp_path).read_text())["state"] == "paused"
    assert store.summaries() == [summary_of(store.load("op-1"))]
    assert store.summaries()[0].state is OperationState.RUNNING and store.summaries(state="paused") == []


# -- stores written before summaries, and damaged summaries --------------------------------------------


def test_a_store_without_summary_files_still_lists_and_is_left_unchanged(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation("op-1", "c1"), [])
    store.save(moved(store.create(operation("op-2", "c2", minutes=1), []), OperationState.FAILED), [])
    expected = store.summaries()
    for path in tmp_path.glob("*/summary.json"):
        path.unlink()
    files_before = sorted((str(p), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert store.summaries() == expected
    assert [s.id for s in store.summaries(state="failed")] == ["op-2"]
    assert sorted((str(p), p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == files_before


def test_init_on_an_older_store_gives_each_operation_its_summary_and_then_list_reads_only_those(
    tmp_path: Path, opened: list[str]
) -> None:
    store = FileStore(tmp_path)
    store.create(operation("op-1", "c1"), [])
    store.save(moved(store.create(operation("op-2", "c2", minutes=1), []), OperationState.COMPLETED), [])
    expected = store.summaries()
    for path in tmp_path.glob("*/summary.json"):
        path.unlink()
    assert init_store(f"file://{tmp_path}") == [
        f"directory {tmp_path} exists",
        "summaries: 2 operation(s) given the summary `list` reads",
    ]
    opened.clear()
    assert store.summaries() == expected
    # the finished operation is read from its summary alone; the active one is checked against its record
    assert "op-2/operation.json" not in opened and "op-2/summary.json" in opened
    assert init_store(f"file://{tmp_path}")[1] == "summaries: 0 operation(s) given the summary `list` reads"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not a valid summary"),
        ('["a list"]', "is not a valid summary"),
        ('{"summary_schema": 99}', "summary_schema 99"),
    ],
)
@pytest.mark.parametrize("state", [OperationState.CREATED, OperationState.COMPLETED], ids=lambda s: s.value)
def test_a_damaged_summary_is_named_and_left_as_it_is(
    tmp_path: Path, text: str, problem: str, state: OperationState
) -> None:
    store = FileStore(tmp_path)
    created = store.create(operation(), [])
    if state.is_final:
        store.save(moved(created, state), [])
    store.create(operation("op-2", "c2"), [])
    summary_file(tmp_path).write_text(text)
    with pytest.raises(StoreError, match=problem) as raised:
        store.summaries()
    assert str(summary_file(tmp_path)) in str(raised.value)
    with pytest.raises(StoreError, match=r"op-1/summary\.json"):
        store.summaries("c2")  # another target's listing reads it too: never skipped
    assert summary_file(tmp_path).read_text() == text


def test_a_summary_of_another_operation_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.save(moved(store.create(operation(), []), OperationState.COMPLETED), [])
    os.rename(tmp_path / "op-1", tmp_path / "op-renamed")
    with pytest.raises(StoreError, match=r"op-renamed/summary\.json holds operation 'op-1', not 'op-renamed'"):
        store.summaries()


# -- follow ------------------------------------------------------------------------------------------


def test_follow_returns_each_event_once_across_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    monkeypatch.setattr(FileStore, "events", None)
    monkeypatch.setattr(FileStore, "list_operations", None)
    stored = store.create(operation(), [])
    first = store.follow("op-1")
    assert (first.events, first.cursor, first.operation.version) == ([], "0", 1)
    cursor, seen = first.cursor, []
    for n in range(4):
        names = [f"e{n}-{k}" for k in range(n)]  # 0, 1, 2, 3 events per save
        stored = store.save(stored, [event("op-1", name) for name in names])
        followed = store.follow("op-1", cursor)
        assert [e.id for e in followed.events] == names and followed.operation == stored
        seen += [e.id for e in followed.events]
        cursor = followed.cursor
        log = tmp_path / "op-1" / "events.jsonl"
        assert int(cursor) == (log.stat().st_size if log.exists() else 0)
    assert seen == ["e1-0", "e2-0", "e2-1", "e3-0", "e3-1", "e3-2"]
    assert [e.id for e in store.follow("op-1").events] == seen
    assert store.follow("op-1", cursor).events == []


def test_follow_leaves_a_half_written_last_line_for_the_next_call(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [event("op-1", "e0")])
    log = tmp_path / "op-1" / "events.jsonl"
    line = (event("op-1", "e1").model_dump_json() + "\n").encode()
    with open(log, "ab") as handle:
        handle.write(line[:20])  # a writer part way through its append
    first = store.follow("op-1")
    assert [e.id for e in first.events] == ["e0"]
    again = store.follow("op-1", first.cursor)
    assert again.events == [] and again.cursor == first.cursor
    with open(log, "ab") as handle:
        handle.write(line[20:])
    done = store.follow("op-1", again.cursor)
    assert [e.id for e in done.events] == ["e1"] and int(done.cursor) == log.stat().st_size


def test_follow_refuses_a_cursor_it_did_not_return(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [event("op-1", "e0"), event("op-1", "e1")])
    size = (tmp_path / "op-1" / "events.jsonl").stat().st_size
    for cursor in ["abc", "-1", "", " 3", "1e3", "\u0663", "9" * 30]:
        with pytest.raises(BadInput, match=r"invalid cursor .* for operation 'op-1'"):
            store.follow("op-1", cursor)
    with pytest.raises(BadInput, match=rf"beyond the event log of operation 'op-1' \({size} bytes\)"):
        store.follow("op-1", str(size + 1))
    with pytest.raises(BadInput, match="not where an event of operation 'op-1' begins"):
        store.follow("op-1", "7")
    with pytest.raises(OperationNotFound):
        store.follow("op-missing")
    with pytest.raises(OperationNotFound):
        store.follow("op-missing", "0")
    store.create(operation("op-2"), [])  # no events file yet
    assert store.follow("op-2", "0").events == []
    with pytest.raises(BadInput, match=r"beyond the event log of operation 'op-2' \(0 bytes\)"):
        store.follow("op-2", "1")


def test_follow_names_a_damaged_event_by_its_offset(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [event("op-1", "e0")])
    log = tmp_path / "op-1" / "events.jsonl"
    good = log.stat().st_size
    with open(log, "ab") as handle:
        handle.write(b'{"id": "broken"}\n')
    with pytest.raises(StoreError, match=rf"events\.jsonl at byte {good} is not a valid event"):
        store.follow("op-1")
    with open(log, "r+b") as handle:
        handle.seek(good)
        handle.write(b"\xff" * 16)
    with pytest.raises(StoreError, match=rf"at byte {good} is not valid UTF-8"):
        store.follow("op-1", "0")


# -- readers while a writer saves ----------------------------------------------------------------------


def test_readers_during_saves_see_only_versions_that_were_saved_and_each_event_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    saved = [store.create(operation(), [event("op-1", "created")])]
    states = [OperationState.RUNNING, OperationState.PAUSED] * 8 + [OperationState.COMPLETED] * 3
    written = ["created"]
    listed: list[OperationSummary] = []
    followed: list[str] = []
    done = threading.Event()

    def write() -> None:
        try:
            for n, state in enumerate(states):
                names = [f"v{n}-{k}" for k in range(n % 3)]
                saved.append(FileStore(tmp_path).save(moved(saved[-1], state), [event("op-1", x) for x in names]))
                written.extend(names)
        finally:
            done.set()

    def read() -> None:
        reader, cursor = FileStore(tmp_path), None
        while True:
            finished = done.is_set()
            listed.extend(reader.summaries())
            got = reader.follow("op-1", cursor)
            followed.extend(e.id for e in got.events)
            cursor = got.cursor
            if finished:
                return

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = {summary_of(op) for op in saved}
    assert listed and all(summary in versions for summary in listed)
    assert [s.version for s in listed] == sorted(s.version for s in listed)  # never back to an older one
    assert followed == written
