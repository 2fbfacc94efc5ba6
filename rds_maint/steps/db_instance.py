"""Step kinds (params and records) for RDS DB instances: storage, class, reboot, in-place upgrade."""

from __future__ import annotations

__all__: list[str] = []
