"""`dynamodb://TABLE`: one item per operation, optimistic locking on a numeric `version`.

Table layout (what `rds-maint init --store dynamodb://TABLE` creates):

* key `pk` (S, hash) + `sk` (S, range), on-demand billing, encryption at rest, PITR;
* operation: `pk=OP#<id>`, `sk=OPERATION`, `version` (N), `schema_version` (N), the operation
  JSON in `body` (S) or, above 64 KB, zlib-compressed in `body_z` (B); `summary` (S, the JSON of
  `store.summary.summary_of` the stored operation: what `list` reads); `cluster_id` (the target's
  id: a cluster's, or an RDS DB instance's; the attribute keeps its name so existing tables and their
  index serve both), `op_state`, `target_type`, `created_at` for the indexes; `write_id`, unique per
  write (a retry after a lost answer recognises its own write by it);
* events: `pk=OP#<id>`, `sk=EVENT#<version:010d>#<n:04d>`, one item per event, written in the
  same transaction as the operation they were saved with (so a lost race writes none);
* target lock: `pk=LOCK#<region>#<key>`, `sk=LOCK`, `holder` (deleted when released); the key is the
  cluster id, or `instance--<id>` for a DB instance (`store.base.lock_key_for`);
* campaign: `pk=CAMPAIGNS`, `sk=CAMPAIGN#<id>`, `version` (N), `schema_version` (N, the campaign
  schema), the record's JSON in `body`, or zlib-compressed in `body_z` above 8 KB (it is rewritten
  at every target's start and end, and a write is billed per KB), `write_id` as an operation's.
  All campaigns share that one partition, so `campaigns()` is one Query (paged), with no index and no
  Scan; the items carry no attribute an index is keyed on. Created with `attribute_not_exists(pk)`,
  saved with `#version = :expected` (and the `write_id` read, when this process read that version):
  one PutItem each, nothing else depends on it, so there is no crash window. A campaign of 500 targets
  is about 240 KB of JSON and 10 KB compressed; one beyond the item limit even so is refused, nothing
  written;
* GSIs `by_cluster` (`cluster_id`, `created_at`) and `by_state` (`op_state`, `created_at`), both
  sparse (only operation items carry those attributes), projecting `summary` and what a listing
  filters on (INCLUDE; an older `init` made them ALL, which still serves).

The summary is an attribute of the operation item, so it is written by the very conditional write
that writes the body: there is no crash window in which one is saved and not the other, and no
second write to retry. An item an older rds-maint wrote has no summary until its next save; a
listing derives one from its body meanwhile and never writes it (dynamodb_reads.py).

Every write is conditional: `attribute_not_exists(pk)` on create, `#version = :expected` on
save (with `ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a lost race costs no extra read).
An item is at most 400 KB: operations are small (tens of KB), large ones are compressed, and
one that would still not fit is refused with a clear error before anything is written.

The items themselves (keys, bodies, lock records) are built and read in `dynamodb_items.py`;
`rds-maint init` creates the table in `dynamodb_table.py`; the listing and follow requests are
built in `dynamodb_reads.py`. This module is the write protocol and sends those reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore import xform_name
from botocore.exceptions import ClientError

from rds_maint.campaign_model import CAMPAIGN_SCHEMA_VERSION, Campaign
from rds_maint.errors import BadInput, CampaignNotFound, Conflict, OperationNotFound, StoreError, StoreNotFound
from rds_maint.model import SCHEMA_VERSION, Event, Operation, OperationState
from rds_maint.store.aws import DENIED_CODES, backoff, error_code, error_message, make_client, with_retries
from rds_maint.store.base import Followed, TargetKindFilter, check_operation_id
from rds_maint.store.dynamodb_items import (
    BY_CLUSTER,
    BY_STATE,
    CAMPAIGN_PREFIX,
    CAMPAIGNS_PK,
    EVENT_PREFIX,
    OPERATION_SK,
    campaign_item,
    campaign_key,
    event_item,
    holder_of,
    lock_item,
    lock_key,
    lock_pk,
    number,
    op_pk,
    operation_item,
    parse_campaign,
    parse_event,
    parse_operation,
    parse_summary,
    str_attr,
)
from rds_maint.store.dynamodb_reads import check_cursor, follow_query, matches, new_events, summary_queries
from rds_maint.store.dynamodb_table import initialise_table
from rds_maint.store.summary import OperationSummary, summary_of
from rds_maint.store.urls import parse_dynamodb_url

__all__ = ["DynamoDBStore", "parse_dynamodb_url"]

MAX_EVENTS_PER_SAVE = 99  # a transaction holds at most 100 writes
CONFLICT_ATTEMPTS = 4
LOCK_ATTEMPTS = 5
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def _answer(exc: ClientError) -> dict[str, Any]:
    """The error response as a plain dict (it carries `Item` / `CancellationReasons`)."""
    response: dict[str, Any] = dict(exc.response)
    return response


class DynamoDBStore:
    def __init__(
        self,
        table: str,
        *,
        region: str | None = None,
        profile: str | None = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table = table
        self.url = f"dynamodb://{table}"
        self.client = client if client is not None else make_client("dynamodb", region, profile)
        self._sleep = sleep
        # operation id -> (version, write_id) last read or written here: a save of that version
        # also requires that write_id, so any change behind our back (same version) is a conflict.
        self._written: dict[str, tuple[int, str]] = {}
        self._campaigns_written: dict[str, tuple[int, str]] = {}  # the same, per campaign id

    # -- plumbing --------------------------------------------------------------------------------

    def _call(self, api: str, **kwargs: Any) -> Any:
        method = getattr(self.client, xform_name(api))
        return with_retries(lambda: method(**kwargs), f"DynamoDB {api} on table {self.table}", self._sleep)

    def _fail(self, exc: ClientError, api: str) -> StoreError:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            region = self.client.meta.region_name
            return StoreNotFound(
                f"DynamoDB table '{self.table}' does not exist in {region}: create the store with: "
                f"rds-maint init --store {self.url}"
            )
        if code in DENIED_CODES:
            return StoreError(
                f"access denied: DynamoDB {api} on table {self.table} ({error_message(exc)}); the role needs "
                "dynamodb:GetItem, PutItem, DeleteItem and Query on the table and its indexes (see "
                "iam/lambda-policy.json); `rds-maint init` and `unlock --force` are administrator actions: the "
                "read-only operator policy lacks the writes they need (see iam/README.md)"
            )
        return StoreError(f"DynamoDB {api} on table {self.table} failed: {code}: {error_message(exc)}")

    def _where(self, pk: str) -> str:
        return f"dynamodb://{self.table} item {pk}"

    def _parse(self, item: dict[str, Any], operation_id: str | None = None) -> Operation:
        return parse_operation(item, self._where(str(item.get("pk", {}).get("S", "?"))), operation_id)

    # -- conditional writes ----------------------------------------------------------------------

    def _write(
        self,
        item: dict[str, Any],
        events: list[Event],
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Write the operation item (and its events) if `condition` holds.

        Returns None on success, or the item as it is now when the condition failed (an
        empty dict when there is none). A write that already went through (a lost response
        then a retry) counts as success.
        """
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            put["ExpressionAttributeValues"] = values
        if not events:
            try:
                self._call("PutItem", **put)
                return None
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise self._fail(exc, "PutItem") from exc
                return self._refused(item, _answer(exc).get("Item"))
        if len(events) > MAX_EVENTS_PER_SAVE:
            raise StoreError(f"{len(events)} events in one save; the DynamoDB store takes {MAX_EVENTS_PER_SAVE}")
        operation_id = item["pk"]["S"][len("OP#") :]
        version = int(item["version"]["N"])
        writes: list[dict[str, Any]] = [{"Put": put}]
        for index, event in enumerate(events):
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": event_item(operation_id, version, index, event),
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": "pk"},
                    }
                }
            )
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self._call("TransactWriteItems", TransactItems=writes)
                return None
            except ClientError as exc:
                code = error_code(exc)
                if code == "TransactionConflictException" or code == "TransactionInProgressException":
                    reasons: list[dict[str, Any]] = [{"Code": "TransactionConflict"}]
                elif code == "TransactionCanceledException":
                    reasons = list(_answer(exc).get("CancellationReasons") or [])
                else:
                    raise self._fail(exc, "TransactWriteItems") from exc
                first = reasons[0] if reasons else {}
                if first.get("Code") == "ConditionalCheckFailed":
                    return self._refused(item, first.get("Item"))
                if any(r.get("Code") in _TRANSIENT_REASONS for r in reasons) and attempt < CONFLICT_ATTEMPTS:
                    self._sleep(backoff(attempt))
                    continue
                found = ", ".join(str(r.get("Code")) for r in reasons)
                raise StoreError(f"DynamoDB refused the write of {self._where(item['pk']['S'])}: {found}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _refused(item: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any] | None:
        if current is not None and current.get("write_id") == item["write_id"]:
            return None  # this very write went through earlier (its answer was lost)
        return current or {}

    # -- operations ------------------------------------------------------------------------------

    def create(self, operation: Operation, events: list[Event]) -> Operation:
        stored = operation.model_copy(update={"version": 1})
        item = operation_item(stored)
        current = self._write(item, events, "attribute_not_exists(#pk)", {"#pk": "pk"}, {})
        if current is not None:
            raise BadInput(f"operation '{operation.id}' already exists")
        self._written[operation.id] = (stored.version, item["write_id"]["S"])
        return stored

    # -- campaigns ------------------------------------------------------------------------------

    def _campaign_where(self, campaign_id: str) -> str:
        return f"dynamodb://{self.table} item {CAMPAIGNS_PK}/{CAMPAIGN_PREFIX}{campaign_id} (campaign record)"

    def _parse_campaign(self, item: dict[str, Any], campaign_id: str) -> Campaign:
        campaign = parse_campaign(item, self._campaign_where(campaign_id), campaign_id)
        write_id = item.get("write_id", {}).get("S")
        if write_id:
            self._campaigns_written[campaign_id] = (campaign.version, str(write_id))
        return campaign

    def create_campaign(self, campaign: Campaign) -> Campaign:
        stored = campaign.model_copy(update={"version": 1})
        item = campaign_item(stored)
        current = self._write(item, [], "attribute_not_exists(#pk)", {"#pk": "pk"}, {})
        if current is not None:
            raise BadInput(f"campaign '{campaign.id}' already exists")
        self._campaigns_written[campaign.id] = (stored.version, item["write_id"]["S"])
        return stored

    def load_campaign(self, campaign_id: str) -> Campaign:
        try:
            response = self._call("GetItem", TableName=self.table, Key=campaign_key(campaign_id), ConsistentRead=True)
        except ClientError as exc:
            raise self._fail(exc, "GetItem") from exc
        item = response.get("Item")
        if not item:
            raise CampaignNotFound(campaign_id)
        return self._parse_campaign(item, campaign_id)

    def save_campaign(self, campaign: Campaign) -> Campaign:
        stored = campaign.model_copy(update={"version": campaign.version + 1})
        item = campaign_item(stored)
        condition = "#version = :expected AND (attribute_not_exists(#schema) OR #schema <= :schema)"
        names = {"#version": "version", "#schema": "schema_version"}
        values: dict[str, Any] = {
            ":expected": {"N": str(campaign.version)},
            ":schema": {"N": str(CAMPAIGN_SCHEMA_VERSION)},
        }
        known = self._campaigns_written.get(campaign.id)
        if known is not None and known[0] == campaign.version:
            # the very write read here: a change behind our back that kept the version (a hand edit) conflicts
            condition += " AND #write_id = :write_id"
            names["#write_id"] = "write_id"
            values[":write_id"] = str_attr(known[1])
        current = self._write(item, [], condition, names, values)
        if current is None:
            self._campaigns_written[campaign.id] = (stored.version, item["write_id"]["S"])
            return stored
        self._campaigns_written.pop(campaign.id, None)
        if not current:
            raise CampaignNotFound(campaign.id)
        where = self._campaign_where(campaign.id)
        schema = number(current.get("schema_version"), where, "schema_version") or 1
        if schema > CAMPAIGN_SCHEMA_VERSION:
            raise StoreError(
                f"{where} was written by a newer rds-maint (campaign schema {schema}); this one refuses to overwrite it"
            )
        found = current.get("version", {}).get("N", "?")
        if found == str(campaign.version):
            raise Conflict(f"campaign '{campaign.id}' was changed by another writer since version {found} was read")
        raise Conflict(
            f"campaign '{campaign.id}' was saved by someone else (version {found}, this copy has {campaign.version})"
        )

    def campaigns(self) -> list[Campaign]:
        """One consistent Query of the campaigns' partition (paged: the records are read whole)."""
        items = self._query(
            "campaigns",
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"},
            ExpressionAttributeValues={":pk": str_attr(CAMPAIGNS_PK), ":prefix": str_attr(CAMPAIGN_PREFIX)},
            ConsistentRead=True,
        )
        found = [self._parse_campaign(item, str(item["sk"]["S"])[len(CAMPAIGN_PREFIX) :]) for item in items]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def load(self, operation_id: str) -> Operation:
        try:
            response = self._call(
                "GetItem",
                TableName=self.table,
                Key={"pk": str_attr(op_pk(operation_id)), "sk": str_attr(OPERATION_SK)},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise self._fail(exc, "GetItem") from exc
        item = response.get("Item")
        if not item:
            raise OperationNotFound(operation_id)
        operation = self._parse(item, operation_id)
        write_id = item.get("write_id", {}).get("S")
        if write_id:
            self._written[operation_id] = (operation.version, str(write_id))
        return operation

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        stored = operation.model_copy(update={"version": operation.version + 1})
        item = operation_item(stored)
        condition = "#version = :expected AND (attribute_not_exists(#schema) OR #schema <= :schema)"
        names = {"#version": "version", "#schema": "schema_version"}
        values: dict[str, Any] = {":expected": {"N": str(operation.version)}, ":schema": {"N": str(SCHEMA_VERSION)}}
        known = self._written.get(operation.id)
        if known is not None and known[0] == operation.version:
            condition += " AND #write_id = :write_id"
            names["#write_id"] = "write_id"
            values[":write_id"] = str_attr(known[1])
        current = self._write(item, events, condition, names, values)
        if current is None:
            self._written[operation.id] = (stored.version, item["write_id"]["S"])
            return stored
        self._written.pop(operation.id, None)
        if not current:
            raise OperationNotFound(operation.id)
        found = current.get("version", {}).get("N", "?")
        schema = number(current.get("schema_version"), self._where(op_pk(operation.id)), "schema_version") or 1
        if schema > SCHEMA_VERSION:
            raise StoreError(
                f"{self._where(op_pk(operation.id))} was written by a newer rds-maint (schema {schema}); "
                "this one refuses to overwrite it"
            )
        if found == str(operation.version):
            raise Conflict(f"operation '{operation.id}' was changed by another writer since version {found} was read")
        raise Conflict(
            f"operation '{operation.id}' was saved by someone else (version {found}, this copy has {operation.version})"
        )

    def _query(self, what: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            page_kwargs = dict(kwargs, TableName=self.table)
            if start:
                page_kwargs["ExclusiveStartKey"] = start
            try:
                page = self._call("Query", **page_kwargs)
            except ClientError as exc:
                raise self._fail(exc, f"Query ({what})") from exc
            items.extend(page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        if cluster_id is not None:
            items = self._query(
                BY_CLUSTER,
                IndexName=BY_CLUSTER,
                KeyConditionExpression="cluster_id = :c",
                ExpressionAttributeValues={":c": str_attr(cluster_id)},
            )
        else:
            states = [state] if state is not None else [s.value for s in OperationState]
            items = []
            for value in states:
                items.extend(
                    self._query(
                        BY_STATE,
                        IndexName=BY_STATE,
                        KeyConditionExpression="op_state = :s",
                        ExpressionAttributeValues={":s": str_attr(value)},
                    )
                )
        found = [op for op in (self._whole(item) for item in items) if op is not None]
        found = [op for op in found if state is None or op.state.value == state]
        return sorted(found, key=lambda op: op.created_at)

    def _operation_item(self, pk: str) -> dict[str, Any] | None:
        """An operation item read by its key (eventually consistent, as the index that named it)."""
        try:
            response = self._call(
                "GetItem", TableName=self.table, Key={"pk": str_attr(pk), "sk": str_attr(OPERATION_SK)}
            )
        except ClientError as exc:
            raise self._fail(exc, "GetItem") from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _whole(self, entry: dict[str, Any]) -> Operation | None:
        """The operation an index entry stands for: its body when the index projects ALL (an older
        `init`), else the item read from the table (None when it is gone since the index listed it).
        Whole operations are for callers that need them; `list` reads `summaries`."""
        if "body" in entry or "body_z" in entry:
            return self._parse(entry)
        pk = str(entry.get("pk", {}).get("S", "?"))
        item = self._operation_item(pk)
        return self._parse(item) if item else None

    def events(self, operation_id: str) -> list[Event]:
        # One query: the event items sort before the operation item (EVENT# < OPERATION).
        items = self._query(
            "events",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": str_attr(op_pk(operation_id))},
            ConsistentRead=True,
        )
        if not any(item.get("sk", {}).get("S") == OPERATION_SK for item in items):
            raise OperationNotFound(operation_id)
        found: list[Event] = []
        for item in items:
            sk = str(item.get("sk", {}).get("S", ""))
            if not sk.startswith(EVENT_PREFIX):
                continue
            found.append(parse_event(item, f"{self._where(op_pk(operation_id))} {sk}"))
        return found

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        """From the indexes, summaries only (dynamodb_reads.py); an older item without one is read whole."""
        found: list[OperationSummary] = []
        for what, query in summary_queries(target_id, kind, state):
            for entry in self._query(what, **query):
                pk = str(entry.get("pk", {}).get("S", "?"))
                summary = parse_summary(entry, self._where(pk))
                if summary is None:
                    summary = self._summary_of_older(pk)
                if summary is not None and matches(summary, target_id, kind, state):
                    found.append(summary)
        return sorted(found, key=lambda s: (s.created_at, s.id))

    def _summary_of_older(self, pk: str) -> OperationSummary | None:
        """The summary of an item an older rds-maint wrote (no `summary`): from its body, read-only.
        None when the item is gone since the index listed it."""
        item = self._operation_item(pk)
        if not item:
            return None
        return parse_summary(item, self._where(pk)) or summary_of(self._parse(item))

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        """One consistent Query: the events after the cursor and the operation item (dynamodb_reads.py)."""
        after = check_cursor(cursor)
        partition = op_pk(operation_id)
        items = self._query("follow", **follow_query(partition, after))
        item = next((i for i in items if i.get("sk", {}).get("S") == OPERATION_SK), None)
        if item is None:
            raise OperationNotFound(operation_id)
        operation = self._parse(item, operation_id)
        write_id = item.get("write_id", {}).get("S")
        if write_id:
            self._written[operation_id] = (operation.version, str(write_id))
        handed = new_events(items, after, operation.version)
        events = [parse_event(e, f"{self._where(partition)} {e['sk']['S']}") for e in handed]
        return Followed(operation, events, str(handed[-1]["sk"]["S"]) if handed else after)

    # -- cluster locks ---------------------------------------------------------------------------

    def _lock_where(self, cluster_id: str, region: str) -> str:
        return f"{self._where(lock_pk(cluster_id, region))} (lock record)"

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        check_operation_id(operation_id)
        item = lock_item(cluster_id, region, operation_id)
        condition = "attribute_not_exists(#pk) OR #holder = :me"
        values: dict[str, Any] = {":me": str_attr(operation_id)}
        if replace is not None:
            condition += " OR #holder = :old"
            values[":old"] = str_attr(replace)
        for _ in range(LOCK_ATTEMPTS):
            try:
                self._call(
                    "PutItem",
                    TableName=self.table,
                    Item=item,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#pk": "pk", "#holder": "holder"},
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return operation_id
            except ClientError as exc:
                if error_code(exc) != "ConditionalCheckFailedException":
                    raise self._fail(exc, "PutItem") from exc
                holder = holder_of(_answer(exc).get("Item"), self._lock_where(cluster_id, region))
                if holder:
                    return holder
        raise StoreError(f"the lock of {cluster_id} in {region} kept changing while it was being taken; try again")

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool:
        try:
            self._call(
                "DeleteItem",
                TableName=self.table,
                Key=lock_key(cluster_id, region),
                ConditionExpression="#holder = :me",
                ExpressionAttributeNames={"#holder": "holder"},
                ExpressionAttributeValues={":me": str_attr(operation_id)},
            )
            return True
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise self._fail(exc, "DeleteItem") from exc

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        try:
            response = self._call(
                "GetItem", TableName=self.table, Key=lock_key(cluster_id, region), ConsistentRead=True
            )
        except ClientError as exc:
            raise self._fail(exc, "GetItem") from exc
        return holder_of(response.get("Item"), self._lock_where(cluster_id, region))

    # -- rds-maint init --------------------------------------------------------------------------

    def initialise(self) -> list[str]:
        """Create the table with its indexes; check (never change) an existing one (dynamodb_table.py)."""
        return initialise_table(self.client, self.table, self._fail)
