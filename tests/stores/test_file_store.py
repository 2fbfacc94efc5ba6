"""The file store: atomic, versioned, and it never silently resets what it cannot read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rds_maint.errors import BadInput, Conflict, OperationNotFound, StoreError
from rds_maint.model import Event, Operation, OperationType, Step
from rds_maint.store import FileStore, open_store

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def operation(op_id: str = "op-1") -> Operation:
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        cluster_id="c1",
        region="us-east-1",
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=[Step(id="s01", name="check_cluster", action="check_cluster", description="check")],
        created_at=NOW,
        updated_at=NOW,
    )


def event(op_id: str, n: int) -> Event:
    return Event(id=f"e{n}", operation_id=op_id, type="note", message=f"event {n}", timestamp=NOW)


def test_create_load_save_bumps_version_and_keeps_events(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    created = store.create(operation(), [event("op-1", 0)])
    assert created.version == 1
    loaded = store.load("op-1")
    loaded.pause_reason = "look"
    saved = store.save(loaded, [event("op-1", 1)])
    assert saved.version == 2
    assert store.load("op-1").pause_reason == "look"
    assert [e.id for e in store.events("op-1")] == ["e0", "e1"]
    with pytest.raises(BadInput, match="already exists"):
        store.create(operation(), [])


def test_a_stale_save_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [])
    first, second = store.load("op-1"), store.load("op-1")
    first.pause_reason = "first"
    store.save(first, [event("op-1", 1)])
    second.pause_reason = "second"
    with pytest.raises(Conflict):
        store.save(second, [event("op-1", 2)])
    assert store.load("op-1").pause_reason == "first"
    assert [e.id for e in store.events("op-1")] == ["e1"]


def test_unreadable_state_is_reported_not_reset(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [])
    path = tmp_path / "op-1" / "operation.json"
    path.write_text("{not json")
    with pytest.raises(StoreError, match=r"operation\.json is not valid JSON"):
        store.load("op-1")
    assert path.read_text() == "{not json"


def test_state_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    store.create(operation(), [])
    path = tmp_path / "op-1" / "operation.json"
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(StoreError, match="newer rds-maint"):
        store.load("op-1")


def test_ids_and_urls_are_validated(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for bad in ("../x", "a/b", "", ".x"):
        with pytest.raises(BadInput, match="invalid operation id"):
            store.load(bad)
    with pytest.raises(OperationNotFound):
        store.load("op-missing")
    with pytest.raises(BadInput, match="unknown store URL"):
        open_store("ftp://somewhere")
    assert isinstance(open_store(f"file://{tmp_path}"), FileStore)


def test_list_operations_in_creation_order(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert store.list_operations() == []
    store.create(operation("op-b"), [])
    store.create(operation("op-a").model_copy(update={"created_at": datetime(2025, 1, 1, tzinfo=UTC)}), [])
    assert [o.id for o in store.list_operations()] == ["op-a", "op-b"]
