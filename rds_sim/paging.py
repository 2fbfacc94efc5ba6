"""AWS-style paging of a Describe answer, shared by every simulated Describe call.

RDS pages with `MaxRecords` (default 100) and an opaque `Marker` (RDS API reference, "Common
parameters" of the Describe actions); here the marker is the offset of the next row. Callers must
follow markers as they would on AWS, so the gateway's paging is exercised by every test.
"""

from __future__ import annotations

from typing import Any

PAGE_DEFAULT = 100


def page(rows: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of `rows` under `key`, with `Marker` when more remain."""
    start = int(params.get("Marker") or 0)
    size = int(params.get("MaxRecords") or PAGE_DEFAULT)
    answer: dict[str, Any] = {key: rows[start : start + size]}
    if start + size < len(rows):
        answer["Marker"] = str(start + size)
    return answer
