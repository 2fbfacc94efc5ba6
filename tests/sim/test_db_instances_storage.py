"""Storage changes of an RDS DB instance, as a caller sees them through a real boto3 client on the simulator.

Instants come from `sim.db_instance_changes` (the seeded jitter moves them); nothing sleeps for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rds_maint.rds import make_rds_client
from rds_sim import SimulatedAurora, VirtualClock

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


def view(client: RDSClient, instance_id: str = DB) -> Any:
    return client.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def advance_to(clock: VirtualClock, when: datetime, extra: float = 0.0) -> None:
    clock.advance((when - clock.now()).total_seconds() + extra)


def refusal(client: RDSClient, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        client.modify_db_instance(DBInstanceIdentifier=DB, ApplyImmediately=True, **params)
    error = caught.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def messages(client: RDSClient, since: datetime) -> list[str]:
    rows = client.describe_events(SourceIdentifier=DB, SourceType="db-instance", StartTime=since)["Events"]
    return [str(e["Message"]) for e in rows]


def test_gp2_to_gp3_runs_modifying_then_storage_optimization_then_available(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    start = clock.now()
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="gp3", ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    lagging = view(client)
    assert lagging["DBInstanceStatus"] == "available"
    assert lagging["StorageType"] == "gp2"
    assert lagging["PendingModifiedValues"]["StorageType"] == "gp3"

    advance_to(clock, change.visible_at, 1)
    during = view(client)
    assert during["DBInstanceStatus"] == "modifying"
    assert during["StorageType"] == "gp2"
    assert messages(client, start) == ["Applying modification to allocated storage."]

    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert after["DBInstanceStatus"] == "storage-optimization"
    assert (after["StorageType"], after["Iops"], after["StorageThroughput"]) == ("gp3", 3000, 125)
    assert after["PendingModifiedValues"] == {}
    assert messages(client, start)[-1] == "Finished applying modification to allocated storage."
    assert sim.db_instance_outages(DB) == []  # reachable throughout

    clock.advance(timedelta(hours=30).total_seconds())
    assert view(client)["DBInstanceStatus"] == "available"


def test_a_second_storage_change_waits_six_hours_after_the_first_ends(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.db_instances.durations = type(sim.db_instances.durations)(optimization_base=600, optimization_per_gib=0)
    sim.seed_db_instance(DB, storage_type="gp3", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=200, ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    assert refusal(client, AllocatedStorage=300) == (
        "InvalidParameterCombination",
        "You can't currently modify the storage of this DB instance because the previous storage change is being "
        "optimized.",
    )
    clock.advance(timedelta(hours=1).total_seconds())
    assert view(client)["DBInstanceStatus"] == "available"  # optimization is over, the 6 hours are not
    assert refusal(client, AllocatedStorage=300)[0] == "InvalidParameterCombination"
    assert sim.storage_change_allowed_at(DB) == change.ends_at + timedelta(hours=6)

    advance_to(clock, change.ends_at + timedelta(hours=6), 1)
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=300, ApplyImmediately=True)
    assert view(client)["PendingModifiedValues"]["AllocatedStorage"] == 300


def test_seeded_last_change_and_long_optimization_set_the_time_it_lifts(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    sim.set_last_storage_change(DB, clock.now() - timedelta(hours=5), optimizing_until=clock.now() + timedelta(hours=3))
    assert view(client)["DBInstanceStatus"] == "storage-optimization"
    assert sim.storage_change_allowed_at(DB) == clock.now() + timedelta(hours=3)  # the later of the two
    assert refusal(client, AllocatedStorage=200)[0] == "InvalidParameterCombination"
    clock.advance(timedelta(hours=3, seconds=1).total_seconds())
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=200, ApplyImmediately=True)
    assert len(sim.db_instance_changes(DB)) == 1


def test_a_class_change_is_accepted_during_storage_optimization(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    sim.set_last_storage_change(DB, clock.now(), optimizing_until=clock.now() + timedelta(hours=8))
    client.modify_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.r6g.large", ApplyImmediately=True)
    assert view(client)["PendingModifiedValues"]["DBInstanceClass"] == "db.r6g.large"


def test_changes_are_refused_while_modifying_even_in_the_lag(sim: SimulatedAurora, client: RDSClient) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="gp3", ApplyImmediately=True)
    assert view(client)["DBInstanceStatus"] == "available"
    assert refusal(client, DBInstanceClass="db.r6g.large")[0] == "InvalidDBInstanceState"
    with pytest.raises(ClientError) as caught:
        client.reboot_db_instance(DBInstanceIdentifier=DB)
    assert caught.value.response["Error"]["Code"] == "InvalidDBInstanceState"


@pytest.mark.parametrize(
    ("seed", "params", "code", "fragment"),
    [
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"AllocatedStorage": 50},
            "InvalidParameterCombination",
            "can't be decreased",
        ),
        (
            {"storage_type": "gp3", "allocated_storage": 100},
            {"Iops": 4000},
            "InvalidParameterCombination",
            "You can't specify IOPS or storage throughput for engine postgres and a storage size less than 400.",
        ),
        (
            {"storage_type": "gp3", "allocated_storage": 100},
            {"StorageThroughput": 200},
            "InvalidParameterCombination",
            "a storage size less than 400",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "io1"},
            "InvalidParameterCombination",
            "You must specify Iops",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "io1", "Iops": 6000},
            "InvalidParameterCombination",
            "0.5 to 50 times",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "io2", "Iops": 500},
            "InvalidParameterCombination",
            "1000 to 256000",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "io1", "Iops": 3000, "StorageThroughput": 500},
            "InvalidParameterCombination",
            "only to the gp3",
        ),
        (
            {"storage_type": "io1", "allocated_storage": 200, "iops": 3000},
            {"AllocatedStorage": 300},
            "InvalidParameterCombination",
            "You must specify both the storage size and iops",
        ),
        (
            {"storage_type": "gp3", "allocated_storage": 500, "iops": 12000, "storage_throughput": 500},
            {"AllocatedStorage": 600, "Iops": 12000, "StorageThroughput": 4000},
            "InvalidParameterCombination",
            "ratio",
        ),
        (
            {"storage_type": "gp3", "allocated_storage": 500, "iops": 12000, "storage_throughput": 500},
            {"AllocatedStorage": 600, "Iops": 70000},
            "InvalidParameterCombination",
            "12000 to 64000",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "gp4"},
            "InvalidParameterValue",
            "Invalid storage type",
        ),
        (
            {"storage_type": "gp2", "allocated_storage": 100},
            {"StorageType": "standard", "AllocatedStorage": 4000},
            "InvalidParameterValue",
            "5 to 3072",
        ),
    ],
)
def test_storage_refusals_change_nothing(
    sim: SimulatedAurora, client: RDSClient, seed: dict[str, Any], params: dict[str, Any], code: str, fragment: str
) -> None:
    sim.seed_db_instance(DB, **seed)
    before = view(client)
    got_code, message = refusal(client, **params)
    assert got_code == code
    assert fragment in message
    after = view(client)
    assert sim.db_instance_changes(DB) == []
    assert (after["StorageType"], after["AllocatedStorage"], after["PendingModifiedValues"]) == (
        before["StorageType"],
        before["AllocatedStorage"],
        {},
    )


def test_growth_below_ten_percent_is_rounded_up(sim: SimulatedAurora, client: RDSClient, clock: VirtualClock) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=105, ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    assert view(client)["AllocatedStorage"] == 110


def test_io2_block_express_takes_up_to_1000_iops_per_gib(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="io2", Iops=60000, ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["StorageType"], after["Iops"], after.get("StorageThroughput")) == ("io2", 60000, None)


def test_gp3_from_400_gib_takes_iops_and_throughput(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(
        DB, engine="mysql", engine_version="8.0.39", storage_type="io1", allocated_storage=400, iops=3000
    )
    client.modify_db_instance(
        DBInstanceIdentifier=DB, StorageType="gp3", Iops=15000, StorageThroughput=1000, ApplyImmediately=True
    )
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["StorageType"], after["Iops"], after["StorageThroughput"]) == ("gp3", 15000, 1000)


def test_without_apply_immediately_the_change_stays_pending(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="gp3")
    clock.advance(timedelta(days=2).total_seconds())
    after = view(client)
    assert (after["StorageType"], after["PendingModifiedValues"]["StorageType"]) == ("gp2", "gp3")
    assert sim.db_instance_changes(DB) == []


def test_an_instance_is_not_deleted_during_a_storage_change(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="gp3", ApplyImmediately=True)
    with pytest.raises(ClientError) as caught:
        client.delete_db_instance(DBInstanceIdentifier=DB, SkipFinalSnapshot=True)
    assert caught.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    assert sim.instance_exists(DB)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    client.delete_db_instance(DBInstanceIdentifier=DB, SkipFinalSnapshot=True)  # storage-optimization: accepted


def test_apply_immediately_also_applies_what_was_left_pending(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100, instance_class="db.m6g.large")
    client.modify_db_instance(DBInstanceIdentifier=DB, StorageType="gp3")
    client.modify_db_instance(DBInstanceIdentifier=DB, DBInstanceClass="db.m6g.xlarge", ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    assert view(client)["PendingModifiedValues"] == {
        "DBInstanceClass": "db.m6g.xlarge",
        **{"StorageType": "gp3", "AllocatedStorage": 100, "Iops": 3000, "StorageThroughput": 125},
    }
    advance_to(clock, change.ends_at, 1)
    after = view(client)
    assert (after["DBInstanceClass"], after["StorageType"], after["DBInstanceStatus"]) == (
        "db.m6g.xlarge",
        "gp3",
        "storage-optimization",
    )


def test_storage_state_follows_the_resource_through_a_rename(
    sim: SimulatedAurora, client: RDSClient, clock: VirtualClock
) -> None:
    sim.seed_db_instance(DB, storage_type="gp2", allocated_storage=100)
    client.modify_db_instance(DBInstanceIdentifier=DB, AllocatedStorage=200, ApplyImmediately=True)
    (change,) = sim.db_instance_changes(DB)
    advance_to(clock, change.ends_at, 1)
    # What a Blue/Green switchover does to names: the old instance becomes -old1, another one takes the name.
    client.modify_db_instance(DBInstanceIdentifier=DB, NewDBInstanceIdentifier=f"{DB}-old1", ApplyImmediately=True)
    green = f"{DB}-green-abc123"
    sim.seed_db_instance(green, storage_type="gp3", allocated_storage=500, iops=12000, storage_throughput=500)
    client.modify_db_instance(DBInstanceIdentifier=green, NewDBInstanceIdentifier=DB, ApplyImmediately=True)
    old = view(client, f"{DB}-old1")
    new = view(client, DB)
    assert (old["AllocatedStorage"], old["DBInstanceStatus"]) == (200, "storage-optimization")
    assert (new["StorageType"], new["AllocatedStorage"], new["DBInstanceStatus"]) == ("gp3", 500, "available")
    assert sim.storage_change_allowed_at(DB) is None
