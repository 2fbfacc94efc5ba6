"""How every report names an operation's target in running text.

A cluster (Aurora or Multi-AZ DB cluster) by its name alone, as every report did before DB instances;
a DB instance as `instance NAME`, so that a line never leaves a person guessing which kind of thing
changes (a DB instance and a cluster may bear the same name).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["target_text"]


def target_text(target_id: str, kind: Literal["cluster", "instance"]) -> str:
    """`orders-prod` for a cluster, `instance orders-db` for a DB instance."""
    return f"instance {target_id}" if kind == "instance" else target_id
