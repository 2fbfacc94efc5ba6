"""Campaign records on every store: create once, load, conditional save, list oldest first, damage named."""

from __future__ import annotations

import json
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from rds_maint.campaign_model import (
    Campaign,
    CampaignEvent,
    CampaignRequest,
    CampaignState,
    CampaignTarget,
    TargetState,
    target_operation_id,
)
from rds_maint.errors import BadInput, CampaignNotFound, Conflict, StoreError
from rds_maint.model import Operation, OperationType, Step
from rds_maint.store import DynamoDBStore, FileStore, S3Store, StateStore, init_store, open_store
from tests.helpers.call_params import record_params
from tests.helpers.world import REGION, STORE_KINDS, store_url_for

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    with mock_aws():
        url = store_url_for(str(request.param), tmp_path)
        if request.param != "file":
            init_store(url)
        yield open_store(url)


def campaign(campaign_id: str = "c-1", targets: int = 3, minutes: int = 0) -> Campaign:
    at = NOW + timedelta(minutes=minutes)
    ids = [f"db-{i}" for i in range(targets)]
    request = CampaignRequest(type=OperationType.INSTANCE_CYCLE, target_ids=ids, region=REGION, max_concurrency=2)
    return Campaign(
        id=campaign_id,
        request=request,
        targets=[
            CampaignTarget(index=i, target_id=t, wave=0, operation_id=target_operation_id(campaign_id, i), params={})
            for i, t in enumerate(ids)
        ],
        created_at=at,
        updated_at=at,
    )


def operation_of(operation_id: str) -> Operation:
    return Operation(
        id=operation_id,
        type=OperationType.INSTANCE_CYCLE,
        cluster_id="c1",
        region=REGION,
        parameters={},
        steps=[Step(id="s01", name="check_cluster", action="check_cluster", description="check")],
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_campaign_is_created_once_and_loaded_as_it_was(store: StateStore) -> None:
    stored = store.create_campaign(campaign())
    assert stored.version == 1
    loaded = store.load_campaign("c-1")
    assert loaded == stored
    assert [t.operation_id for t in loaded.targets] == ["c-1-0001", "c-1-0002", "c-1-0003"]
    with pytest.raises(BadInput, match="already exists"):
        store.create_campaign(campaign())
    assert store.load_campaign("c-1").version == 1


def test_a_stale_campaign_save_is_refused_and_changes_nothing(store: StateStore) -> None:
    first = store.create_campaign(campaign())
    first.targets[0].state = TargetState.RUNNING
    saved = store.save_campaign(first)
    assert saved.version == 2
    stale = first.model_copy(deep=True)
    stale.targets[1].state = TargetState.FAILED
    with pytest.raises(Conflict):
        store.save_campaign(stale)
    loaded = store.load_campaign("c-1")
    assert loaded.version == 2
    assert [t.state for t in loaded.targets] == [TargetState.RUNNING, TargetState.PENDING, TargetState.PENDING]


def test_unknown_campaigns_and_bad_ids_are_refused(store: StateStore) -> None:
    with pytest.raises(CampaignNotFound):
        store.load_campaign("c-none")
    with pytest.raises(CampaignNotFound):
        store.save_campaign(campaign("c-none").model_copy(update={"version": 1}))
    with pytest.raises(BadInput, match="invalid campaign id"):
        store.load_campaign("../escape")


def test_campaigns_are_listed_oldest_first_and_apart_from_operations(store: StateStore) -> None:
    assert store.campaigns() == []
    store.create_campaign(campaign("c-late", minutes=5))
    store.create_campaign(campaign("c-early", minutes=1))
    assert [c.id for c in store.campaigns()] == ["c-early", "c-late"]
    assert store.summaries() == []  # a campaign is no operation


# -- what a user would notice beyond the basics: damage, size, races, lost answers, request counts ------------


def big_campaign(campaign_id: str = "c-big", targets: int = 500) -> Campaign:
    """A campaign of `targets` with what a long run leaves in it: per-target params, reasons, a history."""
    big = campaign(campaign_id, targets=targets)
    for target in big.targets:
        target.params = {"target_instance_type": "db.r6g.xlarge", "apply_immediately": True}
        target.state = TargetState.COMPLETED
        target.operation_state = "completed"
        target.reason = f"instance {target.target_id} is db.r6g.xlarge now; its writer failed over once"
        target.started_at = target.ended_at = NOW
    big.history = [
        CampaignEvent(type="target_started", message=f"started {t.target_id}", timestamp=NOW) for t in big.targets
    ]
    return big


def record_name(store: StateStore, campaign_id: str) -> str:
    """How each store names a campaign record in its messages."""
    if isinstance(store, FileStore):
        return str(store.root / ".campaigns" / f"{campaign_id}.json")
    if isinstance(store, S3Store):
        return f"s3://{store.bucket}/{store.prefix}/campaigns/{campaign_id}.json"
    return f"item CAMPAIGNS/CAMPAIGN#{campaign_id}"


def s3_key(store: S3Store, campaign_id: str) -> str:
    return f"{store.prefix}/campaigns/{campaign_id}.json"


TABLE_NAME = "rds-maint-test-state"  # tests.helpers.world.store_url_for's table
DDB_KEY = {"pk": {"S": "CAMPAIGNS"}, "sk": {"S": "CAMPAIGN#c-1"}}


def raw_record(store: StateStore) -> Any:
    """Campaign c-1 as the storage holds it, read around the store."""
    if isinstance(store, FileStore):
        return (store.root / ".campaigns" / "c-1.json").read_bytes()
    if isinstance(store, S3Store):
        return boto3.client("s3").get_object(Bucket=store.bucket, Key=s3_key(store, "c-1"))["Body"].read()
    assert isinstance(store, DynamoDBStore)
    return boto3.client("dynamodb").get_item(TableName=store.table, Key=DDB_KEY)["Item"]


def overwrite(store: StateStore, body: bytes, schema: int = 1) -> None:
    """Put `body` where campaign c-1 is, as a hand edit or another tool would (DynamoDB: the item's body)."""
    if isinstance(store, FileStore):
        (store.root / ".campaigns" / "c-1.json").write_bytes(body)
    elif isinstance(store, S3Store):
        boto3.client("s3").put_object(Bucket=store.bucket, Key=s3_key(store, "c-1"), Body=body)
    else:
        assert isinstance(store, DynamoDBStore)
        item = {**DDB_KEY, "version": {"N": "1"}, "schema_version": {"N": str(schema)}, "body": {"S": body.decode()}}
        boto3.client("dynamodb").put_item(TableName=store.table, Item=item)


@pytest.mark.parametrize("damage", ["truncated", "newer"])
def test_a_damaged_campaign_record_is_named_and_left_as_it_is(store: StateStore, damage: str) -> None:
    loaded = store.create_campaign(campaign())
    text = loaded.model_dump_json()
    if damage == "truncated":  # a write cut short
        overwrite(store, text[: len(text) // 2].encode())
        expected = "not valid JSON"
    else:  # a record a newer rds-maint wrote
        overwrite(store, json.dumps({**json.loads(text), "schema_version": 99}).encode(), schema=99)
        expected = "newer rds-maint"
    before = raw_record(store)
    name = re.escape(record_name(store, "c-1"))
    with pytest.raises(StoreError, match=f"{name}.*{expected}|{expected}.*{name}") as loading:
        store.load_campaign("c-1")
    assert "left as it is" in str(loading.value) or "neither read nor overwritten" in str(loading.value)
    with pytest.raises(StoreError, match=name):
        store.campaigns()
    with pytest.raises((Conflict, StoreError)):  # a save of the copy read before the damage: refused
        store.save_campaign(loaded)
    assert raw_record(store) == before


def test_a_campaign_of_500_targets_round_trips(store: StateStore) -> None:
    big = big_campaign()
    assert len(big.model_dump_json()) > 150_000
    stored = store.create_campaign(big)
    loaded = store.load_campaign("c-big")
    assert loaded == stored
    loaded.targets[499].state = TargetState.FAILED
    loaded.targets[499].reason = "the writer did not come back"
    saved = store.save_campaign(loaded)
    assert store.load_campaign("c-big") == saved
    assert store.campaigns() == [saved]
    assert saved.counts()["failed"] == 1 and saved.counts()["completed"] == 499


def test_concurrent_saves_of_one_campaign_version_let_exactly_one_win(store: StateStore, serialised_aws: None) -> None:
    store.create_campaign(campaign())
    writers = [open_store(store.url) for _ in range(6)]  # processes of their own, each having read version 1
    copies = [w.load_campaign("c-1") for w in writers]
    start = threading.Barrier(len(writers))
    outcomes: dict[int, str] = {}

    def save(n: int) -> None:
        copies[n].targets[0].reason = f"writer {n}"
        start.wait(timeout=30)
        try:
            writers[n].save_campaign(copies[n])
            outcomes[n] = "won"
        except Conflict:
            outcomes[n] = "lost"

    threads = [threading.Thread(target=save, args=(n,)) for n in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["lost"] * 5 + ["won"]
    winner = next(n for n, outcome in outcomes.items() if outcome == "won")
    final = store.load_campaign("c-1")
    assert final.version == 2 and final.targets[0].reason == f"writer {winner}"


# -- S3 and DynamoDB only --------------------------------------------------------------------------------------


@pytest.fixture(params=["s3", "dynamodb"])
def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[S3Store | DynamoDBStore]:
    with mock_aws():
        url = store_url_for(str(request.param), tmp_path)
        init_store(url)
        opened = open_store(url)
        assert isinstance(opened, S3Store | DynamoDBStore)
        yield opened


def calls(client: Any) -> Counter[str]:
    """How many requests of each API the client sends from now on."""
    seen: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    client.meta.events.register("before-call", count)
    return seen


def lose_next_answer(client: Any, api: str) -> None:
    """The next `api` request is carried out (by another client) and then answered 500, as when the
    answer was lost on the way back: the store retries a request that already landed."""
    plain = boto3.client(client.meta.service_model.service_name, region_name=REGION)
    sent: dict[str, Any] = {}
    done = [False]

    def keep(params: dict[str, Any], **_: Any) -> None:
        sent.clear()
        sent.update(params)

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if done[0]:
            return None
        done[0] = True
        getattr(plain, xform_name(api))(**sent)
        parsed = {
            "Error": {"Code": "InternalError", "Message": "injected: the answer was lost"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse("https://injected.invalid/", 500, HTTPHeaders(), _NoBody()), parsed

    service = client.meta.service_model.service_name
    client.meta.events.register(f"before-parameter-build.{service}.{api}", keep)
    client.meta.events.register_first(f"before-call.{service}.{api}", answer)


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def test_listing_campaigns_costs_one_list_or_query_whatever_the_operations(cloud: S3Store | DynamoDBStore) -> None:
    for n in range(3):
        cloud.create_campaign(campaign(f"c-{n}", minutes=n))
    for n in range(4):
        cloud.create(operation_of(f"op-{n}"), [])
    sent = calls(cloud.client)
    assert [c.id for c in cloud.campaigns()] == ["c-0", "c-1", "c-2"]
    if isinstance(cloud, S3Store):
        assert sent == Counter({"ListObjectsV2": 1, "GetObject": 3})
    else:
        assert sent == Counter({"Query": 1})
    assert [o.id for o in cloud.list_operations()] == ["op-0", "op-1", "op-2", "op-3"]  # no campaign among them


def test_a_campaign_write_whose_answer_was_lost_is_not_mistaken_for_a_conflict(
    cloud: S3Store | DynamoDBStore,
) -> None:
    api = "PutObject" if isinstance(cloud, S3Store) else "PutItem"
    lose_next_answer(cloud.client, api)
    assert cloud.create_campaign(campaign()).version == 1  # landed, answered 500, retried: it is ours
    loaded = cloud.load_campaign("c-1")
    loaded.state = CampaignState.PAUSED
    lose_next_answer(cloud.client, api)
    assert cloud.save_campaign(loaded).version == 2
    assert cloud.load_campaign("c-1").state is CampaignState.PAUSED
    with pytest.raises(BadInput, match="campaign 'c-1' already exists"):  # the same bytes again: not ours
        cloud.create_campaign(campaign())


def test_every_campaign_write_is_conditional(cloud: S3Store | DynamoDBStore) -> None:
    api = "PutObject" if isinstance(cloud, S3Store) else "PutItem"
    puts = record_params(cloud.client, api)
    cloud.save_campaign(cloud.create_campaign(campaign()))
    cloud.save_campaign(open_store(cloud.url).load_campaign("c-1"))  # a version this process never read
    assert len(puts) == 3
    if isinstance(cloud, S3Store):
        assert puts[0]["IfNoneMatch"] == "*" and "IfMatch" not in puts[0]
        assert all("IfMatch" in p and "IfNoneMatch" not in p for p in puts[1:])
        assert all(p["ServerSideEncryption"] == "AES256" for p in puts)
    else:
        assert puts[0]["ConditionExpression"] == "attribute_not_exists(#pk)"
        assert [p["ExpressionAttributeValues"][":expected"] for p in puts[1:]] == [{"N": "1"}, {"N": "2"}]


def test_dynamodb_compresses_a_large_campaign_and_refuses_one_beyond_the_item_limit(tmp_path: Path) -> None:
    with mock_aws():
        init_store(store_url_for("dynamodb", tmp_path))
        ddb = open_store(store_url_for("dynamodb", tmp_path))
        ddb.create_campaign(big_campaign("c-1"))
        item = raw_record(ddb)
        assert "body_z" in item and "body" not in item
        assert len(zlib.decompress(item["body_z"]["B"])) > 150_000 > 10 * len(item["body_z"]["B"])
        ddb.create_campaign(campaign("c-small"))  # a few targets: kept readable (in the console too)
        small_key = {"pk": {"S": "CAMPAIGNS"}, "sk": {"S": "CAMPAIGN#c-small"}}
        small = boto3.client("dynamodb").get_item(TableName=TABLE_NAME, Key=small_key)["Item"]
        assert json.loads(small["body"]["S"])["id"] == "c-small" and "body_z" not in small
        huge = big_campaign("c-huge", targets=2000)
        for target in huge.targets:
            target.params["notes"] = os.urandom(300).hex()  # 1.2 MB that does not compress below 400 KB
        with pytest.raises(StoreError, match=r"campaign 'c-huge' is .* beyond DynamoDB's 400 KB item limit"):
            ddb.create_campaign(huge)
        with pytest.raises(CampaignNotFound):
            ddb.load_campaign("c-huge")
        grown = ddb.load_campaign("c-1")
        grown.targets[0].params["notes"] = os.urandom(600_000).hex()
        with pytest.raises(StoreError, match="nothing was written"):
            ddb.save_campaign(grown)
        assert ddb.load_campaign("c-1").version == 1
