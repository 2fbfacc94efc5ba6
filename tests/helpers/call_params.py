"""The parameters a store passes to a boto3 client's API, as sent: what a test asserts a request carried
(a condition, a key) without reaching into the store's code."""

from __future__ import annotations

from typing import Any

__all__ = ["record_params"]


def record_params(client: Any, api: str) -> list[dict[str, Any]]:
    """Every call's parameters, as the store passed them; the list fills as the calls are made."""
    seen: list[dict[str, Any]] = []
    service = client.meta.service_model.service_name

    def keep(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    client.meta.events.register(f"before-parameter-build.{service}.{api}", keep)
    return seen
