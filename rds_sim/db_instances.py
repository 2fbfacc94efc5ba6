"""RDS DB instances outside any cluster (Single-AZ and Multi-AZ): their own statuses over moto's resources.

`world.AuroraWorld` hands this module every call on a DB instance that belongs to no cluster
(`owns_instance`): ModifyDBInstance, RebootDBInstance, and the overlay of DescribeDBInstances. Until an
area models a behaviour, the call goes to moto unchanged (every status `available` at once).
"""

from __future__ import annotations

import copy
from typing import Any

from rds_sim.world_protocol import World

__all__ = ["DbInstanceSim"]

Response = dict[str, Any]


class DbInstanceSim:
    def __init__(self, world: World) -> None:
        self.world = world

    def handlers(self) -> dict[str, Any]:
        """API calls this module answers whole (none yet: see `owns_instance` for the shared ones)."""
        return {}

    def owns_instance(self, instance_id: str) -> bool:
        """A DB instance of its own: no DBClusterIdentifier."""
        data = self.world.moto.instance(instance_id)
        return data is not None and not data.get("DBClusterIdentifier")

    def modify_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        self.world.moto.call("ModifyDBInstance", params)
        return {"DBInstance": self.overlay_instance(self._instance(instance_id))}

    def reboot_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        return {"DBInstance": self.overlay_instance(self._instance(instance_id))}

    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]:
        """moto's DBInstance as AWS would show it now (the world's overlay already applied)."""
        return copy.deepcopy(data)

    def settle(self) -> None:
        """Apply whatever this module scheduled that is due (the world has settled its timeline)."""

    def _instance(self, instance_id: str) -> dict[str, Any]:
        data = self.world.moto.instance(instance_id)
        if data is None:
            raise KeyError(instance_id)
        return data
