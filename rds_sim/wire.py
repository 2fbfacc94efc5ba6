"""botocore plumbing: answering an RDS call from the client's own event hooks.

botocore emits `before-parameter-build.rds.<Op>` with the caller's kwargs, then
`before-call.rds.<Op>`; if a `before-call` handler returns `(http_response, parsed)`,
botocore skips the network (and moto's `before-send` stub), runs the `after-call` handlers, and
for a status >= 300 raises the modelled exception named by `parsed["Error"]["Code"]`
(`botocore/client.py`, `BaseClient._make_api_call`). Such answers also bypass botocore's retry
handler, so each simulated throttle reaches the caller: harder than AWS, on purpose.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from rds_sim.errors import ApiError

PARAMS_KEY = "rds_sim_params"
Answer = tuple[AWSResponse, dict[str, Any]]

_request_ids = itertools.count(1)


class _EmptyBody:
    """The raw body of a simulated response: nothing to stream (the answer is pre-parsed)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b""


def stash_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """`before-parameter-build` handler: keep the caller's kwargs for the `before-call` answer."""
    context[PARAMS_KEY] = copy.deepcopy(params)


def stashed_params(context: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = context.get(PARAMS_KEY, {})
    return params


def _metadata(status: int) -> dict[str, Any]:
    request_id = f"00000000-0000-4000-8000-{next(_request_ids):012d}"
    return {
        "RequestId": request_id,
        "HTTPStatusCode": status,
        "HTTPHeaders": {"x-amzn-requestid": request_id, "content-type": "text/xml"},
        "RetryAttempts": 0,
    }


def _http(status: int) -> AWSResponse:
    headers = HTTPHeaders()
    headers["content-type"] = "text/xml"
    return AWSResponse("https://rds.simulated.amazonaws.com/", status, headers, _EmptyBody())


def ok(parsed: dict[str, Any]) -> Answer:
    body = dict(parsed)
    body["ResponseMetadata"] = _metadata(200)
    return _http(200), body


def error(err: ApiError) -> Answer:
    parsed = {
        "Error": {"Code": err.code, "Message": err.message, "Type": "Sender" if err.status < 500 else "Receiver"},
        "ResponseMetadata": _metadata(err.status),
    }
    return _http(err.status), parsed


def passthrough_error(response: dict[str, Any]) -> Answer:
    """moto's own error answer, forwarded as it came (code, message and HTTP status)."""
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) or 400)
    parsed = {"Error": dict(response.get("Error", {})), "ResponseMetadata": _metadata(status)}
    return _http(status), parsed
