"""`s3://BUCKET/PREFIX`: operations as JSON objects, written only by compare-and-swap.

Layout under PREFIX:

* `operations/<id>.json`: the operation, plus the events of the save that wrote it (the
  "tail"). Created with `If-None-Match: *`; every later write carries `If-Match` with the
  ETag read (or written) last, so a writer that lost a race gets 412 and changes nothing.
* `events/<id>/<version:010d>.json`: the events saved with that version, written once
  (`If-None-Match: *`) after the operation write succeeded. Keys sort in commit order.
  A crash before this write loses nothing: the tail is still in the operation object, and
  the next save writes it out before it replaces the tail. Readers merge both.
* `locks/<region>/<cluster>.json`: who holds the cluster (`operation_id`, or null when
  free), changed by compare-and-swap too (no delete: the IAM policy grants none).

Every write asks for server-side encryption. S3 offers no lease primitive: the engine keeps
its step lease inside the operation object, so the same conditional write guards it.

The keys and documents are built and read in `s3_objects.py`; `rds-maint init` creates the
bucket in `s3_bucket.py`. This module is the compare-and-swap protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from rds_maint.errors import BadInput, Conflict, OperationNotFound, StoreError, StoreNotFound
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation
from rds_maint.store.aws import DENIED_CODES, backoff, error_code, error_message, http_status, make_client, with_retries
from rds_maint.store.base import (
    Followed,
    TargetKindFilter,
    check_operation_id,
    check_schema,
    decode_record,
    follow_by_count,
    matching_summaries,
)
from rds_maint.store.s3_bucket import SSE, initialise_bucket
from rds_maint.store.s3_objects import (
    EVENTS,
    OPERATIONS,
    Layout,
    batch_body,
    holder_of,
    lock_body,
    merge_events,
    operation_body,
    parse_batch,
    parse_operation,
)
from rds_maint.store.summary import OperationSummary
from rds_maint.store.urls import parse_s3_url

__all__ = ["S3Store", "parse_s3_url"]

log = get_logger("rds_maint.store.s3")

CONFLICT_ATTEMPTS = 4  # 409 ConditionalRequestConflict: "fetch the ETag and retry"
LOCK_ATTEMPTS = 5
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass
class _Seen:
    """What this process last read or wrote of an operation: the ETag its next write must match."""

    version: int
    etag: str
    tail: list[Event]
    flushed: bool


class S3Store:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        region: str | None = None,
        profile: str | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.client = client if client is not None else make_client("s3", region, profile)
        self._layout = Layout(bucket, self.prefix)
        self._sleep = sleep
        self._seen: dict[str, _Seen] = {}

    # -- requests ----------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self._layout.key(*parts)

    def _where(self, key: str) -> str:
        return self._layout.where(key)

    def _request(self, api: str, key: str, **kwargs: Any) -> Any:
        method = getattr(self.client, xform_name(api))
        return with_retries(lambda: method(Bucket=self.bucket, **kwargs), f"S3 {api} {self._where(key)}", self._sleep)

    def _fail(self, exc: ClientError, api: str, key: str) -> StoreError:
        code = error_code(exc)
        if code == "NoSuchBucket":
            return StoreNotFound(
                f"S3 bucket '{self.bucket}' does not exist: create the store with: rds-maint init --store {self.url}"
            )
        if code in DENIED_CODES or http_status(exc) == 403:
            return StoreError(
                f"access denied: S3 {api} on {self._where(key)} ({error_message(exc)}); the role needs "
                f"s3:GetObject and s3:PutObject on {self.bucket}/{self._key('*')} and s3:ListBucket on the "
                "prefix (see iam/lambda-policy.json); `rds-maint init` and `unlock --force` are administrator "
                "actions: the read-only operator policy lacks the writes they need (see iam/README.md)"
            )
        return StoreError(f"S3 {api} on {self._where(key)} failed: {code}: {error_message(exc)}")

    def _absent(self, key: str) -> bool | None:
        """Without s3:ListBucket on a key, S3 answers 403 rather than 404: tell the two apart by listing."""
        try:
            listing = self._request("ListObjectsV2", key, Prefix=key, MaxKeys=1)
        except ClientError:
            return None
        return not any(item.get("Key") == key for item in listing.get("Contents", []))

    def _get_json(self, key: str) -> tuple[dict[str, Any], str, bytes] | None:
        """The object as JSON with its ETag and bytes; None if it does not exist."""
        try:
            response = self._request("GetObject", key, Key=key)
        except ClientError as exc:
            code = error_code(exc)
            if code in _MISSING:
                return None
            if code in DENIED_CODES or http_status(exc) == 403:
                absent = self._absent(key)
                if absent:
                    return None
                error = self._fail(exc, "GetObject", key)
                if absent is None:
                    error = StoreError(f"{error} (s3:ListBucket is refused too, so a missing object looks the same)")
                raise error from exc
            raise self._fail(exc, "GetObject", key) from exc
        raw: bytes = response["Body"].read()
        where = self._where(key)
        data = decode_record(raw, where)
        check_schema(data.get("schema_version"), where)
        return data, str(response.get("ETag", "")), raw

    def _put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        exists_ok: bool = False,
    ) -> str:
        """A conditional PutObject; returns the new ETag, raises Conflict when the condition fails."""
        extra: dict[str, str] = {}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_none_match is not None:
            extra["IfNoneMatch"] = if_none_match
        where = self._where(key)
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                response = self._request(
                    "PutObject",
                    key,
                    Key=key,
                    Body=body,
                    ContentType="application/json",
                    ServerSideEncryption=SSE,
                    **extra,
                )
                return str(response.get("ETag", ""))
            except ClientError as exc:
                code, status = error_code(exc), http_status(exc)
                if status == 412 or code == "PreconditionFailed":
                    if exists_ok:
                        return ""
                    landed = self._landed(key, body)
                    if landed is not None:  # our own earlier attempt went through (a lost response)
                        return landed
                    raise Conflict(f"{where} changed since it was read (S3 412 Precondition Failed)") from None
                if status == 409 or code == "ConditionalRequestConflict":
                    if attempt < CONFLICT_ATTEMPTS:
                        self._sleep(backoff(attempt))
                        continue
                    raise Conflict(f"{where}: S3 kept answering 409 ConditionalRequestConflict") from None
                if code in _MISSING and if_match is not None:
                    raise Conflict(f"{where} no longer exists") from None
                raise self._fail(exc, "PutObject", key) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _landed(self, key: str, body: bytes) -> str | None:
        got = self._get_json(key)
        return got[1] if got is not None and got[2] == body else None

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                page = self._request("ListObjectsV2", prefix, **kwargs)
            except ClientError as exc:
                raise self._fail(exc, "ListObjectsV2", prefix) from exc
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return keys

    # -- operations ----------------------------------------------------------------------------

    def _read(self, operation_id: str) -> tuple[Operation, str, list[Event]]:
        key = self._layout.operation(operation_id)
        got = self._get_json(key)
        if got is None:
            raise OperationNotFound(operation_id)
        operation, tail = parse_operation(got[0], self._where(key), operation_id)
        return operation, got[1], tail

    def _write_batch(self, operation_id: str, version: int, events: list[Event]) -> None:
        body = batch_body(operation_id, version, events)
        self._put(self._layout.batch(operation_id, version), body, if_none_match="*", exists_ok=True)

    def _flush(self, operation_id: str, seen: _Seen) -> None:
        """Write the tail out as its own object; on failure it stays in the operation object."""
        try:
            self._write_batch(operation_id, seen.version, seen.tail)
            seen.flushed = True
        except StoreError as exc:
            log.warning("events_not_flushed", operation_id=operation_id, version=seen.version, error=str(exc))

    def create(self, operation: Operation, events: list[Event]) -> Operation:
        key = self._layout.operation(operation.id)
        stored = operation.model_copy(update={"version": 1})
        try:
            etag = self._put(key, operation_body(stored, events), if_none_match="*")
        except Conflict:
            raise BadInput(f"operation '{operation.id}' already exists") from None
        seen = _Seen(stored.version, etag, list(events), flushed=not events)
        self._seen[operation.id] = seen
        if events:
            self._flush(operation.id, seen)
        return stored

    def load(self, operation_id: str) -> Operation:
        operation, etag, tail = self._read(operation_id)
        before = self._seen.get(operation_id)
        flushed = not tail or (before is not None and before.version == operation.version and before.flushed)
        self._seen[operation_id] = _Seen(operation.version, etag, tail, flushed)
        return operation

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        key = self._layout.operation(operation.id)
        seen = self._seen.get(operation.id)
        if seen is None or seen.version != operation.version:
            current, etag, tail = self._read(operation.id)
            if current.version != operation.version:
                raise Conflict(
                    f"operation '{operation.id}' was saved by someone else "
                    f"(version {current.version}, this copy has {operation.version})"
                )
            seen = _Seen(current.version, etag, tail, flushed=not tail)
        if not seen.flushed:
            # the tail about to be replaced must exist as its own object first
            self._write_batch(operation.id, seen.version, seen.tail)
            seen.flushed = True
        stored = operation.model_copy(update={"version": operation.version + 1})
        try:
            etag = self._put(key, operation_body(stored, events), if_match=seen.etag)
        except Conflict as exc:
            self._seen.pop(operation.id, None)
            raise Conflict(
                f"operation '{operation.id}' was saved by someone else (this copy has version "
                f"{operation.version}; {exc})"
            ) from None
        written = _Seen(stored.version, etag, list(events), flushed=not events)
        self._seen[operation.id] = written
        if events:
            self._flush(operation.id, written)
        return stored

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        found: list[Operation] = []
        for key in self._list(self._key(OPERATIONS) + "/"):
            name = key.rsplit("/", 1)[-1]
            if not name.endswith(".json"):
                continue
            got = self._get_json(key)
            if got is None:
                continue
            operation, _ = parse_operation(got[0], self._where(key), name[: -len(".json")])
            if (cluster_id is None or operation.target_id == cluster_id) and (
                state is None or operation.state.value == state
            ):
                found.append(operation)
        return sorted(found, key=lambda op: op.created_at)

    def events(self, operation_id: str) -> list[Event]:
        # Read the operation first: every version before it has its events object by then.
        operation, _, tail = self._read(operation_id)
        batches: dict[int, list[Event]] = {}
        for key in self._list(self._key(EVENTS, operation_id) + "/"):
            stem = key.rsplit("/", 1)[-1].removesuffix(".json")
            if not stem.isdigit():
                continue
            got = self._get_json(key)
            if got is None:
                continue
            batches[int(stem)] = parse_batch(got[0], self._where(key))
        if tail:
            batches.setdefault(operation.version, tail)
        return merge_events(batches)

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        return matching_summaries(self.list_operations(target_id, state), target_id, kind, state)

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        return follow_by_count(self, operation_id, cursor)

    # -- cluster locks ---------------------------------------------------------------------------

    def _read_lock(self, key: str) -> tuple[str | None, str | None]:
        got = self._get_json(key)
        if got is None:
            return None, None
        return holder_of(got[0], self._where(key)), got[1]

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        key = self._layout.lock(cluster_id, region)
        check_operation_id(operation_id)
        for _ in range(LOCK_ATTEMPTS):
            holder, etag = self._read_lock(key)
            if holder == operation_id:
                return operation_id
            if holder is not None and holder != replace:
                return holder
            body = lock_body(cluster_id, region, operation_id)
            try:
                if etag is None:
                    self._put(key, body, if_none_match="*")
                else:
                    self._put(key, body, if_match=etag)
                return operation_id
            except Conflict:
                continue  # it changed between the read and the write: look again
        raise StoreError(f"{self._where(key)} kept changing while the lock was being taken; try again")

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool:
        key = self._layout.lock(cluster_id, region)
        for _ in range(LOCK_ATTEMPTS):
            holder, etag = self._read_lock(key)
            if holder != operation_id or etag is None:
                return False
            try:
                self._put(key, lock_body(cluster_id, region, None), if_match=etag)
                return True
            except Conflict:
                continue
        return False

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        return self._read_lock(self._layout.lock(cluster_id, region))[0]

    # -- rds-maint init ------------------------------------------------------------------------

    def initialise(self) -> list[str]:
        """Create the bucket with encryption, versioning and no public access; leave an existing one as it is."""
        return initialise_bucket(self.client, self._layout, self._fail)
