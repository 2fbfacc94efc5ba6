"""Class change, reboot and in-place engine upgrade of an RDS DB instance, through a real boto3 client on the simulator.

Instants come from `sim.db_instance_changes` (the seeded jitter moves them); nothing sleeps for real.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rds_maint.rds import make_rds_client
from rds_sim import Catalogue, SimulatedAurora, SimulatedCrash, VirtualClock
from rds_sim.catalogue import DEFAULT_VERSIONS
from rds_sim.db_instance_catalogue import FALLBACK_VERSIONS

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

REGION = "us-east-1"
DB = "orders-db"


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


def view(client: RDSClient) -> Any:
    return client.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]


def advance_to(clock: VirtualClock, when: datetime, extra: float = 0.0) -> None:
    clock.advance((when - clock.now()).total_seconds() + extra)


def messages(client: RDSClient, since: datetime) -> list[str]:
    rows = client.describe_events(SourceIdentifier=DB, SourceType="db-instance", StartTime=since)["Events"]
    return [str(e["Message"]) for e in rows]


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(DBInstanceIdentifier=DB, **params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


# -- class change ---------------------------------------------------------------------------


def test_multi_az_class_change_fails_over_once_and_swaps_the_zones(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, multi_az=True, instance_class="db.m6g.large")
    before = view(client)
    assert (before["AvailabilityZone"], before["SecondaryAvailabilityZone"]) == ("us-east-1a", "us-east-1b")
    start = clock.now()
    client.modify_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.r6g.xlarge", ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    assert change.failover is not None
    lagging = view(client)
    assert (lagging["DBInstanceStatus"], lagging["DBInstanceClass"]) == ("available", "db.m6g.large")
    assert lagging["PendingModifiedValues"]["DBInstanceClass"] == "db.r6g.xlarge"

    advance_to(clock, change.visible_at, 1)
    assert view(client)["DBInstanceStatus"] == "modifying"
    assert sim.db_instance_outages(DB) == []  # the standby is changed first: no outage yet

    advance_to(clock, change.failover[1], 1)
    during = view(client)
    assert (during["AvailabilityZone"], during["SecondaryAvailabilityZone"]) == ("us-east-1b", "us-east-1a")
    assert during["DBInstanceStatus"] == "modifying"
    assert during["Endpoint"]["Address"] == before["Endpoint"]["Address"]
    assert sim.db_instance_outages(DB) == [change.failover]
    assert 60 <= (change.failover[1] - change.failover[0]).total_seconds() <= 120

    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["DBInstanceStatus"], after["DBInstanceClass"], after["PendingModifiedValues"]) == (
        "available",
        "db.r6g.xlarge",
        {},
    )
    assert messages(client, start) == [
        "Applying modification to database instance class.",
        "Multi-AZ instance failover started.",
        "Multi-AZ instance failover completed.",
        "Finished applying modification to DB instance class.",
    ]


def test_single_az_class_change_is_down_for_the_whole_change(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, multi_az=False, instance_class="db.m6g.large")
    start = clock.now()
    client.modify_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.m6g.xlarge", ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert after["DBInstanceClass"] == "db.m6g.xlarge"
    assert "SecondaryAvailabilityZone" not in after
    assert sim.db_instance_outages(DB) == [(change.visible_at, change.ends_at)]
    assert messages(client, start) == [
        "Applying modification to database instance class.",
        "DB instance shutdown.",
        "DB instance restarted.",
        "Finished applying modification to DB instance class.",
    ]


def test_a_class_not_sold_for_the_engine_is_refused(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_db_instance(DB)
    code, message = error_of(client.modify_db_instance, DBInstanceClass="db.x9.huge", ApplyImmediately=True)
    assert code == "InvalidParameterCombination"
    assert "DBInstanceClass=db.x9.huge, Engine=postgres" in message
    assert sim.db_instance_changes(DB) == []


def test_orderable_options_answer_one_row_per_storage_type(client: RDSClient) -> None:
    rows = client.describe_orderable_db_instance_options(
        Engine="postgres", EngineVersion="16.4", DBInstanceClass="db.r6g.large"
    )["OrderableDBInstanceOptions"]
    by_type = {r["StorageType"]: r for r in rows}
    assert set(by_type) == {"gp2", "gp3", "io1", "io2", "standard"}
    assert by_type["io1"]["MaxIopsPerGib"] == 50
    assert by_type["gp3"]["SupportsStorageThroughput"] is True
    assert all(r["MultiAZCapable"] for r in rows)


# -- reboot ---------------------------------------------------------------------------------


def test_force_failover_is_refused_on_a_single_az_instance(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_db_instance(DB, multi_az=False)
    code, message = error_of(client.reboot_db_instance, ForceFailover=True)
    assert code == "InvalidParameterCombination"
    assert "Multi-AZ" in message
    assert sim.db_instance_changes(DB) == []
    assert view(client)["DBInstanceStatus"] == "available"


def test_reboot_with_failover_swaps_the_zones(sim: SimulatedAurora, client: RDSClient, clock: VirtualClock) -> None:
    sim.seed_db_instance(DB, multi_az=True)
    start = clock.now()
    client.reboot_db_instance(DBInstanceIdentifier=DB, ForceFailover=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.visible_at, 1)
    assert view(client)["DBInstanceStatus"] == "rebooting"
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["DBInstanceStatus"], after["AvailabilityZone"], after["SecondaryAvailabilityZone"]) == (
        "available",
        "us-east-1b",
        "us-east-1a",
    )
    got = messages(client, start)
    assert got[0] == "Multi-AZ instance failover started."
    assert got[-1] == "Multi-AZ instance failover completed."


def test_reboot_clears_pending_reboot_and_keeps_the_zones(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, multi_az=True)
    sim.set_parameter_apply_status(DB, "pending-reboot")
    assert view(client)["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"
    client.reboot_db_instance(DBInstanceIdentifier=DB)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.visible_at, 1)
    assert view(client)["DBInstanceStatus"] == "rebooting"
    assert error_of(client.reboot_db_instance)[0] == "InvalidDBInstanceState"
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert after["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"
    assert after["AvailabilityZone"] == "us-east-1a"
    assert sim.db_instance_outages(DB) == [(change.visible_at, change.ends_at)]


def test_a_stuck_instance_refuses_a_reboot(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_db_instance(DB)
    sim.faults.stuck(DB, "modifying")
    assert view(client)["DBInstanceStatus"] == "modifying"
    assert error_of(client.reboot_db_instance)[0] == "InvalidDBInstanceState"


# -- in-place engine upgrade ----------------------------------------------------------------


def test_minor_upgrade_runs_upgrading_with_primary_and_standby_down(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, multi_az=True, engine_version="16.4")
    start = clock.now()
    client.modify_db_instance(DBInstanceIdentifier=DB, EngineVersion="16.6", ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    assert view(client)["PendingModifiedValues"]["EngineVersion"] == "16.6"
    advance_to(clock, change.visible_at, 1)
    assert view(client)["DBInstanceStatus"] == "upgrading"
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["DBInstanceStatus"], after["EngineVersion"], after["AvailabilityZone"]) == (
        "available",
        "16.6",
        "us-east-1a",
    )
    assert change.outage is not None and (change.outage[1] - change.outage[0]).total_seconds() > 20 * 60
    assert change.failover is None  # Multi-AZ does not help an in-place upgrade
    got = messages(client, start)
    assert got[0] == "The pre-check started for the DB engine version upgrade."
    assert "The downtime started for the DB instance." in got
    assert got[-1] == "The post-upgrade tasks are in progress."


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"EngineVersion": "15.7"}, "Cannot upgrade postgres from 16.4 to 15.7"),
        ({"EngineVersion": "16.9"}, "Cannot upgrade postgres from 16.4 to 16.9"),
        (
            {"EngineVersion": "17.2"},
            "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
        ),
    ],
)
def test_upgrade_refusals_change_nothing(
    sim: SimulatedAurora, client: RDSClient, params: dict[str, Any], fragment: str
) -> None:
    sim.seed_db_instance(DB, engine_version="16.4")
    code, message = error_of(client.modify_db_instance, ApplyImmediately=True, **params)
    assert (code, fragment in message) == ("InvalidParameterCombination", True)
    assert sim.db_instance_changes(DB) == []
    assert view(client)["EngineVersion"] == "16.4"


def test_mysql_8_0_to_8_4_is_a_major_upgrade(sim: SimulatedAurora, client: RDSClient, clock: VirtualClock) -> None:
    sim.seed_db_instance(DB, engine="mysql", engine_version="8.0.39")
    code, message = error_of(client.modify_db_instance, EngineVersion="8.4.3", ApplyImmediately=True)
    assert (code, "AllowMajorVersionUpgrade" in message) == ("InvalidParameterCombination", True)
    client.modify_db_instance(DBInstanceIdentifier=DB, EngineVersion="8.0.40", ApplyImmediately=True)  # minor
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    assert view(client)["EngineVersion"] == "8.0.40"


def test_major_upgrade_names_an_existing_group_of_the_new_family(clock: VirtualClock) -> None:
    catalogue = Catalogue({**DEFAULT_VERSIONS, "postgres": FALLBACK_VERSIONS["postgres"]})
    with mock_aws(), SimulatedAurora(clock=clock, region=REGION, catalogue=catalogue) as sim:
        client = sim.clients(make_rds_client)(REGION)
        sim.seed_db_instance(DB, engine_version="16.4")
        code, _ = error_of(
            client.modify_db_instance,
            EngineVersion="17.2",
            AllowMajorVersionUpgrade=True,
            DBParameterGroupName="orders-pg17",
            ApplyImmediately=True,
        )
        assert code == "DBParameterGroupNotFound"
        client.describe_db_parameter_groups()  # the account's default groups, as a person lists them
        client.modify_db_instance(
            DBInstanceIdentifier=DB,
            EngineVersion="17.2",
            AllowMajorVersionUpgrade=True,
            DBParameterGroupName="default.postgres17",
            ApplyImmediately=True,
        )
        (change,) = sim.db_instance_changes(DB)
        assert view(client)["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres16"
        advance_to(clock, change.ends_at, 1)
        after = view(client)
        assert after["EngineVersion"] == "17.2"
        assert after["DBParameterGroups"][0]["DBParameterGroupName"] == "default.postgres17"


# -- faults and saving ----------------------------------------------------------------------


def test_a_crash_after_the_call_leaves_the_change_visible_and_a_repeat_refused(
    sim: SimulatedAurora, client: RDSClient
) -> None:
    sim.seed_db_instance(DB, multi_az=True)
    sim.faults.crash_after("ModifyDBInstance")
    with pytest.raises(SimulatedCrash):
        client.modify_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.r6g.large", ApplyImmediately=True)
    assert view(client)["PendingModifiedValues"]["DBInstanceClass"] == "db.r6g.large"  # what a resumed run reads
    assert error_of(client.modify_db_instance, DBInstanceClass="db.r6g.large", ApplyImmediately=True)[0] == (
        "InvalidDBInstanceState"
    )
    assert len(sim.db_instance_changes(DB)) == 1


def test_a_saved_account_resumes_a_change_under_way(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=200, ApplyImmediately=True)
    restored = pickle.loads(pickle.dumps(sim))
    (change,) = restored.db_instance_changes(DB)
    advance_to(restored.clock, change.ends_at, 1)
    restored_client = restored.clients(make_rds_client)(REGION)
    after = restored_client.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]
    assert (after["AllocatedStorage"], after["DBInstanceStatus"]) == (200, "storage-optimization")
