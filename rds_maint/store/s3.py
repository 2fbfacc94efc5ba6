"""`s3://BUCKET/PREFIX`: operations as JSON objects, written only by compare-and-swap.

Layout under PREFIX (a stored contract: every bucket in use has it):

* `operations/<id>.json`: the operation, plus the events of the save that wrote it (the
  "tail"). Created with `If-None-Match: *`; every later write carries `If-Match` with the
  ETag read (or written) last, so a writer that lost a race gets 412 and changes nothing.
* `events/<id>/<version:010d>.json`: the events saved with that version, written once
  (`If-None-Match: *`) after the operation write succeeded. Keys sort in commit order.
  A crash before this write loses nothing: the tail is still in the operation object, and
  the next save writes it out before it replaces the tail. Readers merge both.
* `locks/<region>/<cluster>.json`: who holds the cluster (`operation_id`, or null when
  free), changed by compare-and-swap too (never deleted).
* `summaries/<state>/<lock key>/<id>.json`: the operation's summary (`store.summary`), kept
  under the state it is in and the target's lock key (`store.base.lock_key_for`: a cluster
  and a DB instance of one name never share a prefix). `list` LISTs one state
  (`summaries/<state>/`), one target (one LIST per state of `summaries/<state>/<lock key>/`,
  whatever the number of other targets' operations) or all (`summaries/`), then GETs the
  summaries it found. Written conditionally too: `If-None-Match: *` for a new key, `If-Match`
  with the ETag of the summary it replaces (a summary never goes back to an older version).
* `campaigns/<id>.json`: a campaign record (rds_maint.campaign_model), the same JSON the file store
  keeps. Created with `If-None-Match: *`, saved with `If-Match` the ETag of the version the caller
  loaded (remembered per campaign; a save of a version this process never read re-reads it first and
  compares `version`), so of two saves of one version exactly one lands. Each write carries a
  `write_id` as object metadata: a retry whose first attempt landed (its answer lost) gets 412 and
  recognises its own write by it, where two writers may send the very same bytes. One request per
  write, no other object depends on it: no crash window. `campaigns()` is one LIST of `campaigns/`
  and a GET per record.
* `summaries/_layout.json`: the marker `rds-maint init` writes once every operation has its
  summary. Without it (a bucket an older rds-maint wrote), `summaries()` reads every operation
  as before and says once to run `rds-maint init`.

Every write asks for server-side encryption. S3 offers no lease primitive: the engine keeps
its step lease inside the operation object, so the same conditional write guards it.

Summaries and their crash windows. The operation object is the truth; a summary is derived and
written in a request of its own, so the order is what keeps `list` right:

* New state not final (created, running, paused, rolling_back): the summary is PUT BEFORE the
  operation write. A crash (or a lost race) in between leaves a summary ahead of its operation.
  Readers never trust a summary in a non-final state: they GET the operation (one active per
  target, so few) and report `summary_of` it, filters applied after that. So the only harm a
  non-final summary can do is cost one GET; what must never happen, an operation with no
  summary at all, cannot: its key exists before the operation is in that state.
* New state final (completed, failed, rolled_back): the summary is PUT AFTER the operation
  write, so a final summary exists only for an operation that really reached that state. Final
  states are terminal (the engine never leaves one), so a final summary is trusted as it is,
  and a listing that finds one ignores the operation's other keys. A crash between the write
  and the PUT leaves the old non-final key, which readers check against the operation: right.
  That is why a listing of one final state also LISTs the four non-final states (and GETs the
  operations found there, the active ones), while a listing of one non-final state LISTs only it.
* Deletes come after the operation write. Entering a final state: once the final summary is
  PUT, the keys of every non-final state are deleted (unconditionally: nothing can need them
  again). Moving between non-final states: the previous state's key is deleted with
  `If-Match` the ETag of the summary the previous version left there, so a writer that moved
  the operation back into that state meanwhile keeps its summary. A failed delete is logged
  and left: what remains is a non-final summary, which readers check.
* A save that lost the race (Conflict) re-reads the operation and deletes the summary it PUT
  (`If-Match` its own ETag) unless the operation is in that state now. Nothing it wrote is
  trusted in the meantime: it is non-final, and readers check it.
* Two summaries of one operation (a crash between a PUT and a delete) are reduced to one: a
  final one if there is one, otherwise `summary_of` the operation read.
* A non-final summary is stored as an index entry (`s3_objects.summary_body`): the fields that
  do not change while the operation stays in that state, the rest pinned. A save that stays in
  that state finds the entry as it is and writes no summary, so a look costs no extra PUT, and a
  process that did not write the entry knows its ETag from the operation alone.

`follow` returns events by version: its cursor is the last version whose events were
returned. The operation object's tail is the events of its own version, so following a
store saved once since the last look costs one GET.

The keys and documents are built and read in `s3_objects.py`; `rds-maint init` creates the
bucket in `s3_bucket.py` and writes the missing summaries here (`initialise`). This module is the
compare-and-swap protocol.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from rds_maint.campaign_model import Campaign
from rds_maint.errors import BadInput, CampaignNotFound, Conflict, OperationNotFound, StoreError, StoreNotFound
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, OperationState
from rds_maint.store.aws import DENIED_CODES, backoff, error_code, error_message, http_status, make_client, with_retries
from rds_maint.store.base import (
    Followed,
    TargetKindFilter,
    campaign_record,
    check_lock_key,
    check_operation_id,
    check_schema,
    decode_record,
    lock_key_for,
    matching_summaries,
)
from rds_maint.store.s3_bucket import SSE, initialise_bucket
from rds_maint.store.s3_objects import (
    EVENTS,
    NON_FINAL_STATES,
    OPERATIONS,
    Layout,
    SummaryKey,
    batch_body,
    campaign_body,
    check_marker,
    etag_of,
    holder_of,
    lock_body,
    marker_body,
    merge_events,
    operation_body,
    parse_batch,
    parse_operation,
    summary_body,
)
from rds_maint.store.summary import OperationSummary, summary_of
from rds_maint.store.urls import parse_s3_url

__all__ = ["S3Store", "parse_s3_url"]

log = get_logger("rds_maint.store.s3")

CONFLICT_ATTEMPTS = 4  # 409 ConditionalRequestConflict: "fetch the ETag and retry"
LOCK_ATTEMPTS = 5
# GETs in flight while a listing reads the summaries it found: the request count is the same, the wait is not
READERS = 16
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
WRITE_ID = "rds-maint-write-id"  # object metadata (x-amz-meta-...): which write put a campaign record there
# A summary with no operation is a create that never got to write its operation; one younger than
# this may belong to a create in flight (its summary is written first), so `init` leaves it.
ORPHAN_AGE = timedelta(hours=1)
_warned_unmarked: set[str] = set()


@dataclass
class _Seen:
    """What this process last read or wrote of an operation: the ETags its next writes must match."""

    version: int
    etag: str
    tail: list[Event]
    flushed: bool
    state: OperationState
    # the ETag of this version's summary, at its key: what the next summary write or delete names
    summary_etag: str


def _seen_of(operation: Operation, etag: str, tail: list[Event], flushed: bool) -> _Seen:
    summary_etag = etag_of(summary_body(summary_of(operation)))
    return _Seen(operation.version, etag, tail, flushed, operation.state, summary_etag)


def _cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not isinstance(cursor, str) or not cursor.isascii() or not cursor.isdigit() or len(cursor) > 10:
        raise BadInput(f"invalid follow cursor {cursor!r}: pass back the cursor the S3 store returned")
    return int(cursor)


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
        self._marked = False  # the layout marker was seen: summaries can be listed
        # campaign id -> (version, ETag) last read or written here: what a save of that version must match
        self._campaign_etags: dict[str, tuple[int, str]] = {}

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
                f"s3:GetObject and s3:PutObject on {self.bucket}/{self._key('*')}, s3:DeleteObject on "
                f"{self.bucket}/{self._key('summaries', '*')} and s3:ListBucket on the prefix (see "
                "iam/lambda-policy.json); `rds-maint init` and `unlock --force` are administrator "
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

    def _get_raw(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; None if it does not exist."""
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
        return raw, str(response.get("ETag", ""))

    def _get_json(self, key: str) -> tuple[dict[str, Any], str, bytes] | None:
        """The object as JSON with its ETag and bytes; None if it does not exist."""
        got = self._get_raw(key)
        if got is None:
            return None
        raw, etag = got
        where = self._where(key)
        data = decode_record(raw, where)
        check_schema(data.get("schema_version"), where)
        return data, etag, raw

    def _put(
        self,
        key: str,
        body: bytes,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        exists_ok: bool = False,
        write_id: str | None = None,
    ) -> str:
        """A conditional PutObject; returns the new ETag, raises Conflict when the condition fails.

        A 412 may answer a retry of our own write whose first answer was lost: that write is recognised by
        its bytes, or by `write_id` (sent as object metadata) when two writers may send the same bytes.
        """
        extra: dict[str, Any] = {}
        if if_match is not None:
            extra["IfMatch"] = if_match
        if if_none_match is not None:
            extra["IfNoneMatch"] = if_none_match
        if write_id is not None:
            extra["Metadata"] = {WRITE_ID: write_id}
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
                    landed = self._landed(key, body) if write_id is None else self._landed_write(key, write_id)
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
        got = self._get_raw(key)
        return got[1] if got is not None and got[0] == body else None

    def _landed_write(self, key: str, write_id: str) -> str | None:
        # GetObject, not HeadObject: the same IAM action, and a HEAD's error answers carry no code
        try:
            response = self._request("GetObject", key, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise self._fail(exc, "GetObject", key) from exc
        response["Body"].close()
        metadata = response.get("Metadata") or {}
        return str(response.get("ETag", "")) if metadata.get(WRITE_ID) == write_id else None

    def _delete(self, key: str, if_match: str | None = None) -> bool:
        """DeleteObject (only ever of a summary); False when `if_match` no longer names what is there.

        A delete of a missing key succeeds in S3; with `If-Match` it answers 404, which is the same outcome.
        """
        extra = {"IfMatch": if_match} if if_match is not None else {}
        try:
            self._request("DeleteObject", key, Key=key, **extra)
        except ClientError as exc:
            code, status = error_code(exc), http_status(exc)
            if code in _MISSING:
                return True
            if status == 412 or code == "PreconditionFailed":
                return False
            raise self._fail(exc, "DeleteObject", key) from exc
        return True

    def _tidy(self, key: str, if_match: str | None, operation_id: str) -> None:
        """A delete of a summary left behind: on failure it stays, and readers check it against the operation."""
        try:
            self._delete(key, if_match)
        except StoreError as exc:
            log.warning("summary_not_deleted", operation_id=operation_id, key=self._where(key), error=str(exc))

    def _list_items(self, prefix: str, start_after: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            elif start_after:
                kwargs["StartAfter"] = start_after
            try:
                page = self._request("ListObjectsV2", prefix, **kwargs)
            except ClientError as exc:
                raise self._fail(exc, "ListObjectsV2", prefix) from exc
            items.extend(page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return items

    def _list(self, prefix: str, start_after: str | None = None) -> list[str]:
        return [str(item["Key"]) for item in self._list_items(prefix, start_after)]

    # -- summaries: writes -----------------------------------------------------------------------

    def _put_summary(self, summary: OperationSummary, replaces: str | None) -> str:
        """Write `summary` at its key unless a summary of the same or a later version is there; its ETag.

        `replaces` is the ETag of the summary expected at the key (None: the key is expected to be new).
        When that guess is wrong (a crash, a lost race, a summary an older `init` wrote), the summary
        there is read, and replaced only if it is older.
        """
        key = self._layout.summary(summary)
        body = summary_body(summary)
        try:
            if replaces is not None:
                return self._put(key, body, if_match=replaces)
            return self._put(key, body, if_none_match="*")
        except Conflict:
            pass
        for _ in range(LOCK_ATTEMPTS):
            got = self._get_raw(key)
            try:
                if got is None:
                    return self._put(key, body, if_none_match="*")
                raw, etag = got
                try:
                    there = OperationSummary.from_json(raw, self._where(key)).version
                except StoreError:
                    there = -1  # a damaged summary is derived data: the operation is the truth, rewrite it
                if there >= summary.version:
                    return etag
                return self._put(key, body, if_match=etag)
            except Conflict:
                continue
        raise StoreError(f"{self._where(key)} kept changing while the summary was being written; try again")

    def _enter_final(self, stored: Operation, summary: OperationSummary, seen: _Seen) -> str | None:
        """After the write of a final operation: its summary, then no key in a non-final state."""
        replaces = (seen.summary_etag or None) if seen.state is stored.state else None
        try:
            etag = self._put_summary(summary, replaces)
        except StoreError as exc:
            # the operation is saved; its non-final key stays, and readers check that against it
            log.warning("summary_not_written", operation_id=stored.id, state=stored.state.value, error=str(exc))
            return None
        if seen.state is not stored.state:
            lock_key = lock_key_for(stored.target_kind, stored.target_id)
            for state in NON_FINAL_STATES:
                self._tidy(self._layout.summary_of_state(state, lock_key, stored.id), None, stored.id)
        return etag

    def _after_lost_race(self, summary: OperationSummary) -> None:
        """The summary this save PUT describes a version that was never written: take it back, unless the
        operation is in that state now (its key is the operation's own). `If-Match` names this save's own
        bytes: a summary another writer put there since (moving the operation into that state) stays."""
        try:
            current, _, _ = self._read(summary.id)
        except (OperationNotFound, StoreError):
            return
        if current.state is not summary.state:
            self._tidy(self._layout.summary(summary), etag_of(summary_body(summary)), summary.id)

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
        summary = summary_of(stored)
        self._layout.summary(summary)  # a target or region that cannot be a key: refused, nothing written
        final = stored.state.is_final
        summary_etag = "" if final else self._put_summary(summary, None)
        try:
            etag = self._put(key, operation_body(stored, events), if_none_match="*")
        except Conflict:
            if not final:
                self._after_lost_race(summary)
            raise BadInput(f"operation '{operation.id}' already exists") from None
        seen = _Seen(stored.version, etag, list(events), not events, stored.state, summary_etag)
        if final:
            seen.summary_etag = self._enter_final(stored, summary, seen) or ""
        self._seen[operation.id] = seen
        if events:
            self._flush(operation.id, seen)
        return stored

    # -- campaigns ------------------------------------------------------------------------------

    def _read_campaign(self, key: str, campaign_id: str) -> tuple[Campaign, str] | None:
        """The campaign at `key` and its ETag (remembered for the next save); None when there is none."""
        got = self._get_raw(key)
        if got is None:
            return None
        raw, etag = got
        campaign = campaign_record(raw, f"{self._where(key)} (campaign record)", campaign_id)
        self._campaign_etags[campaign.id] = (campaign.version, etag)
        return campaign, etag

    def create_campaign(self, campaign: Campaign) -> Campaign:
        key = self._layout.campaign(campaign.id)
        stored = campaign.model_copy(update={"version": 1})
        try:
            etag = self._put(key, campaign_body(stored), if_none_match="*", write_id=uuid.uuid4().hex)
        except Conflict:
            raise BadInput(f"campaign '{campaign.id}' already exists") from None
        self._campaign_etags[campaign.id] = (stored.version, etag)
        return stored

    def load_campaign(self, campaign_id: str) -> Campaign:
        found = self._read_campaign(self._layout.campaign(campaign_id), campaign_id)
        if found is None:
            raise CampaignNotFound(campaign_id)
        return found[0]

    def save_campaign(self, campaign: Campaign) -> Campaign:
        key = self._layout.campaign(campaign.id)
        known = self._campaign_etags.get(campaign.id)
        if known is not None and known[0] == campaign.version:
            etag = known[1]
        else:
            found = self._read_campaign(key, campaign.id)
            if found is None:
                raise CampaignNotFound(campaign.id)
            current, etag = found
            if current.version != campaign.version:
                raise Conflict(
                    f"campaign '{campaign.id}' was saved by someone else "
                    f"(version {current.version}, this copy has {campaign.version})"
                )
        stored = campaign.model_copy(update={"version": campaign.version + 1})
        try:
            written = self._put(key, campaign_body(stored), if_match=etag, write_id=uuid.uuid4().hex)
        except Conflict as exc:
            self._campaign_etags.pop(campaign.id, None)
            raise Conflict(
                f"campaign '{campaign.id}' was saved by someone else (this copy has version {campaign.version}; {exc})"
            ) from None
        self._campaign_etags[campaign.id] = (stored.version, written)
        return stored

    def campaigns(self) -> list[Campaign]:
        prefix = self._layout.campaigns()
        keys = [k for k in self._list(prefix) if k.endswith(".json") and "/" not in k[len(prefix) :]]
        if len(keys) <= READERS:
            found = [self._listed_campaign(key) for key in keys]
        else:  # one GET each, independent: a few at a time, as a listing of summaries does
            with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="s3-campaigns") as pool:
                found = list(pool.map(self._listed_campaign, keys))
        return sorted((c for c in found if c is not None), key=lambda c: (c.created_at, c.id))

    def _listed_campaign(self, key: str) -> Campaign | None:
        """A listed record; its key names the campaign it must hold (a foreign or misplaced object is named)."""
        found = self._read_campaign(key, key.rsplit("/", 1)[-1].removesuffix(".json"))
        return found[0] if found is not None else None

    def load(self, operation_id: str) -> Operation:
        operation, etag, tail = self._read(operation_id)
        self._remember(operation, etag, tail)
        return operation

    def _remember(self, operation: Operation, etag: str, tail: list[Event]) -> None:
        before = self._seen.get(operation.id)
        flushed = not tail or (before is not None and before.version == operation.version and before.flushed)
        self._seen[operation.id] = _seen_of(operation, etag, tail, flushed)

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
            seen = _seen_of(current, etag, tail, flushed=not tail)
        if not seen.flushed:
            # the tail about to be replaced must exist as its own object first
            self._write_batch(operation.id, seen.version, seen.tail)
            seen.flushed = True
        stored = operation.model_copy(update={"version": operation.version + 1})
        summary = summary_of(stored)
        final = stored.state.is_final
        summary_etag = ""
        # A save that stays in a non-final state finds its index entry as it is (`summary_body`): no PUT.
        unchanged = not final and seen.state is stored.state and seen.summary_etag == etag_of(summary_body(summary))
        if unchanged:
            summary_etag = seen.summary_etag
        elif not final:  # the key of the state it enters exists before the operation is in it
            replaces = (seen.summary_etag or None) if seen.state is stored.state else None
            summary_etag = self._put_summary(summary, replaces)
        try:
            etag = self._put(key, operation_body(stored, events), if_match=seen.etag)
        except Conflict as exc:
            self._seen.pop(operation.id, None)
            if not final and not unchanged:
                self._after_lost_race(summary)
            raise Conflict(
                f"operation '{operation.id}' was saved by someone else (this copy has version "
                f"{operation.version}; {exc})"
            ) from None
        if final:
            summary_etag = self._enter_final(stored, summary, seen) or ""
        elif seen.state is not stored.state and not seen.state.is_final and seen.summary_etag:
            lock_key = lock_key_for(stored.target_kind, stored.target_id)
            previous = self._layout.summary_of_state(seen.state, lock_key, stored.id)
            self._tidy(previous, seen.summary_etag, stored.id)
        written = _Seen(stored.version, etag, list(events), not events, stored.state, summary_etag)
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

    def _batches(self, operation_id: str, after: int, before: int) -> dict[int, list[Event]]:
        """The events objects of the versions after `after` and before `before`, by version."""
        prefix = self._key(EVENTS, operation_id) + "/"
        start = self._layout.batch(operation_id, after) if after > 0 else None
        batches: dict[int, list[Event]] = {}
        for key in self._list(prefix, start_after=start):
            stem = key.rsplit("/", 1)[-1].removesuffix(".json")
            if not stem.isdigit() or not after < int(stem) < before:
                continue  # a later version's object (saved after the operation was read) comes next time
            got = self._get_json(key)
            if got is None:
                continue
            batches[int(stem)] = parse_batch(got[0], self._where(key))
        return batches

    def events(self, operation_id: str) -> list[Event]:
        return self.follow(operation_id).events

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        after = _cursor(cursor)
        # Read the operation first: every version before it has its events object by then.
        operation, etag, tail = self._read(operation_id)
        self._remember(operation, etag, tail)
        version = operation.version
        if after > version:
            raise BadInput(
                f"follow cursor {cursor!r} is ahead of operation '{operation_id}' (version {version}): "
                "it belongs to another operation or store"
            )
        batches = self._batches(operation_id, after, version) if after < version - 1 else {}
        if after < version:
            batches[version] = tail
        return Followed(operation, merge_events(batches), str(version))

    # -- summaries: reads ------------------------------------------------------------------------

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        wanted = self._state_filter(state)
        if kind not in (None, "cluster", "instance"):
            raise BadInput(f"invalid target kind {kind!r}: expected cluster or instance")
        # An operation in a non-final state always has that state's key (written before it entered it); one
        # in a final state may have only its old non-final key (a crash before the final summary was written).
        states = (
            tuple(OperationState) if wanted is None else (wanted, *NON_FINAL_STATES) if wanted.is_final else (wanted,)
        )
        if target_id is not None:
            kinds: tuple[TargetKindFilter, ...] = (kind,) if kind is not None else ("cluster", "instance")
            lock_keys = [self._target_lock_key(k, target_id) for k in kinds]
            if not self._is_marked():
                return self._whole_read(target_id, kind, state)
            keys = [k for s in states for lk in lock_keys for k in self._list(self._layout.summaries(s, lk))]
        elif wanted is not None:
            if not self._is_marked():
                return self._whole_read(target_id, kind, state)
            keys = [k for s in states for k in self._list(self._layout.summaries(s))]
        else:
            keys = self._list(self._layout.summaries())  # the marker is among them, if there is one
            if not self._marked and self._layout.marker() not in keys:
                return self._whole_read(target_id, kind, state)
            self._marked = True
        found = self._resolve(k for k in map(self._layout.parse_summary_key, keys) if k is not None)
        return _matching(found, target_id, kind, wanted)

    def _state_filter(self, state: str | None) -> OperationState | None:
        if state is None:
            return None
        try:
            return OperationState(state)
        except ValueError:
            known = ", ".join(s.value for s in OperationState)
            raise BadInput(f"invalid state {state!r}: expected one of {known}") from None

    def _target_lock_key(self, kind: TargetKindFilter, target_id: str) -> str:
        lock_key = lock_key_for(kind, target_id)
        if not isinstance(target_id, str) or "--" in target_id:
            raise BadInput(f"invalid {kind} identifier {target_id!r}: RDS identifiers never hold two hyphens in a row")
        return check_lock_key(lock_key, "us-east-1")[0]

    def _is_marked(self) -> bool:
        """Whether `rds-maint init` marked the bucket: every operation has its summary."""
        if self._marked:
            return True
        key = self._layout.marker()
        got = self._get_json(key)
        if got is None:
            return False
        check_marker(got[0], self._where(key))
        self._marked = True
        return True

    def _whole_read(
        self, target_id: str | None, kind: TargetKindFilter | None, state: str | None
    ) -> list[OperationSummary]:
        """A bucket without the marker: summaries of every operation read whole, as before summaries existed."""
        if self.url not in _warned_unmarked:
            _warned_unmarked.add(self.url)
            log.warning(
                "s3_store_without_summaries",
                store=self.url,
                hint=f"listing reads every operation; run `rds-maint init --store {self.url}` once to list "
                "from summaries",
            )
        operations = self.list_operations()
        if not operations:
            self._mark_empty()
        return matching_summaries(operations, target_id, kind, state)

    def _mark_empty(self) -> None:
        """An empty store needs no backfill: mark it, so a bucket nobody ran `init` on (a stack's) lists fast."""
        try:
            self._put(self._layout.marker(), marker_body(), if_none_match="*", exists_ok=True)
        except StoreError as exc:
            log.warning("s3_layout_marker_not_written", store=self.url, error=str(exc))
            return
        self._marked = True

    def _resolve(self, keys: Iterable[SummaryKey]) -> list[OperationSummary]:
        """One summary per operation: a final one as it is, otherwise `summary_of` the operation read."""
        by_operation: dict[str, list[SummaryKey]] = {}
        for key in keys:
            by_operation.setdefault(key.operation_id, []).append(key)
        jobs = list(by_operation.values())
        if len(jobs) <= READERS:
            found = [self._summary_from(its_keys) for its_keys in jobs]
        else:  # one GET each, independent: a few at a time (boto3 clients are thread-safe)
            with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="s3-summaries") as pool:
                found = list(pool.map(self._summary_from, jobs))
        return [summary for summary in found if summary is not None]

    def _summary_from(self, its_keys: list[SummaryKey]) -> OperationSummary | None:
        final = [k for k in its_keys if k.state.is_final]
        summary = self._final_summary(final) if final else None
        if summary is not None:
            return summary
        try:
            operation, _, _ = self._read(its_keys[0].operation_id)
        except OperationNotFound:
            return None  # a create that never wrote its operation
        return summary_of(operation)

    def _final_summary(self, keys: list[SummaryKey]) -> OperationSummary | None:
        best: OperationSummary | None = None
        for key in keys:
            got = self._get_raw(key.key)
            if got is None:
                continue
            where = self._where(key.key)
            summary = OperationSummary.from_json(got[0], where)
            if summary.id != key.operation_id or summary.state is not key.state:
                raise StoreError(
                    f"{where} holds the summary of '{summary.id}' in state {summary.state.value}, not what its "
                    "key says; it was left as it is"
                )
            if best is None or summary.version > best.version:
                best = summary
        return best

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
        """Create the bucket (encryption, versioning, no public access) or leave an existing one's settings as
        they are; then give every operation its summary and mark the layout."""
        created, lines = initialise_bucket(self.client, self._layout, self._fail)
        if not created:
            lines.extend(self._backfill())
        self._put(self._layout.marker(), marker_body(), if_none_match="*", exists_ok=True)
        self._marked = True
        lines.append(f"summaries: layout marker {self._where(self._layout.marker())}")
        return lines

    def _backfill(self) -> list[str]:
        """The summary of every operation that has none (written by an older rds-maint), and no stale key of a
        finished one. Safe beside live writers: it writes conditionally and deletes only what no writer needs."""
        items = self._list_items(self._layout.summaries())
        keys: dict[str, list[SummaryKey]] = {}
        modified: dict[str, datetime] = {}
        for item in items:
            parsed = self._layout.parse_summary_key(str(item["Key"]))
            if parsed is not None:
                keys.setdefault(parsed.operation_id, []).append(parsed)
                modified[parsed.key] = item["LastModified"]
        written = removed = 0
        seen_ids: set[str] = set()
        for key in self._list(self._key(OPERATIONS) + "/"):
            name = key.rsplit("/", 1)[-1]
            if not name.endswith(".json"):
                continue
            try:
                operation, _, _ = self._read(name.removesuffix(".json"))
            except OperationNotFound:
                continue
            seen_ids.add(operation.id)
            summary = summary_of(operation)
            expected = self._layout.summary(summary)
            its_keys = keys.get(operation.id, [])
            if expected not in {k.key for k in its_keys}:
                self._put_summary(summary, None)
                written += 1
            if operation.state.is_final:  # terminal: no writer needs a non-final key of it again
                for stale in its_keys:
                    if stale.key != expected:
                        self._delete(stale.key)
                        removed += 1
        old = datetime.now(UTC) - ORPHAN_AGE
        for operation_id, its_keys in keys.items():
            if operation_id in seen_ids:
                continue
            for orphan in its_keys:
                if modified[orphan.key] < old:
                    self._delete(orphan.key)
                    removed += 1
        return [f"summaries: {written} written, {removed} stale removed, for {len(seen_ids)} operation(s)"]


def _matching(
    found: list[OperationSummary], target_id: str | None, kind: TargetKindFilter | None, state: OperationState | None
) -> list[OperationSummary]:
    """The filters, applied to what the operations say (a summary read may be checked against its operation)."""
    kept = [
        s
        for s in found
        if (target_id is None or s.target_id == target_id)
        and (kind is None or s.target_kind == kind)
        and (state is None or s.state is state)
    ]
    return sorted(kept, key=lambda s: (s.created_at, s.id))
