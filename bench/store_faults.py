"""Sends per state-store call when S3 or DynamoDB keeps failing it (bench/retries.py prints the table).

The store's clients send each request once (store/aws.py `CLIENT_CONFIG`); the store's own layer
(`store.aws.with_retries`, the `retry.STORE` policy) sends again on throttling, 5xx and connection
errors, since every store write is conditional and recognises its own earlier write. Every send is
answered here, at botocore's `before-send` (registered first, so nothing goes on to an endpoint), with:

* S3 `503 SlowDown` ("Please reduce your request rate"; S3 API reference, Error responses);
* DynamoDB `400 ThrottlingException` (DynamoDB developer guide, Error handling: throttling and
  ProvisionedThroughputExceededException are 400s the SDK may retry);
* a failed connection (`EndpointConnectionError`, no answer at all).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from unittest import mock

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

from rds_maint.errors import RdsMaintError
from rds_maint.model import Operation, OperationType, Step
from rds_maint.store import DynamoDBStore, S3Store

__all__ = ["STORE_CASES", "StoreCase", "measure_store"]

Fault = Literal["throttle", "connection"]


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any) -> bytes:
        return self._data


def _answer(service: str, request: Any) -> AWSResponse:
    headers = HTTPHeaders()
    if service == "s3":
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message><RequestId>0</RequestId></Error>"
        )
        headers["content-type"] = "application/xml"
        return AWSResponse(str(request.url), 503, headers, _Body(body))
    body = json.dumps(
        {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "Rate exceeded"}
    ).encode()
    headers["content-type"] = "application/x-amz-json-1.0"
    return AWSResponse(str(request.url), 400, headers, _Body(body))


class Faulty:
    """Counts the sends of one store client and answers each with the fault."""

    def __init__(self, client: Any, service: str, fault: Fault) -> None:
        self.sends = 0
        self._service = service
        self._fault = fault
        client.meta.events.register_first("before-send", self._send)

    def _send(self, request: Any, **_: Any) -> AWSResponse:
        self.sends += 1
        if self._fault == "connection":
            raise EndpointConnectionError(endpoint_url=str(request.url))
        return _answer(self._service, request)


@dataclass(frozen=True)
class StoreCase:
    name: str
    service: Literal["s3", "dynamodb"]
    fault: Fault
    call: Callable[[Any], object]


def _operation() -> Operation:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    return Operation(
        id="orders-20261202-000000-000001",
        type=OperationType("instance_type_change"),
        cluster_id="orders",
        region="us-east-1",
        parameters={},
        steps=[Step(id="s01", name="check_cluster", action="check_cluster", description="check")],
        created_at=now,
        updated_at=now,
    )


STORE_CASES = (
    StoreCase("S3 read (load: GetObject), 503 SlowDown", "s3", "throttle", lambda s: s.load(_operation().id)),
    StoreCase("S3 write (create: PutObject), 503 SlowDown", "s3", "throttle", lambda s: s.create(_operation(), [])),
    StoreCase(
        "S3 write (create: PutObject), connection error", "s3", "connection", lambda s: s.create(_operation(), [])
    ),
    StoreCase("DynamoDB read (load: GetItem), throttled", "dynamodb", "throttle", lambda s: s.load(_operation().id)),
    StoreCase(
        "DynamoDB write (create: PutItem), throttled", "dynamodb", "throttle", lambda s: s.create(_operation(), [])
    ),
    StoreCase(
        "DynamoDB write (lock: PutItem), connection error",
        "dynamodb",
        "connection",
        lambda s: s.acquire_lock("orders", "us-east-1", _operation().id),
    ),
)


@dataclass
class StoreMeasured:
    sends: list[int]
    seconds: list[float]
    raised: str


def measure_store(case: StoreCase, trials: int, seed: int, region: str) -> StoreMeasured:
    """Sends and virtual seconds of one store call over `trials` new stores (a new client each)."""
    result = StoreMeasured([], [], "")
    for trial in range(trials):
        random.seed(seed + trial)
        slept: list[float] = []
        store: S3Store | DynamoDBStore
        if case.service == "s3":
            store = S3Store("rds-maint-bench", "state", region=region, sleep=slept.append)
        else:
            store = DynamoDBStore("rds-maint-bench", region=region, sleep=slept.append)
        faulty = Faulty(store.client, case.service, case.fault)
        with mock.patch.object(time, "sleep", slept.append):
            try:
                case.call(store)
                result.raised = "none"
            except RdsMaintError as exc:
                result.raised = type(exc).__name__
        result.sends.append(faulty.sends)
        result.seconds.append(sum(slept))
    return result
