"""Blue/Green deployments of RDS DB instances, as a caller sees them through a boto3 client on the simulator.

Each test reads what an engine or a person would read (DescribeBlueGreenDeployments, DescribeDBInstances,
the error a call raises) at virtual instants reached by advancing the clock in steps, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rds_maint.rds import make_rds_client
from rds_sim import SimulatedAurora, VirtualClock
from rds_sim.blue_green_instances import InstanceBlueGreenDurations
from rds_sim.moto_backend import MotoRds

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

REGION = "us-east-1"
ACCOUNT = "123456789012"
DB = "orders-db"
DEFAULTS = InstanceBlueGreenDurations()
JITTER = 1.1  # the timeline's jitter is at most 10 %


def arn(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sim(clock: VirtualClock) -> Iterator[SimulatedAurora]:
    with mock_aws(), SimulatedAurora(clock=clock, region=REGION) as simulated:
        yield simulated


@pytest.fixture
def client(sim: SimulatedAurora) -> RDSClient:
    return sim.clients(make_rds_client)(REGION)


# -- helpers ------------------------------------------------------------------------------------------


def seed_mysql(sim: SimulatedAurora, name: str = DB, **kwargs: Any) -> str:
    settings: dict[str, Any] = {
        "engine": "mysql",
        "engine_version": "8.0.36",
        "instance_class": "db.r6g.large",
        "tags": {"team": "payments"},
    }
    settings.update(kwargs)
    return sim.seed_db_instance(name, **settings)


def seed_postgres(sim: SimulatedAurora, version: str = "15.4", *, logical: str | None = "1", **kwargs: Any) -> str:
    sim.seed_db_instance(DB, engine="postgres", engine_version=version, instance_class="db.m6g.large", **kwargs)
    if logical is not None:
        sim.parameter_groups.use_custom_instance_group(DB, {"rds.logical_replication": logical})
    return DB


def create(client: RDSClient, name: str = "bg-orders", source: str = DB, **target: Any) -> dict[str, Any]:
    response = client.create_blue_green_deployment(BlueGreenDeploymentName=name, Source=arn(source), **target)
    return dict(response["BlueGreenDeployment"])


def deployment(client: RDSClient, identifier: str) -> dict[str, Any]:
    rows = client.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployments"]
    return dict(rows[0])


def instance(client: RDSClient, name: str) -> dict[str, Any]:
    return dict(client.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])


def names(client: RDSClient) -> set[str]:
    return {i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]}


def wait(clock: VirtualClock, done: Callable[[], bool], *, step: float = 30, limit: float = 48 * 3600) -> float:
    """Advance the virtual clock in steps until `done()`; the virtual seconds it took."""
    waited = 0.0
    while not done():
        if waited >= limit:
            raise AssertionError(f"not done after {limit} virtual seconds")
        clock.advance(step)
        waited += step
    return waited


def error(call: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def switch_when_ready(client: RDSClient, clock: VirtualClock, identifier: str) -> None:
    """Switch over as soon as AWS accepts (refusals while green is not ready are expected), then wait."""

    def accepted() -> bool:
        try:
            client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidBlueGreenDeploymentStateFault"
            return False
        return True

    wait(clock, lambda: deployment(client, identifier)["Status"] in ("AVAILABLE", "SWITCHOVER_FAILED"), step=60)
    wait(clock, accepted, step=30)
    wait(clock, lambda: deployment(client, identifier)["Status"] == "SWITCHOVER_COMPLETED", step=10)


# -- create ---------------------------------------------------------------------------------------------


def test_mysql_green_copies_blue_with_the_target_version_class_tags_and_read_replicas(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_mysql(sim, multi_az=True)
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr", "SourceDBInstanceIdentifier": DB}
    )

    created = create(client, TargetEngineVersion="8.4.3", TargetDBInstanceClass="db.r6g.xlarge")

    assert created["Status"] == "PROVISIONING"
    assert created["Source"] == arn(DB)
    green_id = created["Target"].rsplit(":", 1)[-1]
    assert green_id.startswith(f"{DB}-green-") and len(green_id) == len(DB) + len("-green-") + 6
    green = instance(client, green_id)
    assert green["DBInstanceStatus"] == "creating"
    assert (green["EngineVersion"], green["DBInstanceClass"], green["MultiAZ"]) == ("8.4.3", "db.r6g.xlarge", True)
    assert {"Key": "team", "Value": "payments"} in green["TagList"]
    assert green["DBParameterGroups"][0]["DBParameterGroupName"] == "default.mysql8.4"  # a major: new family
    members = [(m["SourceMember"], m["TargetMember"]) for m in created["SwitchoverDetails"]]
    green_replica = members[1][1].rsplit(":", 1)[-1]
    assert members[0] == (arn(DB), arn(green_id)) and members[1][0] == arn("orders-rr")
    assert instance(client, green_replica)["ReadReplicaSourceDBInstanceIdentifier"] == green_id
    assert [t["Name"] for t in created["Tasks"]] == [
        "CREATING_READ_REPLICA_OF_SOURCE",
        "DB_ENGINE_VERSION_UPGRADE",
        "CONFIGURE_BACKUPS",
        "CREATING_TOPOLOGY_OF_SOURCE",
    ]
    blue = instance(client, DB)
    assert (blue["DBInstanceStatus"], blue["EngineVersion"]) == ("available", "8.0.36")


def test_postgres_major_upgrade_with_logical_replication_gets_the_new_familys_group(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_postgres(sim, "15.4", multi_az=False)

    created = create(client, TargetEngineVersion="16.4")

    green = instance(client, created["Target"].rsplit(":", 1)[-1])
    assert (green["Engine"], green["EngineVersion"], green["MultiAZ"]) == ("postgres", "16.4", False)
    assert green["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres16"


def test_postgres_green_takes_the_target_parameter_group_of_the_target_family(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_postgres(sim, "15.4")
    client.create_db_parameter_group(
        DBParameterGroupName="orders-pg16", DBParameterGroupFamily="postgres16", Description="green"
    )
    sim.clock.advance(600)  # AWS asks to wait 5 minutes before a new group is used

    created = create(client, TargetEngineVersion="16.4", TargetDBParameterGroupName="orders-pg16")

    green = instance(client, created["Target"].rsplit(":", 1)[-1])
    assert green["DBParameterGroups"][0]["DBParameterGroupName"] == "orders-pg16"


def test_postgres_minor_upgrade_replicates_physically_without_logical_replication(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_postgres(sim, "15.4", logical=None)

    created = create(client, TargetEngineVersion="15.7")

    green = instance(client, created["Target"].rsplit(":", 1)[-1])
    assert green["EngineVersion"] == "15.7"
    assert green["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres15"  # blue's group


# -- refusals (nothing is created) ---------------------------------------------------------------------


def refused(client: RDSClient, before: set[str], **target: Any) -> tuple[str, str]:
    found = error(lambda: create(client, **target))
    assert names(client) == before
    assert client.describe_blue_green_deployments()["BlueGreenDeployments"] == []
    return found


def test_postgres_major_upgrade_without_logical_replication_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_postgres(sim, "15.4", logical=None)

    code, message = refused(client, {DB}, TargetEngineVersion="16.4")

    assert code == "SourceDatabaseNotSupportedFault" and "rds.logical_replication" in message


def test_postgres_logical_replication_set_but_not_applied_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_db_instance(DB, engine="postgres", engine_version="15.4")
    sim.parameter_groups.use_custom_instance_group(DB, {"rds.logical_replication": "1"}, apply_status="pending-reboot")

    code, message = refused(client, {DB}, TargetEngineVersion="16.4")

    assert code == "SourceDatabaseNotSupportedFault" and "pending-reboot" in message and "reboot" in message


def test_postgres_major_upgrade_from_15_3_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_postgres(sim, "15.3")

    code, message = refused(client, {DB}, TargetEngineVersion="16.4")

    assert code == "SourceDatabaseNotSupportedFault" and "15.4" in message


def test_automated_backups_off_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "ModifyDBInstance", {"DBInstanceIdentifier": DB, "BackupRetentionPeriod": 0, "ApplyImmediately": True}
    )

    code, message = refused(client, {DB}, TargetEngineVersion="8.0.40")

    assert code == "SourceDatabaseNotSupportedFault" and "automated backups" in message


@pytest.mark.parametrize(
    ("target", "code", "words"),
    [
        ({"TargetDBClusterParameterGroupName": "any"}, "InvalidParameterCombination", "TargetDBParameterGroupName"),
        ({"TargetEngineVersion": "8.0.35"}, "InvalidParameterCombination", "Cannot upgrade mysql"),
        ({"TargetEngineVersion": "9.9.9"}, "InvalidParameterCombination", "Cannot upgrade mysql"),
        ({"TargetDBParameterGroupName": "missing"}, "DBParameterGroupNotFound", "missing"),
        ({"TargetDBParameterGroupName": "default.mysql8.4"}, "InvalidParameterCombination", "mysql8.0"),
        ({"TargetDBInstanceClass": "db.x9.huge"}, "InvalidParameterCombination", "db.x9.huge"),
        ({"TargetStorageType": "standard"}, "InvalidParameterValue", "gp2 | gp3 | io1 | io2"),
        ({"TargetStorageType": "gp3", "TargetIops": 6000}, "InvalidParameterCombination", "400 GiB"),
        ({"TargetStorageType": "gp3", "TargetStorageThroughput": 250}, "InvalidParameterCombination", "400 GiB"),
        ({"TargetStorageType": "io1"}, "InvalidParameterCombination", "TargetIops is required"),
        ({"TargetStorageType": "io1", "TargetIops": 9000}, "InvalidParameterCombination", "IOPS per GiB"),
        ({"TargetStorageThroughput": 500}, "InvalidParameterCombination", "gp3"),
        ({"TargetIops": 3000}, "InvalidParameterCombination", "gp2"),
        ({"TargetAllocatedStorage": 10}, "InvalidParameterValue", "20 to 65536"),
        (
            {
                "TargetStorageType": "gp3",
                "TargetAllocatedStorage": 500,
                "TargetIops": 12000,
                "TargetStorageThroughput": 4000,
            },
            "InvalidParameterCombination",
            "0.25 MiBps per IOPS",
        ),
    ],
)
def test_target_settings_aws_refuses(
    sim: SimulatedAurora, client: RDSClient, target: dict[str, Any], code: str, words: str
) -> None:
    seed_mysql(sim)  # gp2, 100 GiB

    found = refused(client, {DB}, **target)

    assert found[0] == code and words in found[1]


def test_a_read_replica_source_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr", "SourceDBInstanceIdentifier": DB}
    )

    code, message = refused(client, {DB, "orders-rr"}, source="orders-rr")

    assert code == "SourceDatabaseNotSupportedFault" and "read replica" in message


def test_cascading_read_replicas_are_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr", "SourceDBInstanceIdentifier": DB}
    )
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr2", "SourceDBInstanceIdentifier": "orders-rr"}
    )

    code, message = refused(client, {DB, "orders-rr", "orders-rr2"})

    assert code == "SourceDatabaseNotSupportedFault" and "cascading" in message


def test_a_busy_source_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    sim.faults.stuck(DB, "modifying")

    code, message = refused(client, {DB})

    assert code == "InvalidDBInstanceState" and "modifying" in message


def test_an_unknown_source_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    code, _ = refused(client, set(), source="nobody")

    assert code == "DBInstanceNotFound"


def test_a_second_deployment_of_the_same_source_or_name_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    seed_mysql(sim, "other-db")
    create(client)
    before = names(client)

    same_source = error(lambda: create(client, name="bg-again"))
    same_name = error(lambda: create(client, source="other-db"))

    assert same_source[0] == "InvalidDBInstanceState" and "already part of" in same_source[1]
    assert same_name[0] == "BlueGreenDeploymentAlreadyExistsFault"
    assert names(client) == before and len(client.describe_blue_green_deployments()["BlueGreenDeployments"]) == 1


def test_a_multi_az_db_cluster_source_and_its_members_are_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    members = sim.seed_multi_az_cluster("maz", engine="postgres", engine_version="16.4", instance_class="db.m6gd.large")
    cluster_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:maz"

    as_cluster = error(
        lambda: client.create_blue_green_deployment(BlueGreenDeploymentName="bg-maz", Source=cluster_arn)
    )
    as_member = error(lambda: create(client, source=members[0]))

    assert as_cluster[0] == "SourceClusterNotSupportedFault" and "Multi-AZ DB cluster" in as_cluster[1]
    assert as_member[0] == "SourceDatabaseNotSupportedFault" and "Multi-AZ DB cluster" in as_member[1]
    assert client.describe_blue_green_deployments()["BlueGreenDeployments"] == []


def test_an_aurora_source_refuses_the_db_instance_only_settings(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_cluster("aurora-pg", engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large")
    cluster_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:aurora-pg"

    code, message = error(
        lambda: client.create_blue_green_deployment(
            BlueGreenDeploymentName="bg-aurora", Source=cluster_arn, TargetStorageType="gp3"
        )
    )

    assert code == "InvalidParameterCombination" and "TargetStorageType" in message
    assert client.describe_blue_green_deployments()["BlueGreenDeployments"] == []


# -- green build time and readiness -------------------------------------------------------------------------


def test_green_is_ready_after_tens_of_minutes_and_a_switchover_waits_for_its_members(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    identifier = create(client, TargetEngineVersion="8.0.40")["BlueGreenDeploymentIdentifier"]

    took = wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    refusal = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))

    assert DEFAULTS.provision / JITTER <= took <= DEFAULTS.provision * JITTER + 60
    assert refusal[0] == "InvalidBlueGreenDeploymentStateFault"
    assert deployment(client, identifier)["Status"] == "AVAILABLE" and DB in names(client)  # nothing started
    clock.advance(DEFAULTS.green_ready * JITTER)
    client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)


def test_a_storage_change_builds_for_hours_and_refuses_switchover_while_green_is_in_storage_optimization(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_postgres(sim, "15.4", storage_type="gp2", allocated_storage=100)
    created = create(client, TargetEngineVersion="16.4", TargetStorageType="gp3", TargetAllocatedStorage=500)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]

    took = wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=300)
    clock.advance(DEFAULTS.green_ready * JITTER)
    green = instance(client, green_id)
    refusal = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))

    assert took >= DEFAULTS.provision_storage / JITTER
    assert green["DBInstanceStatus"] == "storage-optimization"
    assert (green["StorageType"], green["AllocatedStorage"], green["Iops"], green["StorageThroughput"]) == (
        "gp3",
        500,
        12000,
        500,
    )
    assert refusal == ("InvalidBlueGreenDeploymentStateFault", f"DB instance {green_id} is not in available state")
    assert deployment(client, identifier)["Status"] == "AVAILABLE" and green_id in names(client)
    optimizing = wait(clock, lambda: instance(client, green_id)["DBInstanceStatus"] == "available", step=600)
    assert optimizing >= DEFAULTS.storage_optimization / JITTER - 2 * DEFAULTS.green_ready
    client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)


def test_delay_green_ready_keeps_switchovers_refused(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    identifier = create(client)["BlueGreenDeploymentIdentifier"]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    sim.blue_green.delay_green_ready(3600)

    clock.advance(1800)
    code, _ = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))

    assert code == "InvalidBlueGreenDeploymentStateFault"


# -- switchover --------------------------------------------------------------------------------------------


def test_switchover_renames_blue_to_old1_and_green_to_the_blue_names(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim, multi_az=True)
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr", "SourceDBInstanceIdentifier": DB}
    )
    identifier = create(client, TargetEngineVersion="8.4.3")["BlueGreenDeploymentIdentifier"]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    clock.advance(DEFAULTS.green_ready * JITTER)

    accepted = client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    second = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))
    wait(clock, lambda: deployment(client, identifier)["Status"] == "SWITCHOVER_IN_PROGRESS", step=1)
    stopped = wait(clock, lambda: deployment(client, identifier)["Status"] == "SWITCHOVER_COMPLETED", step=5)

    assert accepted["BlueGreenDeployment"]["Status"] == "AVAILABLE"
    assert second[0] == "InvalidBlueGreenDeploymentStateFault"
    assert DEFAULTS.switchover / JITTER - 5 <= stopped <= DEFAULTS.switchover * JITTER + 5  # about a minute
    assert names(client) == {DB, f"{DB}-old1", "orders-rr", "orders-rr-old1"}
    new, old = instance(client, DB), instance(client, f"{DB}-old1")
    assert (new["EngineVersion"], new["MultiAZ"]) == ("8.4.3", True)
    assert old["EngineVersion"] == "8.0.36"
    assert new["Endpoint"]["Address"].startswith(f"{DB}.") and old["Endpoint"]["Address"].startswith(f"{DB}-old1.")
    assert new["DBInstanceArn"] == arn(DB) and {"Key": "team", "Value": "payments"} in new["TagList"]
    assert instance(client, "orders-rr")["ReadReplicaSourceDBInstanceIdentifier"] == DB
    assert instance(client, "orders-rr-old1")["ReadReplicaSourceDBInstanceIdentifier"] == f"{DB}-old1"
    shown = deployment(client, identifier)
    assert (shown["Source"], shown["Target"]) == (arn(f"{DB}-old1"), arn(DB))
    assert {d["Status"] for d in shown["SwitchoverDetails"]} == {"SWITCHOVER_COMPLETED"}
    assert sim.blue_green.is_read_only(f"{DB}-old1") and not sim.blue_green.is_read_only(DB)


def test_a_switchover_longer_than_its_timeout_fails_and_renames_nothing(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    clock.advance(DEFAULTS.green_ready * JITTER)

    client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, SwitchoverTimeout=30)
    wait(clock, lambda: deployment(client, identifier)["Status"] == "SWITCHOVER_FAILED", step=10, limit=600)

    assert names(client) == {DB, green_id}
    assert "SwitchoverTimeout" in deployment(client, identifier)["StatusDetails"]


def test_an_armed_switchover_failure_renames_nothing_and_a_retry_succeeds(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    sim.blue_green.fail_next_switchover("replica lag")
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    clock.advance(DEFAULTS.green_ready * JITTER)

    client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    wait(clock, lambda: deployment(client, identifier)["Status"] == "SWITCHOVER_FAILED", step=10, limit=600)
    assert names(client) == {DB, green_id}
    switch_when_ready(client, clock, identifier)

    assert names(client) == {DB, f"{DB}-old1"}


def test_event_scheduler_on_in_greens_group_ends_invalid_configuration(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    sim.parameter_groups.use_custom_instance_group(DB, {"event_scheduler": "ON"})
    identifier = create(client)["BlueGreenDeploymentIdentifier"]

    wait(clock, lambda: deployment(client, identifier)["Status"] != "PROVISIONING", step=60)

    shown = deployment(client, identifier)
    assert shown["Status"] == "INVALID_CONFIGURATION" and "event_scheduler" in shown["StatusDetails"]
    code, _ = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))
    assert code == "InvalidBlueGreenDeploymentStateFault"


# -- delete ------------------------------------------------------------------------------------------------


def test_delete_while_provisioning_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    identifier = create(client)["BlueGreenDeploymentIdentifier"]

    code, _ = error(
        lambda: client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=True)
    )

    assert code == "InvalidBlueGreenDeploymentStateFault" and len(names(client)) == 2


def test_delete_target_before_switchover_deletes_the_green_instances_only(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "CreateDBInstanceReadReplica", {"DBInstanceIdentifier": "orders-rr", "SourceDBInstanceIdentifier": DB}
    )
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)

    client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=True)
    deleting = (deployment(client, identifier)["Status"], instance(client, green_id)["DBInstanceStatus"])
    wait(clock, lambda: not client.describe_blue_green_deployments()["BlueGreenDeployments"], step=60)

    assert deleting == ("DELETING", "deleting")
    assert names(client) == {DB, "orders-rr"}
    assert instance(client, DB)["DBInstanceStatus"] == "available"


def test_delete_without_target_before_switchover_keeps_green_on_its_own(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)

    client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    wait(clock, lambda: not client.describe_blue_green_deployments()["BlueGreenDeployments"], step=30)

    assert names(client) == {DB, green_id}
    assert instance(client, green_id)["DBInstanceStatus"] == "available"


def test_delete_target_is_refused_while_green_has_deletion_protection(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "ModifyDBInstance", {"DBInstanceIdentifier": DB, "DeletionProtection": True, "ApplyImmediately": True}
    )
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)

    code, message = error(
        lambda: client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=True)
    )

    assert instance(client, green_id)["DeletionProtection"] is True  # copied from blue
    assert code == "InvalidParameterCombination" and "deletion protection" in message
    assert deployment(client, identifier)["Status"] == "AVAILABLE"


def test_after_switchover_delete_target_is_refused_and_old_blue_can_go_with_a_final_snapshot(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    identifier = create(client, TargetEngineVersion="8.0.40")["BlueGreenDeploymentIdentifier"]
    switch_when_ready(client, clock, identifier)

    with_flag = error(
        lambda: client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier, DeleteTarget=False)
    )
    client.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier)
    wait(clock, lambda: not client.describe_blue_green_deployments()["BlueGreenDeployments"], step=30)
    writable = not sim.blue_green.is_read_only(f"{DB}-old1")
    client.delete_db_instance(DBInstanceIdentifier=f"{DB}-old1", FinalDBSnapshotIdentifier="orders-db-old1-final")
    wait(clock, lambda: f"{DB}-old1" not in names(client), step=60)

    assert with_flag[0] == "InvalidParameterCombination" and "SWITCHOVER_COMPLETED" in with_flag[1]
    assert writable
    assert names(client) == {DB} and instance(client, DB)["EngineVersion"] == "8.0.40"
    snapshots = client.describe_db_snapshots(DBSnapshotIdentifier="orders-db-old1-final")["DBSnapshots"]
    assert snapshots[0]["DBInstanceIdentifier"] == f"{DB}-old1"


def test_deleting_an_instance_of_its_own_needs_a_final_snapshot_or_skip(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_mysql(sim)

    code, _ = error(lambda: client.delete_db_instance(DBInstanceIdentifier=DB))

    assert code == "InvalidParameterCombination" and instance(client, DB)["DBInstanceStatus"] == "available"


# -- describe, engine versions, parameter groups ------------------------------------------------------------


def test_describe_filters_by_source_arn(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    seed_mysql(sim, "other-db")
    create(client)
    create(client, name="bg-other", source="other-db")

    rows = client.describe_blue_green_deployments(Filters=[{"Name": "source", "Values": [arn("other-db")]}])

    assert [r["BlueGreenDeploymentName"] for r in rows["BlueGreenDeployments"]] == ["bg-other"]


def test_engine_versions_of_rds_engines_list_upgrade_targets_and_families(client: RDSClient) -> None:
    rows = client.describe_db_engine_versions(Engine="postgres", EngineVersion="15.4")["DBEngineVersions"]
    mysql = client.describe_db_engine_versions(Engine="mysql", EngineVersion="8.0.36")["DBEngineVersions"]

    assert rows[0]["DBParameterGroupFamily"] == "postgres15"
    targets = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in rows[0]["ValidUpgradeTarget"]}
    assert targets["15.7"] is False and targets["16.4"] is True and "14.9" not in targets
    assert mysql[0]["DBParameterGroupFamily"] == "mysql8.0"
    assert {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in mysql[0]["ValidUpgradeTarget"]}["8.4.3"] is True


def test_a_postgres_group_takes_logical_replication_as_a_static_parameter(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    client.create_db_parameter_group(
        DBParameterGroupName="pg16-custom", DBParameterGroupFamily="postgres16", Description="x"
    )

    immediate = error(
        lambda: client.modify_db_parameter_group(
            DBParameterGroupName="pg16-custom",
            Parameters=[
                {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "immediate"}
            ],
        )
    )
    client.modify_db_parameter_group(
        DBParameterGroupName="pg16-custom",
        Parameters=[
            {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}
        ],
    )

    assert immediate[0] == "InvalidParameterCombination"
    rows = client.describe_db_parameters(DBParameterGroupName="pg16-custom", Source="user")["Parameters"]
    assert [(p["ParameterName"], p["ParameterValue"]) for p in rows] == [("rds.logical_replication", "1")]


def test_a_deleted_green_shows_missing_target_and_the_switchover_is_refused(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    created = create(client)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]
    wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=60)
    clock.advance(DEFAULTS.green_ready * JITTER)

    client.delete_db_instance(DBInstanceIdentifier=green_id, SkipFinalSnapshot=True)
    wait(clock, lambda: green_id not in names(client), step=60)
    code, message = error(lambda: client.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=identifier))

    assert deployment(client, identifier)["SwitchoverDetails"][0]["Status"] == "MISSING_TARGET"
    assert code == "InvalidBlueGreenDeploymentStateFault" and green_id in message
    assert names(client) == {DB}


def test_upgrade_target_storage_config_counts_as_a_storage_change(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    seed_mysql(sim)
    created = create(client, UpgradeTargetStorageConfig=True)
    identifier, green_id = created["BlueGreenDeploymentIdentifier"], created["Target"].rsplit(":", 1)[-1]

    took = wait(clock, lambda: deployment(client, identifier)["Status"] == "AVAILABLE", step=300)

    assert took >= DEFAULTS.provision_storage / JITTER
    assert instance(client, green_id)["DBInstanceStatus"] == "storage-optimization"


def test_a_master_password_in_secrets_manager_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    sim._moto.call(
        "ModifyDBInstance", {"DBInstanceIdentifier": DB, "ManageMasterUserPassword": True, "ApplyImmediately": True}
    )

    code, message = refused(client, {DB})

    assert code == "SourceDatabaseNotSupportedFault" and "Secrets Manager" in message


def test_a_cross_region_read_replica_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    seed_mysql(sim)
    MotoRds("us-west-2").call(
        "CreateDBInstanceReadReplica",
        {"DBInstanceIdentifier": "orders-dr", "SourceDBInstanceIdentifier": arn(DB), "SourceRegion": REGION},
    )

    code, message = refused(client, {DB})

    assert code == "SourceDatabaseNotSupportedFault" and "cross-Region" in message


# -- RDS Proxy in front of a DB instance ("Using RDS Proxy with Blue/Green Deployments") --------------


def test_a_db_instance_is_a_proxy_target_of_its_own_and_must_be_one_before_the_deployment(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    seed_mysql(sim)
    seed_mysql(sim, "reports-db")
    sim.proxies.seed_instance_proxy("orders-proxy", DB)
    [target] = client.describe_db_proxy_targets(DBProxyName="orders-proxy")["Targets"]
    assert (target["Type"], target["RdsResourceId"], target["TargetHealth"]["State"]) == (
        "RDS_INSTANCE",
        DB,
        "AVAILABLE",
    )
    create(client, source="reports-db")
    with pytest.raises(ClientError, match="register the proxy target before creating the deployment"):
        client.register_db_proxy_targets(DBProxyName="orders-proxy", DBInstanceIdentifiers=["reports-db"])
