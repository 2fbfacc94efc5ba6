"""Faults on the wire, below botocore's retry handler: every request botocore sends is seen and counted.

The simulator proper answers from `before-call` hooks, which botocore runs once per logical
call, above its retry handler (see `wire.py`). To measure how many requests really leave the
client, and to let botocore's own retries (if any are configured) act on the answers, these
faults answer from `before-send`, which botocore emits for every attempt: a retried request
emits it again (botocore/endpoint.py `_do_get_response`; the retry handler runs on
`needs-retry` after it).

Answers, as AWS gives them (RDS Query API error document; botocore retries/standard.py lists
what its standard mode retries):

* `throttle`: HTTP 400 `Throttling: Rate exceeded` (AWS refused the request, nothing applied);
* `unavailable`: HTTP 503 `ServiceUnavailable` (the effect of a mutating request is unknown);
* `connection`: the connection failed (`EndpointConnectionError`), no answer at all.

A request the faults leave alone (once their count is spent) is answered with an empty success
document when `answer_rest` is set (`<ActionResponse><ActionResult/></ActionResponse>`), or goes
on to the endpoint; callers point the endpoint at 127.0.0.1. (Under moto's `mock_aws` moto's
own `before-send` handler runs on every send too: botocore calls every handler of the event,
so moto would apply a request the fault answers.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import EndpointConnectionError

WireKind = Literal["throttle", "unavailable", "connection"]
WIRE_KINDS: tuple[WireKind, ...] = ("throttle", "unavailable", "connection")

_ERRORS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "Throttling", "Rate exceeded"),
    "unavailable": (503, "ServiceUnavailable", "Service unavailable; please try again later."),
}


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data

    def read(self, *_: Any) -> bytes:
        return self._data


def _error_document(code: str, message: str) -> bytes:
    sender = "Receiver" if code == "ServiceUnavailable" else "Sender"
    return (
        '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">'
        f"<Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    ).encode()


class WireFaults:
    """Counts every request an RDS client sends and answers the armed ones with a fault."""

    def __init__(self, client: Any, *, answer_rest: bool = True) -> None:
        self.sends: Counter[str] = Counter()
        self._armed: dict[str, tuple[WireKind, int | None]] = {}
        self._answer_rest = answer_rest
        client.meta.events.register_first("before-send.rds", self._before_send)

    def arm(self, operation: str, kind: WireKind, times: int | None = None) -> None:
        """Answer the next `times` sends of `operation` with `kind` (None: every send)."""
        self._armed[operation] = (kind, times)

    def clear(self) -> None:
        self._armed.clear()

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        operation = _operation_of(request)
        self.sends[operation] += 1
        armed = self._armed.get(operation)
        if armed is not None and armed[1] is not None and armed[1] <= 0:
            armed = None
        if armed is None:
            return _response(request, 200, _empty_result(operation)) if self._answer_rest else None
        kind, times = armed
        if times is not None:
            self._armed[operation] = (kind, times - 1)
        if kind == "connection":
            raise EndpointConnectionError(endpoint_url=str(request.url))
        status, code, message = _ERRORS[kind]
        return _response(request, status, _error_document(code, message))


def _response(request: Any, status: int, body: bytes) -> AWSResponse:
    headers = HTTPHeaders()
    headers["content-type"] = "text/xml"
    return AWSResponse(str(request.url), status, headers, _Body(body))


def _empty_result(operation: str) -> bytes:
    return (
        f'<{operation}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><{operation}Result/>'
        f"<ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000001</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()


def _operation_of(request: Any) -> str:
    """The Query API action of a request (`Action=DescribeDBClusters&...`)."""
    body = request.body
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    for part in text.split("&"):
        if part.startswith("Action="):
            return part[len("Action=") :]
    return "?"
