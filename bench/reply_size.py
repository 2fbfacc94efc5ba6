"""How many bytes an RDS reply carries, rebuilt from the parsed answer.

The simulator answers from botocore's `before-call` hook with an already parsed reply (no HTTP body),
so the size of what AWS would have sent is rebuilt here: RDS speaks the query protocol, whose replies
are XML (`<OpResponse><OpResult>...</OpResult><ResponseMetadata>...</ResponseMetadata></OpResponse>`),
every structure member an element named by its serialized name, every list item an element named by
the list's member name (`member` unless the model says otherwise). Written without indentation, it is
a lower bound on AWS's indented reply; what matters here is the ratio between drivers, which the
indentation barely moves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["reply_bytes"]

_METADATA = len("<ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return escape(str(value))


def _size(shape: Any, value: Any, tag: str) -> int:
    """Bytes of `<tag>value</tag>` for `value` of botocore shape `shape`."""
    wrap = 2 * len(tag) + 5  # <tag></tag>
    if shape is None:
        return wrap + len(_scalar(value))
    if shape.type_name == "structure":
        members = shape.members
        inner = sum(
            _size(members.get(name), item, members[name].serialization.get("name", name) if name in members else name)
            for name, item in value.items()
            if item is not None
        )
        return wrap + inner
    if shape.type_name == "list":
        item_tag = shape.member.serialization.get("name", "member")
        inner = sum(_size(shape.member, item, item_tag) for item in value)
        if shape.serialization.get("flattened"):
            return inner
        return wrap + inner
    if shape.type_name == "map":
        return wrap + sum(
            _size(shape.key, k, "key") + _size(shape.value, v, "value") + len("<entry></entry>")
            for k, v in value.items()
        )
    return wrap + len(_scalar(value))


def reply_bytes(model: Any, parsed: dict[str, Any]) -> int:
    """The compact XML size of the reply to the botocore operation `model` whose parsed answer is `parsed`."""
    name = str(model.name)
    body = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    result = _size(model.output_shape, body, f"{name}Result") if model.output_shape is not None else 0
    envelope = 2 * len(f"{name}Response") + 5 + len(' xmlns="http://rds.amazonaws.com/doc/2014-10-31/"')
    return len('<?xml version="1.0"?>') + envelope + result + _METADATA
