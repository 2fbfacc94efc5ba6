"""Step kinds (params and records) for storage_type_change on an RDS DB instance."""

from __future__ import annotations

__all__: list[str] = []
