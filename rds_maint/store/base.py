"""The StateStore protocol: what the engine needs from any place that keeps operations."""

from __future__ import annotations

import re
from typing import Protocol

from rds_maint.errors import BadInput
from rds_maint.model import Event, Operation

_OPERATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_operation_id(operation_id: str) -> str:
    """Refuse ids that could escape a directory, key prefix or table key."""
    if not isinstance(operation_id, str) or not _OPERATION_ID.match(operation_id):
        raise BadInput(
            f"invalid operation id {operation_id!r}: use letters, digits, '-' and '_' "
            "(at most 128 characters, no path characters)"
        )
    return operation_id


class StateStore(Protocol):
    """Keeps operations and their event logs.

    `create` fails if the id exists; `save` writes only if the stored version is the
    one the caller loaded (a lost race raises Conflict and changes nothing), then
    bumps `version` and appends the events in the same critical section.
    """

    url: str

    def create(self, operation: Operation, events: list[Event]) -> Operation: ...

    def load(self, operation_id: str) -> Operation: ...

    def save(self, operation: Operation, events: list[Event]) -> Operation: ...

    def list_operations(self) -> list[Operation]: ...

    def events(self, operation_id: str) -> list[Event]: ...
