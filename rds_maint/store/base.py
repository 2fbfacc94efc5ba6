"""The StateStore protocol: what the engine needs from any place that keeps operations."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from rds_maint.campaign_model import CAMPAIGN_SCHEMA_VERSION, Campaign, check_campaign_id
from rds_maint.errors import BadInput, OperationNotFound, StoreError
from rds_maint.model import SCHEMA_VERSION, Event, Operation
from rds_maint.store.summary import OperationSummary, summary_of

__all__ = [
    "INSTANCE_LOCK_PREFIX",
    "Followed",
    "StateStore",
    "TargetKindFilter",
    "campaign_record",
    "check_campaign_id",
    "check_lock_key",
    "check_operation_id",
    "check_schema",
    "decode_record",
    "find_operation",
    "lock_key_for",
    "matching_summaries",
    "operation_record",
]

_OPERATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
# RDS cluster identifiers (1-63: a letter first, letters, digits, hyphens) and region names.
# A cluster's lock key is its identifier; a DB instance's is `instance--` + its identifier (`lock_key_for`).
_CLUSTER_ID = re.compile(r"^(instance--)?[A-Za-z][A-Za-z0-9-]{0,62}$")
INSTANCE_LOCK_PREFIX = "instance--"
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$")


def check_operation_id(operation_id: str) -> str:
    """Refuse ids that could escape a directory, key prefix or table key."""
    if not isinstance(operation_id, str) or not _OPERATION_ID.match(operation_id):
        raise BadInput(
            f"invalid operation id {operation_id!r}: use letters, digits, '-' and '_' "
            "(at most 128 characters, no path characters)"
        )
    return operation_id


def lock_key_for(kind: str, target_id: str) -> str:
    """The store's lock key of a target. A DB instance and a DB cluster may share an identifier (they are
    named apart in AWS), so an instance's key carries a prefix no RDS identifier can hold (two hyphens in a
    row are not allowed in one): the lock of instance `orders` never stops an operation on cluster `orders`.
    """
    return f"{INSTANCE_LOCK_PREFIX}{target_id}" if kind == "instance" else target_id


def check_lock_key(cluster_id: str, region: str) -> tuple[str, str]:
    """A cluster lock is named by cluster and region: both become part of a path or key."""
    if not isinstance(cluster_id, str) or not _CLUSTER_ID.match(cluster_id):
        raise BadInput(
            f"invalid cluster identifier {cluster_id!r}: a letter first, then letters, digits and hyphens "
            "(at most 63 characters)"
        )
    if not isinstance(region, str) or not _REGION.match(region):
        raise BadInput(f"invalid region {region!r}: expected a region name such as us-east-1")
    return cluster_id, region


def decode_record(raw: bytes, where: str) -> dict[str, Any]:
    """A stored record as a JSON object, or a StoreError naming the record and what is wrong with it.

    Every store reads its records through this, so a damaged one (a hand edit, a truncated write, a
    file from another tool) is reported the same way everywhere, and never rewritten.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"{where} is not valid UTF-8 (byte {exc.start}: {exc.reason}); it was left as it is") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{where} is not valid JSON ({exc}); it was left as it is") from None
    if not isinstance(data, dict):
        raise StoreError(
            f"{where} holds a JSON {type(data).__name__}, not an object as rds-maint writes; it was left as it is"
        )
    return data


def check_schema(value: Any, where: str) -> int:
    """A record's `schema_version`: a whole number this rds-maint can read (missing means 1).

    Every version from 1 to `SCHEMA_VERSION` is readable: an older record is brought up to date by
    the model as it is validated (rds_maint.model). A newer one is refused rather than read, since
    this rds-maint would drop what it does not know; below 1 is no version rds-maint ever wrote.
    """
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"{where} has schema_version {value!r}, which is not a number; it was left as it is")
    if value > SCHEMA_VERSION:
        raise StoreError(
            f"{where} was written by a newer rds-maint (schema {value}, this one knows {SCHEMA_VERSION}); "
            "it was neither read nor overwritten: upgrade rds-maint"
        )
    if value < 1:
        raise StoreError(
            f"{where} has schema_version {value}, which no rds-maint writes (versions start at 1); it was left as it is"
        )
    return value


def operation_record(raw: bytes, where: str, operation_id: str | None = None) -> Operation:
    """The operation a stored body holds (its schema checked, an older one migrated by the model), or a
    StoreError naming the record; with `operation_id`, also that it is that operation's record."""
    data = decode_record(raw, where)
    check_schema(data.get("schema_version"), where)
    try:
        operation = Operation.model_validate(data)
    except ValidationError as exc:
        raise StoreError(f"{where} does not hold a valid operation: {exc}") from exc
    if operation_id is not None and operation.id != operation_id:
        raise StoreError(f"{where} holds operation '{operation.id}', not '{operation_id}'; it was left as it is")
    return operation


def campaign_record(raw: bytes, where: str, campaign_id: str | None = None) -> Campaign:
    """The campaign a stored body holds, or a StoreError naming the record (as `operation_record`)."""
    data = decode_record(raw, where)
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CAMPAIGN_SCHEMA_VERSION:
        raise StoreError(
            f"{where} was written by a newer rds-maint (campaign schema {version}, this one knows "
            f"{CAMPAIGN_SCHEMA_VERSION}); it was neither read nor overwritten: upgrade rds-maint"
        )
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise StoreError(f"{where} does not hold a valid campaign: {exc}") from exc
    if campaign_id is not None and campaign.id != campaign_id:
        raise StoreError(f"{where} holds campaign '{campaign.id}', not '{campaign_id}'; it was left as it is")
    return campaign


TargetKindFilter = Literal["cluster", "instance"]


@dataclass(frozen=True)
class Followed:
    """What `StateStore.follow` read: the operation, the events saved since the cursor, and the next cursor.

    The cursor is the store's own (opaque to callers): pass back the one returned to read only what is new.
    Every event of `events` was saved with a version no later than `operation.version`'s successor: a caller
    that shows the events and then the operation never shows an event twice.
    """

    operation: Operation
    events: list[Event]
    cursor: str


def matching_summaries(
    ops: Iterable[Operation], target_id: str | None, kind: TargetKindFilter | None, state: str | None
) -> list[OperationSummary]:
    """The summaries of `ops` that match the filters, oldest first (the reading of a store without an index)."""
    found = [
        summary_of(op)
        for op in ops
        if (target_id is None or op.target_id == target_id)
        and (kind is None or op.target_kind == kind)
        and (state is None or op.state.value == state)
    ]
    return sorted(found, key=lambda s: (s.created_at, s.id))


class StateStore(Protocol):
    """The store port: keeps operations, their event logs and one lock per cluster.

    `create` fails if the id exists; `save` writes only if the stored version is the
    one the caller loaded (a lost race raises Conflict and changes nothing), then
    bumps `version` and appends the events in the same conditional write, so a
    losing writer's events never appear and a winner's are never lost.

    Cluster locks: `acquire_lock` takes the lock of (cluster, region) for an operation
    and returns the id of the operation that holds it afterwards: `operation_id` when it
    was free or already held by that operation, the other holder's id otherwise.
    `replace=X` takes over a lock held by X (compare-and-swap: the engine does this only
    when X has finished). `release_lock` frees the lock only if `operation_id` holds it.

    What every method may raise (rds_maint.errors), besides what each lists:

    - `BadInput`: an operation id, cluster identifier or region that could escape a path or
      key (`check_operation_id`, `check_lock_key`); nothing was read or written.
    - `StoreNotFound` (a `StoreError` and a `BadInput`): the bucket or table the URL names does
      not exist; the store never creates it (`init_store` does).
    - `StoreError`: the storage refuses access, stays throttled or unreachable past the bounded
      retries, or holds a record that is damaged or written by a newer rds-maint. The record is
      named in the message and left as it is: a store never resets or skips what it cannot read.
    - `CredentialsError`, `UnknownProfile`, `AwsParameterError` (cloud stores only): the AWS
      credentials or parameters are unusable; nothing was sent or written.

    Any other exception is a bug in the store.
    """

    url: str

    def create(self, operation: Operation, events: list[Event]) -> Operation:
        """Store a new operation at version 1 with its first events; the stored copy is returned.

        Raises BadInput ("already exists") when the id is taken; StoreError, nothing written, when
        the operation cannot be stored (DynamoDB: beyond the item limit even compressed).
        """
        ...

    def load(self, operation_id: str) -> Operation:
        """The stored operation. Raises OperationNotFound when there is none."""
        ...

    # Campaigns (rds_maint.campaign_model): one record each, beside the operations, saved as operations are.

    def create_campaign(self, campaign: Campaign) -> Campaign:
        """Store a new campaign at version 1; the stored copy is returned. BadInput ("already exists") when
        the id is taken; StoreError, nothing written, when the record cannot be stored."""
        ...

    def load_campaign(self, campaign_id: str) -> Campaign:
        """The stored campaign. Raises CampaignNotFound when there is none."""
        ...

    def save_campaign(self, campaign: Campaign) -> Campaign:
        """Write only if the stored version is `campaign.version` (else Conflict, nothing written), bump it,
        and return the stored copy. CampaignNotFound if it was never created."""
        ...

    def campaigns(self) -> list[Campaign]:
        """Every campaign of the store, oldest first (created_at, then id)."""
        ...

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        """Write `operation` as version + 1 with `events`, if the stored version is still `operation.version`.

        Raises Conflict, changing nothing, when another writer saved first; OperationNotFound when
        there is no such operation (S3: Conflict when it vanished after this process read it);
        StoreError when the stored record was written by a newer rds-maint (never overwritten).
        """
        ...

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        """Operations, oldest first, of a cluster and/or in a state. Raises StoreError on a damaged record."""
        ...

    def events(self, operation_id: str) -> list[Event]:
        """An operation's events in commit order, each once. Raises OperationNotFound when there is none."""
        ...

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        """The summaries of the operations on a target (of a kind) and/or in a state, oldest first.

        What `list` reads: never whole operations where the store keeps summaries. Raises StoreError on a
        damaged record (named).
        """
        ...

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        """The operation and its events saved since `cursor` (all of them when None), with the next cursor.

        What `status --watch` reads at each look: the store reads only what is new where it can. Raises
        OperationNotFound when there is no such operation.
        """
        ...

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        """The lock holder after trying to take the lock for `operation_id` (see above).

        Raises StoreError when the lock record is damaged (never taken as free) or kept changing
        through every attempt.
        """
        ...

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool:
        """Free the lock if `operation_id` holds it: True if it did, False (nothing changed) otherwise."""
        ...

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        """The operation holding the cluster's lock, None when free. Raises StoreError on a damaged record."""
        ...


def find_operation(store: StateStore, operation_id: str) -> Operation | None:
    """The operation, or None when the store has none under that id (a campaign target not made yet)."""
    try:
        return store.load(operation_id)
    except OperationNotFound:
        return None
