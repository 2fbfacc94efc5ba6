"""The shipped IAM policies, evaluated offline against every request the cloud stores send for campaigns.

tests/artifacts/test_iam_policies.py checks that the Lambda policy grants each store API by name; the RDS
evaluation (tests/artifacts/test_iam_evaluation.py) records RDS requests only. Here every S3 and DynamoDB
request of the campaign methods (create, load, save, a lost race, a retried write, the listing) is recorded
with botocore hooks on the store's own client, turned into the authorisation AWS makes for it, and evaluated
(tests.helpers.iam_evaluator) against iam/lambda-policy.json and iam/operator-policy.json: the Lambda that
drives a campaign on AWS and the person who runs `rds-maint campaign run` locally both need all of them.

Authorisations (Service Authorization Reference, "Actions, resources, and condition keys for Amazon S3" and
"... for Amazon DynamoDB"): GetObject / PutObject on the object ARN; ListObjectsV2 is s3:ListBucket on the
bucket ARN with the `s3:prefix` condition key; GetItem / PutItem / Query on the table ARN (an index's ARN
when the Query names one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from rds_maint.campaign_model import Campaign, CampaignRequest, CampaignState, CampaignTarget, target_operation_id
from rds_maint.errors import Conflict
from rds_maint.model import OperationType
from rds_maint.store import DynamoDBStore, S3Store, init_store, open_store
from tests.helpers.iam_evaluator import Policy, Request, evaluate, substitute
from tests.helpers.iam_recorder import ACCOUNT
from tests.helpers.world import REGION

IAM_DIR = Path(__file__).resolve().parents[2] / "iam"
BUCKET, PREFIX, TABLE = "rds-maint-state", "rds-maint", "rds-maint-operations"
PLACEHOLDERS = {
    "Partition": "aws",
    "Region": REGION,
    "AccountId": ACCOUNT,
    "StateBucket": BUCKET,
    "StatePrefix": PREFIX,
    "TableName": TABLE,
    "FunctionName": "rds-maint-engine",
    "StateMachineName": "rds-maint-machine",
    "OptInTagValue": "true",
}
NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
URLS = {"s3": f"s3://{BUCKET}/{PREFIX}", "dynamodb": f"dynamodb://{TABLE}"}


def policy(name: str) -> Policy:
    document: Policy = json.loads((IAM_DIR / name).read_text(encoding="utf-8"))
    return substitute(document, PLACEHOLDERS)


def authorisation(service: str, api: str, params: dict[str, Any]) -> Request:
    """What AWS authorises for one request; a request this does not know fails the test (add it here)."""
    if service == "s3" and api in ("GetObject", "PutObject"):
        return Request(f"s3:{api}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")
    if service == "s3" and api == "ListObjectsV2":
        return Request("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", {"s3:prefix": params.get("Prefix", "")})
    if service == "dynamodb" and api in ("GetItem", "PutItem", "Query"):
        table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
        index = params.get("IndexName")
        return Request(f"dynamodb:{api}", f"{table}/index/{index}" if index else table)
    raise AssertionError(f"the store sent {service} {api}, which this test cannot authorise yet")


def record(client: Any) -> list[Request]:
    service = client.meta.service_model.service_name
    seen: list[Request] = []

    def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append(authorisation(service, model.name, params))

    client.meta.events.register(f"before-parameter-build.{service}", keep)
    return seen


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def answer_first_with_500(client: Any, api: str) -> None:
    """The next `api` request is answered 500 without being carried out: the store retries it."""
    service = client.meta.service_model.service_name
    done = [False]

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if done[0]:
            return None
        done[0] = True
        parsed = {
            "Error": {"Code": "InternalError", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse("https://injected.invalid/", 500, HTTPHeaders(), _NoBody()), parsed

    client.meta.events.register_first(f"before-call.{service}.{api}", answer)


def a_campaign(campaign_id: str) -> Campaign:
    request = CampaignRequest(
        type=OperationType.INSTANCE_CYCLE, target_ids=["db-0", "db-1"], region=REGION, max_concurrency=1
    )
    targets = [
        CampaignTarget(index=i, target_id=t, wave=0, operation_id=target_operation_id(campaign_id, i), params={})
        for i, t in enumerate(["db-0", "db-1"])
    ]
    return Campaign(id=campaign_id, request=request, targets=targets, created_at=NOW, updated_at=NOW)


@pytest.fixture(params=["s3", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[S3Store | DynamoDBStore]:
    with mock_aws():
        init_store(URLS[str(request.param)])
        opened = open_store(URLS[str(request.param)])
        assert isinstance(opened, S3Store | DynamoDBStore)
        yield opened


def campaign_requests(store: S3Store | DynamoDBStore) -> list[Request]:
    """Every request of a campaign's life in the store, including a lost race and a retried write."""
    other = open_store(store.url)  # another process
    assert isinstance(other, S3Store | DynamoDBStore)
    sent, sent_by_other = record(store.client), record(other.client)
    first = store.create_campaign(a_campaign("c-1"))
    store.create_campaign(a_campaign("c-2"))
    stale = other.load_campaign("c-1")
    first.state = CampaignState.PAUSED
    store.save_campaign(first)
    with pytest.raises(Conflict):  # S3: a 412, then the GET that tells it from a retry of its own write
        other.save_campaign(stale)
    answer_first_with_500(store.client, "PutObject" if isinstance(store, S3Store) else "PutItem")
    store.save_campaign(store.load_campaign("c-1"))
    assert [c.id for c in store.campaigns()] == ["c-1", "c-2"]
    with pytest.raises(Conflict):
        other.save_campaign(stale)
    return sent + sent_by_other


@pytest.mark.parametrize("policy_file", ["lambda-policy.json", "operator-policy.json"])
def test_every_campaign_request_of_the_cloud_stores_is_allowed(
    store: S3Store | DynamoDBStore, policy_file: str
) -> None:
    requests = campaign_requests(store)
    actions = {r.action for r in requests}
    if isinstance(store, S3Store):
        assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    else:
        assert actions == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    policies = [policy(policy_file)]
    denied = [(r, evaluate(policies, r).reason) for r in requests if not evaluate(policies, r).allowed]
    assert denied == [], f"{policy_file} refuses campaign requests: {denied}"


def test_the_policies_would_refuse_campaign_records_outside_the_store() -> None:
    """The evaluation above can fail: the same requests on another prefix or table are refused."""
    for policy_file in ("lambda-policy.json", "operator-policy.json"):
        policies = [policy(policy_file)]
        elsewhere = [
            Request("s3:PutObject", f"arn:aws:s3:::{BUCKET}/other/campaigns/c-1.json"),
            Request("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "other/campaigns/"}),
            Request("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/other-table"),
        ]
        assert not any(evaluate(policies, r).allowed for r in elsewhere)
