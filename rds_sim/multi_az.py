"""RDS Multi-AZ DB clusters (MySQL, PostgreSQL; not Aurora): the cluster sizes and stores its members.

`world.AuroraWorld` hands this module the calls on a Multi-AZ DB cluster (`owns_cluster`) or on one of
its members (`owns_instance`): ModifyDBCluster, RebootDBCluster, RebootDBInstance, FailoverDBCluster,
ModifyDBInstance (refused by AWS for members), and the overlays of the describes. Until an area models a
behaviour, the call goes to moto unchanged.
"""

from __future__ import annotations

import copy
from typing import Any

from rds_sim.world_protocol import World

__all__ = ["MultiAzClusterSim"]

Response = dict[str, Any]


class MultiAzClusterSim:
    def __init__(self, world: World) -> None:
        self.world = world

    def handlers(self) -> dict[str, Any]:
        """API calls this module answers whole (RebootDBCluster: moto does not implement it)."""
        return {}

    def owns_cluster(self, cluster_id: str) -> bool:
        data = self.world.moto.cluster(cluster_id)
        return (
            data is not None
            and bool(data.get("DBClusterInstanceClass"))
            and not str(data.get("Engine", "")).startswith("aurora")
        )

    def owns_instance(self, instance_id: str) -> bool:
        data = self.world.moto.instance(instance_id)
        cluster_id = (data or {}).get("DBClusterIdentifier")
        return bool(cluster_id) and self.owns_cluster(str(cluster_id))

    def modify_db_cluster(self, params: dict[str, Any]) -> Response:
        cluster_id = str(params["DBClusterIdentifier"])
        self.world.moto.call("ModifyDBCluster", params)
        return {"DBCluster": self.world.overlay_cluster(self._cluster(cluster_id))}

    def modify_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        self.world.moto.call("ModifyDBInstance", params)
        return {"DBInstance": self._member(instance_id)}

    def reboot_db_instance(self, params: dict[str, Any]) -> Response:
        return {"DBInstance": self._member(str(params["DBInstanceIdentifier"]))}

    def failover_db_cluster(self, params: dict[str, Any]) -> Response:
        cluster_id = str(params["DBClusterIdentifier"])
        self.world.moto.call("FailoverDBCluster", params)
        return {"DBCluster": self.world.overlay_cluster(self._cluster(cluster_id))}

    def overlay_cluster(self, data: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(data)

    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(data)

    def settle(self) -> None:
        """Apply whatever this module scheduled that is due (the world has settled its timeline)."""

    def _member(self, instance_id: str) -> dict[str, Any]:
        data = self.world.moto.instance(instance_id)
        if data is None:
            raise KeyError(instance_id)
        return copy.deepcopy(data)

    def _cluster(self, cluster_id: str) -> dict[str, Any]:
        data = self.world.moto.cluster(cluster_id)
        if data is None:
            raise KeyError(cluster_id)
        return data
