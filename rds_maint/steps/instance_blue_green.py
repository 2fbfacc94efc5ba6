"""Step kinds (params and records) for engine_upgrade of an RDS DB instance through Blue/Green."""

from __future__ import annotations

__all__: list[str] = []
