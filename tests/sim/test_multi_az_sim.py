"""The simulated Multi-AZ DB cluster, as a caller observes it through a boto3 client on the virtual clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.world import CLUSTER, World

W, R2, R3 = (f"{CLUSTER}-instance-{n}" for n in (1, 2, 3))


@pytest.fixture
def maz(world: World) -> list[str]:
    return world.sim.seed_multi_az_cluster(CLUSTER)


def cluster(world: World) -> dict[str, Any]:
    return dict(world.rds_client().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0])


def statuses(world: World) -> dict[str, str]:
    rows = world.rds_client().describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])
    return {i["DBInstanceIdentifier"]: i["DBInstanceStatus"] for i in rows["DBInstances"]}


def writer(world: World) -> str:
    return str(next(m["DBInstanceIdentifier"] for m in cluster(world)["DBClusterMembers"] if m["IsClusterWriter"]))


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_class_change_readers_first_then_a_failover_then_the_old_writer(world: World, maz: list[str]) -> None:
    client = world.rds_client()
    client.modify_db_cluster(DBClusterIdentifier=CLUSTER, DBClusterInstanceClass="db.r6gd.large", ApplyImmediately=True)
    assert cluster(world)["Status"] == "available"  # the quiet moment after the call
    world.clock.advance(40)
    assert cluster(world)["Status"] == "modifying"
    assert statuses(world) == {W: "available", R2: "modifying", R3: "available"}
    world.clock.advance(600)
    assert statuses(world) == {W: "available", R2: "available", R3: "modifying"}
    world.clock.advance(640)
    assert writer(world) == R2  # failed over to a changed reader before the old writer's turn
    assert statuses(world)[W] == "modifying"
    world.clock.advance(600)
    final = cluster(world)
    assert (final["Status"], final["DBClusterInstanceClass"]) == ("available", "db.r6gd.large")
    rows = client.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBInstances"]
    assert {i["DBInstanceClass"] for i in rows} == {"db.r6gd.large"}
    events = client.describe_events(SourceType="db-cluster", SourceIdentifier=CLUSTER, Duration=120)["Events"]
    assert any("failover" in e["Message"] and R2 in e["Message"] for e in events)


def test_a_second_change_while_one_is_under_way_is_refused_even_in_the_quiet_moment(
    world: World, maz: list[str]
) -> None:
    client = world.rds_client()
    client.modify_db_cluster(DBClusterIdentifier=CLUSTER, DBClusterInstanceClass="db.r6gd.large", ApplyImmediately=True)
    calls: list[Callable[[], object]] = [
        lambda: client.modify_db_cluster(
            DBClusterIdentifier=CLUSTER, DBClusterInstanceClass="db.r6gd.xlarge", ApplyImmediately=True
        ),
        lambda: client.reboot_db_cluster(DBClusterIdentifier=CLUSTER),
        lambda: client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=R3),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert code(refused) == "InvalidDBClusterStateFault"
    with pytest.raises(ClientError) as refused:
        client.reboot_db_instance(DBInstanceIdentifier=R3)
    assert code(refused) == "InvalidDBInstanceState"


def test_members_cannot_be_modified(world: World, maz: list[str]) -> None:
    with pytest.raises(ClientError) as refused:
        world.rds_client().modify_db_instance(
            DBInstanceIdentifier=R2, DBInstanceClass="db.r6gd.large", ApplyImmediately=True
        )
    assert code(refused) == "InvalidParameterCombination"
    assert "within a Multi-AZ DB cluster" in str(refused.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"StorageType": "gp2", "Iops": 1000}, "InvalidParameterValue"),
        ({"StorageType": "io2"}, "InvalidParameterCombination"),  # Iops required with StorageType
        ({"StorageType": "io2", "Iops": 10000}, "InvalidParameterCombination"),  # > 50 IOPS per GiB of 100
        ({"AllocatedStorage": 50}, "InvalidParameterValue"),  # storage only grows
        ({"AllocatedStorage": 105}, "InvalidParameterValue"),  # by at least 10 %
        ({"DBClusterInstanceClass": "db.r6g.large"}, "InvalidParameterCombination"),  # not a Multi-AZ class
        ({"EngineVersion": "17.2"}, "InvalidParameterCombination"),  # major without AllowMajorVersionUpgrade
    ],
)
def test_modify_db_cluster_refusals(world: World, maz: list[str], params: dict[str, Any], expected: str) -> None:
    with pytest.raises(ClientError) as refused:
        world.rds_client().modify_db_cluster(DBClusterIdentifier=CLUSTER, ApplyImmediately=True, **params)
    assert code(refused) == expected
    assert cluster(world)["Status"] == "available" and world.sim.multi_az_changes() == []


def test_storage_change_shows_pending_then_the_new_storage_then_optimization(world: World, maz: list[str]) -> None:
    client = world.rds_client()
    client.modify_db_cluster(
        DBClusterIdentifier=CLUSTER, StorageType="io2", Iops=2000, AllocatedStorage=200, ApplyImmediately=True
    )
    world.clock.advance(60)
    now = cluster(world)
    assert now["Status"] == "modifying"
    assert now["PendingModifiedValues"] == {"StorageType": "io2", "Iops": 2000, "AllocatedStorage": 200}
    world.clock.advance(900)
    final = cluster(world)
    assert (final["Status"], final["StorageType"], final["Iops"], final["AllocatedStorage"]) == (
        "available",
        "io2",
        2000,
        200,
    )
    assert "PendingModifiedValues" not in final
    assert set(statuses(world).values()) == {"storage-optimization"}
    with pytest.raises(ClientError) as refused:
        client.modify_db_cluster(DBClusterIdentifier=CLUSTER, AllocatedStorage=400, Iops=2000, ApplyImmediately=True)
    assert code(refused) == "InvalidDBClusterStateFault"


def test_reboot_db_cluster_reboots_every_member_at_once(world: World, maz: list[str]) -> None:
    client = world.rds_client()
    client.reboot_db_cluster(DBClusterIdentifier=CLUSTER)
    world.clock.advance(10)
    assert cluster(world)["Status"] == "rebooting"
    assert set(statuses(world).values()) == {"rebooting"}
    world.clock.advance(150)
    assert cluster(world)["Status"] == "available" and set(statuses(world).values()) == {"available"}
    events = client.describe_events(SourceType="db-instance", SourceIdentifier=W, Duration=60)["Events"]
    assert [e["Message"] for e in events] == ["DB instance shutdown", "DB instance restarted"]


def test_member_reboot_does_not_fail_over(world: World, maz: list[str]) -> None:
    client = world.rds_client()
    client.reboot_db_instance(DBInstanceIdentifier=W)
    world.clock.advance(10)
    assert statuses(world)[W] == "rebooting" and writer(world) == W
    world.clock.advance(60)
    assert statuses(world)[W] == "available" and writer(world) == W


def test_failover_to_a_reader(world: World, maz: list[str]) -> None:
    world.rds_client().failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=R3)
    world.clock.advance(10)
    assert cluster(world)["Status"] == "failing-over"
    world.clock.advance(40)
    assert writer(world) == R3 and cluster(world)["Status"] == "available"


def test_orderable_rows_say_which_classes_a_multi_az_db_cluster_takes(world: World) -> None:
    client = world.rds_client()
    rows = client.describe_orderable_db_instance_options(
        Engine="postgres", EngineVersion="16.4", DBInstanceClass="db.r6gd.large"
    )["OrderableDBInstanceOptions"]
    assert rows and all(r["SupportsClusters"] for r in rows)
    assert {r["StorageType"] for r in rows} == {"io1", "io2", "gp3"}
    none = client.describe_orderable_db_instance_options(
        Engine="postgres", EngineVersion="16.4", DBInstanceClass="db.r6g.large"
    )["OrderableDBInstanceOptions"]
    assert not any(r.get("SupportsClusters") for r in none)
    aurora = client.describe_orderable_db_instance_options(Engine="aurora-postgresql", EngineVersion="15.4")
    assert aurora["OrderableDBInstanceOptions"] and not any(
        r.get("SupportsClusters") for r in aurora["OrderableDBInstanceOptions"]
    )
    [mysql] = client.describe_db_engine_versions(Engine="mysql", EngineVersion="8.0.39")["DBEngineVersions"]
    assert "8.0.40" in [t["EngineVersion"] for t in mysql["ValidUpgradeTarget"]]


def test_a_mysql_multi_az_db_cluster_takes_no_major_upgrade(world: World) -> None:
    """DescribeDBEngineVersions answers per engine (a DB instance may go 8.0 -> 8.4); ModifyDBCluster of a
    Multi-AZ DB cluster refuses the major (major upgrades of Multi-AZ DB clusters: PostgreSQL only)."""
    world.sim.seed_multi_az_cluster(
        "ledger-mysql", engine="mysql", engine_version="8.0.39", instance_class="db.r6gd.large"
    )
    client = world.rds_client()
    with pytest.raises(ClientError, match=r"Cannot upgrade mysql from 8\.0\.39 to 8\.4\.3"):
        client.modify_db_cluster(
            DBClusterIdentifier="ledger-mysql",
            EngineVersion="8.4.3",
            AllowMajorVersionUpgrade=True,
            ApplyImmediately=True,
        )
