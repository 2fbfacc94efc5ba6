"""The default store: one directory per operation on the local disk.

Writes go to a temp file then rename (a reader never sees half a file); a lock file
taken with flock serialises writers; the version on disk is compared before a save.
Cluster locks are files under `.locks/REGION/CLUSTER.json`, changed under one flock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from rds_maint.errors import BadInput, Conflict, OperationNotFound, StoreError
from rds_maint.model import Event, Operation
from rds_maint.store.base import (
    Followed,
    TargetKindFilter,
    check_lock_key,
    check_operation_id,
    check_schema,
    decode_record,
    follow_by_count,
    matching_summaries,
    operation_record,
)
from rds_maint.store.summary import OperationSummary

__all__ = ["FileStore"]

OPERATION_FILE = "operation.json"
EVENTS_FILE = "events.jsonl"
LOCK_FILE = ".lock"
LOCKS_DIR = ".locks"  # operation ids never start with a dot, so this never clashes with one


class FileStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"

    def _dir(self, operation_id: str) -> Path:
        return self.root / check_operation_id(operation_id)

    @contextlib.contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        with open(directory / LOCK_FILE, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write_atomic(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _append_events(self, directory: Path, events: list[Event]) -> None:
        if not events:
            return
        with open(directory / EVENTS_FILE, "a") as handle:
            for event in events:
                handle.write(event.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _read(self, directory: Path, operation_id: str) -> Operation:
        path = directory / OPERATION_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise OperationNotFound(operation_id) from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        where = f"{self.url} record {path}"
        return operation_record(raw, where, operation_id)

    def create(self, operation: Operation, events: list[Event]) -> Operation:
        directory = self._dir(operation.id)
        try:
            directory.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise BadInput(f"operation '{operation.id}' already exists") from None
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc}") from exc
        with self._locked(directory):
            stored = operation.model_copy(update={"version": 1})
            self._write_atomic(directory / OPERATION_FILE, stored.model_dump_json(indent=2))
            self._append_events(directory, events)
        return stored

    def load(self, operation_id: str) -> Operation:
        return self._read(self._dir(operation_id), operation_id)

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        directory = self._dir(operation.id)
        if not (directory / OPERATION_FILE).exists():
            raise OperationNotFound(operation.id)
        with self._locked(directory):
            current = self._read(directory, operation.id)
            if current.version != operation.version:
                raise Conflict(
                    f"operation '{operation.id}' was saved by someone else "
                    f"(version {current.version}, this copy has {operation.version})"
                )
            stored = operation.model_copy(update={"version": operation.version + 1})
            self._write_atomic(directory / OPERATION_FILE, stored.model_dump_json(indent=2))
            self._append_events(directory, events)
        return stored

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        if not self.root.exists():
            return []
        found = []
        for child in sorted(self.root.iterdir()):
            if (child / OPERATION_FILE).exists():
                op = self._read(child, child.name)
                if (cluster_id is None or op.target_id == cluster_id) and (state is None or op.state.value == state):
                    found.append(op)
        return sorted(found, key=lambda op: op.created_at)

    def events(self, operation_id: str) -> list[Event]:
        directory = self._dir(operation_id)
        if not (directory / OPERATION_FILE).exists():
            raise OperationNotFound(operation_id)
        path = directory / EVENTS_FILE
        if not path.exists():
            return []
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise StoreError(
                f"{self.url} record {path} is not valid UTF-8 (byte {exc.start}: {exc.reason}); it was left as it is"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        events = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                events.append(Event.model_validate_json(line))
            except ValidationError as exc:
                raise StoreError(f"{self.url} record {path} line {number} is not a valid event: {exc}") from exc
        return events

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        return matching_summaries(self.list_operations(target_id, state), target_id, kind, state)

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        return follow_by_count(self, operation_id, cursor)

    # -- cluster locks ------------------------------------------------------------------------

    def _lock_path(self, cluster_id: str, region: str) -> Path:
        check_lock_key(cluster_id, region)
        return self.root / LOCKS_DIR / region / f"{cluster_id}.json"

    def _read_lock(self, path: Path) -> str | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        where = f"{self.url} lock record {path}"
        data = decode_record(raw, where)
        check_schema(data.get("schema_version"), where)
        if "operation_id" not in data:
            raise StoreError(f"{where} is not a valid lock record (no operation_id); it was left as it is")
        holder = data["operation_id"]
        if holder is not None and not isinstance(holder, str):
            raise StoreError(f"{where} is not a valid lock record (operation_id {holder!r}); it was left as it is")
        return holder

    @contextlib.contextmanager
    def _locks_locked(self) -> Iterator[None]:
        directory = self.root / LOCKS_DIR
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc}") from exc
        with self._locked(directory):
            yield

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        path = self._lock_path(cluster_id, region)
        check_operation_id(operation_id)
        with self._locks_locked():
            holder = self._read_lock(path)
            if holder == operation_id:
                return operation_id
            if holder is not None and (replace is None or holder != replace):
                return holder
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {
                "cluster_id": cluster_id,
                "region": region,
                "operation_id": operation_id,
                "acquired_at": datetime.now(UTC).isoformat(),
            }
            self._write_atomic(path, json.dumps(record, indent=2))
            return operation_id

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool:
        path = self._lock_path(cluster_id, region)
        with self._locks_locked():
            if self._read_lock(path) != operation_id:
                return False
            path.unlink()
            return True

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        return self._read_lock(self._lock_path(cluster_id, region))
