"""Ready-made Aurora clusters for tests and the demo, as a person would find them in the console.

A seeded cluster is `available` at once: the writer `<cluster>-instance-1`, provisioned readers
`<cluster>-instance-2..`, Aurora Auto Scaling readers (`application-autoscaling-<8 hex>`, tier
15, the writer's class, tagged with their scaling resource) and Serverless v2 readers
(`<cluster>-serverless-N`), spread over the region's first three zones.
"""

from __future__ import annotations

import random
from typing import Any

from botocore.exceptions import ClientError

from rds_sim.catalogue import SERVERLESS_CLASS, Catalogue
from rds_sim.moto_backend import MotoRds

TAG_AUTOSCALING = "application-autoscaling:resourceId"
AUTOSCALED_TIER = 15
MASTER_USERNAME = "sim_admin"
MASTER_PASSWORD = "sim-password-not-secret"


def seed_cluster(
    moto: MotoRds,
    catalogue: Catalogue,
    names: random.Random,
    cluster_id: str,
    *,
    engine: str,
    engine_version: str,
    instance_class: str,
    readers: int,
    autoscaled_readers: int,
    serverless_readers: int,
    promotion_tier: int,
    tags: dict[str, str] | None,
) -> list[str]:
    """Create the cluster and its instances in moto; returns the instance ids, writer first."""
    if not catalogue.has_version(engine, engine_version):
        raise ValueError(f"{engine} {engine_version} is not in the simulator's catalogue")
    for cls in {instance_class} | ({SERVERLESS_CLASS} if serverless_readers else set()):
        if not catalogue.is_orderable(engine, engine_version, cls):
            raise ValueError(f"{cls} is not orderable for {engine} {engine_version}")
    group = f"default.{catalogue.family(engine, engine_version)}"
    _ensure_cluster_parameter_group(moto, group, catalogue.family(engine, engine_version))
    cluster: dict[str, Any] = {
        "DBClusterIdentifier": cluster_id,
        "Engine": engine,
        "EngineVersion": engine_version,
        "MasterUsername": MASTER_USERNAME,
        "MasterUserPassword": MASTER_PASSWORD,
        "StorageType": "aurora",
        "AllocatedStorage": 1,  # moto has no default size for StorageType=aurora
        "DBClusterParameterGroupName": group,
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    if serverless_readers:
        cluster["ServerlessV2ScalingConfiguration"] = {"MinCapacity": 0.5, "MaxCapacity": 16}
    moto.call("CreateDBCluster", cluster)

    zones = [f"{moto.region}{suffix}" for suffix in "abc"]
    created: list[str] = []

    def add(instance_id: str, cls: str, tier: int, instance_tags: dict[str, str]) -> None:
        moto.call(
            "CreateDBInstance",
            {
                "DBInstanceIdentifier": instance_id,
                "DBClusterIdentifier": cluster_id,
                "Engine": engine,
                "DBInstanceClass": cls,
                "AvailabilityZone": zones[len(created) % len(zones)],
                "DBParameterGroupName": group,
                "PromotionTier": tier,
                "Tags": [{"Key": k, "Value": v} for k, v in instance_tags.items()],
            },
        )
        created.append(instance_id)

    add(f"{cluster_id}-instance-1", instance_class, promotion_tier, {})  # moto: first member writes
    for n in range(2, readers + 2):
        add(f"{cluster_id}-instance-{n}", instance_class, promotion_tier, {})
    for _ in range(autoscaled_readers):
        name = f"application-autoscaling-{names.getrandbits(32):08x}"
        add(name, instance_class, AUTOSCALED_TIER, {TAG_AUTOSCALING: f"cluster:{cluster_id}"})
    for n in range(1, serverless_readers + 1):
        add(f"{cluster_id}-serverless-{n}", SERVERLESS_CLASS, promotion_tier, {})
    return created


def _ensure_cluster_parameter_group(moto: MotoRds, name: str, family: str) -> None:
    """moto names every cluster's default group `default.aurora8.0`; create the right one."""
    try:
        moto.call("DescribeDBClusterParameterGroups", {"DBClusterParameterGroupName": name})
    except ClientError:
        moto.call(
            "CreateDBClusterParameterGroup",
            {
                "DBClusterParameterGroupName": name,
                "DBParameterGroupFamily": family,
                "Description": f"Default cluster parameter group for {family}",
            },
        )


def seed_multi_az_cluster(
    moto: MotoRds,
    cluster_id: str,
    *,
    engine: str,
    engine_version: str,
    instance_class: str,
    storage_type: str,
    allocated_storage: int,
    iops: int | None,
) -> list[str]:
    """An RDS Multi-AZ DB cluster (MySQL or PostgreSQL, not Aurora): one writer and two readable standbys.

    Its class and storage belong to the cluster (CreateDBCluster DBClusterInstanceClass, StorageType,
    AllocatedStorage, Iops; "You can't modify the DB instances within a Multi-AZ DB cluster", RDS user
    guide). AWS creates the three instances itself; moto does not, so they are added here, in three zones.
    """
    if engine.startswith("aurora"):
        raise ValueError("a Multi-AZ DB cluster runs mysql or postgres, not Aurora")
    cluster: dict[str, Any] = {
        "DBClusterIdentifier": cluster_id,
        "Engine": engine,
        "EngineVersion": engine_version,
        "MasterUsername": MASTER_USERNAME,
        "MasterUserPassword": MASTER_PASSWORD,
        "DBClusterInstanceClass": instance_class,
        "StorageType": storage_type,
        "AllocatedStorage": allocated_storage,
    }
    if iops is not None:
        cluster["Iops"] = iops
    moto.call("CreateDBCluster", cluster)
    created = []
    for n, suffix in enumerate("abc", start=1):
        instance_id = f"{cluster_id}-instance-{n}"
        moto.call(
            "CreateDBInstance",
            {
                "DBInstanceIdentifier": instance_id,
                "DBClusterIdentifier": cluster_id,
                "Engine": engine,
                "DBInstanceClass": instance_class,
                "AvailabilityZone": f"{moto.region}{suffix}",
            },
        )
        created.append(instance_id)
    return created


def seed_db_instance(
    moto: MotoRds,
    instance_id: str,
    *,
    engine: str,
    engine_version: str,
    instance_class: str,
    multi_az: bool,
    storage_type: str,
    allocated_storage: int,
    iops: int | None,
    storage_throughput: int | None,
    tags: dict[str, str] | None = None,
) -> str:
    """An RDS DB instance of its own (MySQL, MariaDB or PostgreSQL; Single-AZ or Multi-AZ), in zone a
    (its standby, when Multi-AZ, in zone b: AWS picks it and shows it as SecondaryAvailabilityZone)."""
    if engine.startswith("aurora"):
        raise ValueError("a DB instance of its own runs mysql, mariadb or postgres; Aurora instances are in a cluster")
    params: dict[str, Any] = {
        "DBInstanceIdentifier": instance_id,
        "Engine": engine,
        "EngineVersion": engine_version,
        "DBInstanceClass": instance_class,
        "MasterUsername": MASTER_USERNAME,
        "MasterUserPassword": MASTER_PASSWORD,
        "MultiAZ": multi_az,
        "StorageType": storage_type,
        "AllocatedStorage": allocated_storage,
        "AvailabilityZone": f"{moto.region}a",
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    if iops is not None:
        params["Iops"] = iops
    if storage_throughput is not None:
        params["StorageThroughput"] = storage_throughput
    moto.call("CreateDBInstance", params)
    return instance_id


def seed_global_cluster(moto: MotoRds, global_cluster_id: str, cluster_id: str) -> None:
    """Make `cluster_id` the primary member of a new Aurora Global Database (CreateGlobalCluster)."""
    cluster = moto.cluster(cluster_id)
    if cluster is None:
        raise ValueError(f"no cluster {cluster_id!r}")
    moto.call(
        "CreateGlobalCluster",
        {"GlobalClusterIdentifier": global_cluster_id, "SourceDBClusterIdentifier": cluster["DBClusterArn"]},
    )
