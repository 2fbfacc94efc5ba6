"""Step kinds (params and records) for Multi-AZ DB clusters: ModifyDBCluster, RebootDBCluster, member reboots."""

from __future__ import annotations

__all__: list[str] = []
