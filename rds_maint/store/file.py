"""The default store: one directory per operation on the local disk.

Writes go to a temp file then rename (a reader never sees half a file); a lock file
taken with flock serialises writers; the version on disk is compared before a save.
Cluster locks are files under `.locks/REGION/CLUSTER.json`, changed under one flock.

Beside operation.json each directory keeps summary.json (`summary_of` the stored operation), so that
`summaries` (what `list` reads) opens one small file per operation instead of validating a record of tens
of KB. The two files are replaced one after the other under the operation's flock, and a writer can die
between the two renames: one file is new, the other old. The order of the writes and how a reader treats
what it finds make that harmless:

- new state not final: summary.json first, then operation.json. A crash between leaves a summary in a
  state that is not final;
- new state final: operation.json first, then summary.json. A crash between leaves the summary of the state
  before (not final), or, when the operation was final already (a save after the end: an operator's note),
  no summary at all: that save removes summary.json before it writes operation.json;
- a reader trusts a summary in a final state (written only after its operation.json was, and nothing but a
  final-to-final save, which removes it first, replaces that operation.json) and derives every other from
  operation.json, as it does when summary.json is missing (a store written by an older rds-maint, or the
  moment inside a final-to-final save). At most one operation per target is active, so the summaries
  re-derived are few. Reading never writes: the next save writes the summary a store lacks.

A directory with a summary but no operation.json is a `create` that died before its operation was
written (or is writing it now): the operation does not exist, and it is not listed.

`follow` reads events.jsonl from a byte offset (the cursor), under a shared flock so that the operation
and the events it returns are of the same save; only complete lines count (a line without its newline
is still being written, or was cut by a crash, and is left for the next call).
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

from rds_maint.campaign_model import Campaign
from rds_maint.errors import BadInput, CampaignNotFound, Conflict, OperationNotFound, StoreError
from rds_maint.model import Event, Operation, OperationState
from rds_maint.store.base import (
    Followed,
    TargetKindFilter,
    campaign_record,
    check_campaign_id,
    check_lock_key,
    check_operation_id,
    check_schema,
    decode_record,
    operation_record,
)
from rds_maint.store.summary import OperationSummary, summary_of

__all__ = ["FileStore"]

OPERATION_FILE = "operation.json"
SUMMARY_FILE = "summary.json"
EVENTS_FILE = "events.jsonl"
LOCK_FILE = ".lock"
LOCKS_DIR = ".locks"  # operation ids never start with a dot, so this never clashes with one
CAMPAIGNS_DIR = ".campaigns"  # <id>.json each, changed under one flock (.campaigns/.lock)
_KINDS: frozenset[str | None] = frozenset({None, "cluster", "instance"})
_MAX_CURSOR_DIGITS = 19  # an offset into a file: what fits in a signed 64-bit file position


def _read_small(path: str) -> bytes:
    """A whole file, read without the buffered file object `open` builds: a listing reads 10,000 of these."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 16384):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


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

    @contextlib.contextmanager
    def _shared(self, directory: Path) -> Iterator[None]:
        """The operation's flock, shared: no save runs while it is held. Opened read-only, so a reader
        needs no write access to the store; without a lock file there is no operation to read."""
        try:
            fd: int | None = os.open(directory / LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            fd = None
        except OSError as exc:
            raise StoreError(f"cannot open {directory / LOCK_FILE}: {exc}") from exc
        if fd is None:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the flock

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

    def _write_state(self, directory: Path, stored: Operation, before: OperationState | None) -> None:
        """operation.json and summary.json in the order the module docstring explains; `before` is the
        state on disk (None at create)."""
        operation_path, summary_path = directory / OPERATION_FILE, directory / SUMMARY_FILE
        body, summary = stored.model_dump_json(indent=2), summary_of(stored).to_json()
        if not stored.state.is_final:
            self._write_atomic(summary_path, summary)
            self._write_atomic(operation_path, body)
            return
        if before is not None and before.is_final:
            try:
                summary_path.unlink(missing_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot remove {summary_path}: {exc}") from exc
        self._write_atomic(operation_path, body)
        self._write_atomic(summary_path, summary)

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
            self._write_state(directory, stored, None)
            self._append_events(directory, events)
        return stored

    def load(self, operation_id: str) -> Operation:
        return self._read(self._dir(operation_id), operation_id)

    def _campaign_path(self, campaign_id: str) -> Path:
        return self.root / CAMPAIGNS_DIR / f"{check_campaign_id(campaign_id)}.json"

    def _read_campaign(self, path: Path, campaign_id: str) -> Campaign:
        try:
            raw = _read_small(str(path))
        except FileNotFoundError:
            raise CampaignNotFound(campaign_id) from None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        return campaign_record(raw, f"{self.url} campaign record {path}", campaign_id)

    def create_campaign(self, campaign: Campaign) -> Campaign:
        path = self._campaign_path(campaign.id)
        with self._side_dir_locked(CAMPAIGNS_DIR):
            if path.exists():
                raise BadInput(f"campaign '{campaign.id}' already exists")
            stored = campaign.model_copy(update={"version": 1})
            self._write_atomic(path, stored.model_dump_json())
        return stored

    def load_campaign(self, campaign_id: str) -> Campaign:
        return self._read_campaign(self._campaign_path(campaign_id), campaign_id)

    def save_campaign(self, campaign: Campaign) -> Campaign:
        path = self._campaign_path(campaign.id)
        with self._side_dir_locked(CAMPAIGNS_DIR):
            current = self._read_campaign(path, campaign.id)
            if current.version != campaign.version:
                raise Conflict(
                    f"campaign '{campaign.id}' was saved by someone else "
                    f"(version {current.version}, this copy has {campaign.version})"
                )
            stored = campaign.model_copy(update={"version": campaign.version + 1})
            self._write_atomic(path, stored.model_dump_json())
        return stored

    def campaigns(self) -> list[Campaign]:
        directory = self.root / CAMPAIGNS_DIR
        if not directory.is_dir():
            return []
        found = []
        for path in sorted(directory.glob("*.json")):
            if not path.name.startswith("."):
                found.append(self._read_campaign(path, path.stem))
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def write_missing_summaries(self) -> int:
        """Give every operation without summary.json (a store an older rds-maint wrote) its summary; how many.

        For `rds-maint init` on an existing directory: `list` never writes, and a finished operation is never
        saved again, so without this its summary would be derived from operation.json at every listing. Each is
        written under the operation's flock from the operation as it is then, so a live writer is never
        contradicted.
        """
        if not self.root.is_dir():
            return 0
        written = 0
        with os.scandir(self.root) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
        for name in names:
            directory = self.root / name
            if not (directory / OPERATION_FILE).exists() or (directory / SUMMARY_FILE).exists():
                continue
            with self._locked(directory):
                if (directory / SUMMARY_FILE).exists():
                    continue
                stored = self._read(directory, check_operation_id(name))
                self._write_atomic(directory / SUMMARY_FILE, summary_of(stored).to_json())
                written += 1
        return written

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
            self._write_state(directory, stored, current.state)
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
        if kind not in _KINDS:
            raise BadInput(f"invalid target kind {kind!r}: expected 'cluster' or 'instance'")
        found: list[OperationSummary] = []
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list {self.root}: {exc}") from exc
        with entries:
            for entry in entries:
                # dot names are the store's own (.locks, .lock); is_dir answers from the listing, no stat
                if entry.name.startswith(".") or not entry.is_dir():
                    continue
                summary = self._summary(entry.path, entry.name)
                if (
                    summary is not None
                    and (target_id is None or summary.target_id == target_id)
                    and (kind is None or summary.target_kind == kind)
                    and (state is None or summary.state == state)
                ):
                    found.append(summary)
        found.sort(key=lambda s: (s.created_at, s.id))
        return found

    def _summary(self, directory: str, name: str) -> OperationSummary | None:
        """The summary of one directory: its summary.json when final, else derived from operation.json."""
        path = f"{directory}/{SUMMARY_FILE}"
        try:
            raw = _read_small(path)
        except FileNotFoundError:
            return self._derived_summary(directory, name)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        where = f"{self.url} summary {path}"
        summary = OperationSummary.from_json(raw, where)
        if summary.id != name:
            raise StoreError(f"{where} holds operation '{summary.id}', not '{name}'; it was left as it is")
        if summary.state.is_final:
            return summary
        return self._derived_summary(directory, name)

    def _derived_summary(self, directory: str, name: str) -> OperationSummary | None:
        path = f"{directory}/{OPERATION_FILE}"
        try:
            raw = _read_small(path)
        except FileNotFoundError:
            return None  # a create that has not written its operation (or never will): no operation yet
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc}") from exc
        return summary_of(operation_record(raw, f"{self.url} record {path}", name))

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        directory = self._dir(operation_id)
        start = self._offset(operation_id, cursor)
        path = directory / EVENTS_FILE
        with self._shared(directory):
            operation = self._read(directory, operation_id)
            try:
                with open(path, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    self._check_offset(operation_id, cursor, start, size)
                    if start:
                        handle.seek(start - 1)
                        if handle.read(1) != b"\n":
                            raise BadInput(
                                f"cursor {cursor!r} is not where an event of operation '{operation_id}' begins: "
                                "pass back the cursor the last follow returned (or none to read every event)"
                            )
                    chunk = handle.read()
            except FileNotFoundError:
                self._check_offset(operation_id, cursor, start, 0)
                chunk = b""
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc}") from exc
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a last line without its newline is not written yet
        return Followed(operation, self._parse_events(path, complete, start), str(start + len(complete)))

    @staticmethod
    def _offset(operation_id: str, cursor: str | None) -> int:
        if cursor is None:
            return 0
        if (
            not isinstance(cursor, str)
            or not cursor.isascii()
            or not cursor.isdigit()
            or len(cursor) > _MAX_CURSOR_DIGITS
        ):
            raise BadInput(
                f"invalid cursor {cursor!r} for operation '{operation_id}': the file store's cursor is the "
                "number a follow returned (a byte offset in the event log); pass none to read every event"
            )
        return int(cursor)

    @staticmethod
    def _check_offset(operation_id: str, cursor: str | None, start: int, size: int) -> None:
        if start > size:
            raise BadInput(
                f"cursor {cursor!r} is beyond the event log of operation '{operation_id}' ({size} bytes): "
                "it was not returned by a follow of this operation in this store"
            )

    def _parse_events(self, path: Path, data: bytes, start: int) -> list[Event]:
        """The events of complete lines read from byte `start`; a damaged one is named by its offset."""
        events = []
        offset = start
        for line in data.split(b"\n")[:-1]:
            where = f"{self.url} record {path} at byte {offset}"
            offset += len(line) + 1
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise StoreError(f"{where} is not valid UTF-8 ({exc.reason}); it was left as it is") from None
            if not text.strip():
                continue
            try:
                events.append(Event.model_validate_json(text))
            except ValidationError as exc:
                raise StoreError(f"{where} is not a valid event: {exc}") from exc
        return events

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
    def _side_dir_locked(self, name: str) -> Iterator[None]:
        """The flock of a directory beside the operations (the locks', the campaigns'), made on first use."""
        directory = self.root / name
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {directory}: {exc}") from exc
        with self._locked(directory):
            yield

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        path = self._lock_path(cluster_id, region)
        check_operation_id(operation_id)
        with self._side_dir_locked(LOCKS_DIR):
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
        with self._side_dir_locked(LOCKS_DIR):
            if self._read_lock(path) != operation_id:
                return False
            path.unlink()
            return True

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        return self._read_lock(self._lock_path(cluster_id, region))
