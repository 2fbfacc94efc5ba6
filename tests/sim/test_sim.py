"""The simulated Aurora behaves like Aurora as a caller observes it, through real boto3 clients.

Each test reads what an engine would read (DescribeDBInstances / DescribeDBClusters, or the
exception a call raises) at chosen virtual instants. Instants come from `sim.transitions`, so
the tests hold whatever the seeded jitter; nothing sleeps for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from rds_maint.errors import TransientAwsError
from rds_maint.rds import RdsGateway, make_rds_client
from rds_sim import Catalogue, Durations, SimulatedAurora, SimulatedCrash, Transition, VirtualClock

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

REGION = "us-east-1"
CLUSTER = "prod-pg"
WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
READER_3 = f"{CLUSTER}-instance-3"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def sim(clock: VirtualClock) -> Iterator[SimulatedAurora]:
    with mock_aws(), SimulatedAurora(clock=clock, region=REGION) as simulated:
        yield simulated


@pytest.fixture
def client(sim: SimulatedAurora) -> RDSClient:
    sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large")
    return sim.clients(make_rds_client)(REGION)


# -- helpers ------------------------------------------------------------------------------


def advance_to(clock: VirtualClock, when: datetime, extra: float = 0.0) -> None:
    clock.advance((when - clock.now()).total_seconds() + extra)


def last(sim: SimulatedAurora, kind: str, resource_id: str) -> Transition:
    return [t for t in sim.transitions if t.kind == kind and t.resource_id == resource_id][-1]


def instance(client: RDSClient, instance_id: str) -> Any:
    return client.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def cluster(client: RDSClient) -> Any:
    return client.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]


def writer_of(client: RDSClient) -> str:
    return str(next(m["DBInstanceIdentifier"] for m in cluster(client)["DBClusterMembers"] if m["IsClusterWriter"]))


def code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def create_reader(client: RDSClient, instance_id: str, instance_class: str = "db.r6g.large", **extra: Any) -> None:
    client.create_db_instance(
        DBInstanceIdentifier=instance_id,
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        DBInstanceClass=instance_class,
        **extra,
    )


# -- seeding and reads --------------------------------------------------------------------


def test_seeded_cluster_is_available_with_writer_first_and_spread_over_zones(sim: SimulatedAurora) -> None:
    ids = sim.seed_cluster(
        CLUSTER,
        engine="aurora-postgresql",
        engine_version="15.4",
        instance_class="db.r6g.large",
        readers=2,
        autoscaled_readers=1,
        serverless_readers=1,
        tags={"team": "orders"},
    )
    client = sim.clients(make_rds_client)(REGION)

    assert ids[:3] == [WRITER, READER_2, READER_3]
    assert ids[3].startswith("application-autoscaling-") and len(ids[3]) == len("application-autoscaling-") + 8
    assert ids[4] == f"{CLUSTER}-serverless-1"
    data = cluster(client)
    assert (data["Status"], data["Engine"], data["EngineVersion"], data.get("StorageType")) == (
        "available",
        "aurora-postgresql",
        "15.4",
        None,  # a Standard Aurora cluster may omit StorageType, and the simulator always does
    )
    assert data["DBClusterParameterGroup"] == "default.aurora-postgresql15"
    assert data["AvailabilityZones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert {"Key": "team", "Value": "orders"} in data["TagList"]
    assert writer_of(client) == WRITER
    members = client.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBInstances"]
    by_id = {m["DBInstanceIdentifier"]: m for m in members}
    assert {m["DBInstanceStatus"] for m in members} == {"available"}
    assert [by_id[i]["AvailabilityZone"] for i in ids] == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
        "us-east-1a",
        "us-east-1b",
    ]
    autoscaled = by_id[ids[3]]
    assert autoscaled["PromotionTier"] == 15
    assert autoscaled["DBInstanceClass"] == "db.r6g.large"
    assert {"Key": "application-autoscaling:resourceId", "Value": f"cluster:{CLUSTER}"} in autoscaled["TagList"]
    assert by_id[ids[4]]["DBInstanceClass"] == "db.serverless"
    assert by_id[WRITER]["PendingModifiedValues"] == {}
    assert by_id[WRITER]["DBParameterGroups"][0]["ParameterApplyStatus"] == "in-sync"


def test_the_gateway_reads_a_seeded_cluster(client: RDSClient, sim: SimulatedAurora) -> None:
    snapshot = RdsGateway(client).describe_cluster(CLUSTER)

    assert snapshot.writer_id == WRITER
    assert snapshot.storage_type == "aurora"
    assert [m.id for m in snapshot.members] == [WRITER, READER_2, READER_3]
    assert all(m.instance.status == "available" and m.instance.pending_class is None for m in snapshot.members)


def test_missing_resources_raise_the_modelled_not_found_errors(client: RDSClient) -> None:
    with pytest.raises(client.exceptions.DBInstanceNotFoundFault):
        client.describe_db_instances(DBInstanceIdentifier="nope")
    with pytest.raises(client.exceptions.DBClusterNotFoundFault):
        client.describe_db_clusters(DBClusterIdentifier="nope")
    with pytest.raises(client.exceptions.DBInstanceNotFoundFault):
        client.modify_db_instance(DBInstanceIdentifier="nope", DBInstanceClass="db.r6g.xlarge", ApplyImmediately=True)


def test_views_and_existence_checks_are_not_recorded_as_calls(client: RDSClient, sim: SimulatedAurora) -> None:
    view = sim.cluster_view(CLUSTER)

    assert sim.instance_exists(READER_2) and not sim.instance_exists("nope")
    assert view.status == "available" and view.writer == WRITER
    assert view.members[READER_3].availability_zone == "us-east-1c"
    assert sim.calls == []


# -- ModifyDBInstance ---------------------------------------------------------------------


def test_modify_reads_available_with_the_old_class_during_the_lag_then_modifying_then_the_new_class(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    answer = client.modify_db_instance(
        DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True
    )
    modify = last(sim, "modify", READER_2)

    assert answer["DBInstance"]["DBInstanceStatus"] == "available"
    assert answer["DBInstance"]["PendingModifiedValues"] == {"DBInstanceClass": "db.r7g.xlarge"}
    advance_to(clock, modify.visible_at, -1)
    lagging = instance(client, READER_2)
    assert (lagging["DBInstanceStatus"], lagging["DBInstanceClass"]) == ("available", "db.r6g.large")
    assert lagging["PendingModifiedValues"] == {"DBInstanceClass": "db.r7g.xlarge"}

    advance_to(clock, modify.visible_at, 1)
    moving = instance(client, READER_2)
    assert (moving["DBInstanceStatus"], moving["DBInstanceClass"]) == ("modifying", "db.r6g.large")

    advance_to(clock, modify.ends_at, -1)
    assert instance(client, READER_2)["DBInstanceStatus"] == "modifying"
    advance_to(clock, modify.ends_at, 1)
    done = instance(client, READER_2)
    assert (done["DBInstanceStatus"], done["DBInstanceClass"], done["PendingModifiedValues"]) == (
        "available",
        "db.r7g.xlarge",
        {},
    )
    assert writer_of(client) == WRITER  # a reader's class change moves no writer


def test_a_second_modify_during_the_lag_is_refused_busy(client: RDSClient, sim: SimulatedAurora) -> None:
    client.modify_db_instance(DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True)

    assert instance(client, READER_2)["DBInstanceStatus"] == "available"
    with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
        client.modify_db_instance(DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True)
    assert len(sim.applied_calls("ModifyDBInstance")) == 1
    assert [c.error_code for c in sim.calls if c.operation == "ModifyDBInstance"] == [None, "InvalidDBInstanceState"]


def test_modifying_the_writer_makes_aurora_fail_over_to_the_best_reader(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    client.modify_db_instance(DBInstanceIdentifier=READER_3, PromotionTier=0, ApplyImmediately=True)
    client.modify_db_instance(DBInstanceIdentifier=WRITER, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True)
    modify = last(sim, "modify", WRITER)

    advance_to(clock, modify.visible_at, -1)
    assert (cluster(client)["Status"], writer_of(client)) == ("available", WRITER)
    advance_to(clock, modify.visible_at, 1)
    failover = last(sim, "failover", CLUSTER)
    assert failover.detail == {"from_writer": WRITER, "to_writer": READER_3, "cause": "writer-modify"}
    assert failover.called_at == modify.visible_at
    assert cluster(client)["Status"] == "failing-over"

    advance_to(clock, failover.ends_at, 1)
    assert (cluster(client)["Status"], writer_of(client)) == ("available", READER_3)
    assert instance(client, WRITER)["DBInstanceStatus"] == "modifying"


def test_within_a_tier_aurora_promotes_the_largest_reader(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    create_reader(client, "prod-pg-temp", "db.r7g.2xlarge", PromotionTier=1)
    advance_to(clock, last(sim, "create", "prod-pg-temp").ends_at, 1)

    client.modify_db_instance(DBInstanceIdentifier=WRITER, DBInstanceClass="db.r7g.2xlarge", ApplyImmediately=True)
    clock.advance(3600)

    assert writer_of(client) == "prod-pg-temp"


def test_promotion_tier_alone_applies_at_once_without_a_status_change(client: RDSClient, sim: SimulatedAurora) -> None:
    client.modify_db_instance(DBInstanceIdentifier=READER_2, PromotionTier=0, ApplyImmediately=True)

    data = instance(client, READER_2)
    assert (data["PromotionTier"], data["DBInstanceStatus"], data["PendingModifiedValues"]) == (0, "available", {})
    member = next(m for m in cluster(client)["DBClusterMembers"] if m["DBInstanceIdentifier"] == READER_2)
    assert member["PromotionTier"] == 0
    assert sim.transitions == []


def test_a_class_change_without_apply_immediately_waits_for_a_maintenance_window(
    client: RDSClient, clock: VirtualClock
) -> None:
    client.modify_db_instance(DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=False)
    clock.advance(86_400)

    data = instance(client, READER_2)
    assert (data["DBInstanceStatus"], data["DBInstanceClass"]) == ("available", "db.r6g.large")
    assert data["PendingModifiedValues"] == {"DBInstanceClass": "db.r7g.xlarge"}


def test_a_class_that_is_not_orderable_is_refused_with_aws_wording(client: RDSClient) -> None:
    with pytest.raises(ClientError) as refused:
        client.modify_db_instance(DBInstanceIdentifier=READER_2, DBInstanceClass="db.r4.large", ApplyImmediately=True)

    assert code(refused.value) == "InvalidParameterCombination"
    assert refused.value.response["Error"]["Message"].startswith(
        "RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.r4.large, "
        "Engine=aurora-postgresql, EngineVersion=15.4, LicenseModel=postgresql-license"
    )


# -- FailoverDBCluster --------------------------------------------------------------------


def test_failover_keeps_the_old_writer_through_the_lag_then_flips_at_the_end(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    answer = client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=READER_2)
    failover = last(sim, "failover", CLUSTER)

    assert answer["DBCluster"]["Status"] == "available"
    assert (cluster(client)["Status"], writer_of(client)) == ("available", WRITER)
    with pytest.raises(client.exceptions.InvalidDBClusterStateFault):  # already under way, even in its lag
        client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=READER_3)

    advance_to(clock, failover.visible_at, 1)
    assert (cluster(client)["Status"], writer_of(client)) == ("failing-over", WRITER)
    with pytest.raises(client.exceptions.InvalidDBClusterStateFault):  # no new member while failing over
        create_reader(client, "prod-pg-temp")

    advance_to(clock, failover.ends_at, 1)
    assert (cluster(client)["Status"], writer_of(client)) == ("available", READER_2)
    assert len(sim.applied_calls("FailoverDBCluster")) == 1


def test_failover_to_the_current_writer_is_accepted_and_does_nothing(client: RDSClient, sim: SimulatedAurora) -> None:
    client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=WRITER)

    assert sim.transitions == []
    assert (cluster(client)["Status"], writer_of(client)) == ("available", WRITER)


def test_failover_refuses_missing_or_busy_targets(client: RDSClient, sim: SimulatedAurora) -> None:
    with pytest.raises(client.exceptions.DBClusterNotFoundFault):
        client.failover_db_cluster(DBClusterIdentifier="nope", TargetDBInstanceIdentifier=READER_2)
    with pytest.raises(client.exceptions.DBInstanceNotFoundFault):
        client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier="nope")
    client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
        client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=READER_2)


# -- CreateDBInstance / DeleteDBInstance / RebootDBInstance -------------------------------


def test_create_shows_creating_until_done_with_its_tags_and_tier(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    create_reader(
        client,
        "prod-pg-temp",
        "db.r7g.xlarge",
        PromotionTier=0,
        AvailabilityZone="us-east-1b",
        Tags=[{"Key": "rds-maint:operation-id", "Value": "op-1"}],
    )
    create = last(sim, "create", "prod-pg-temp")

    data = instance(client, "prod-pg-temp")
    assert (data["DBInstanceStatus"], data["PromotionTier"], data["AvailabilityZone"]) == (
        "creating",
        0,
        "us-east-1b",
    )
    assert data["TagList"] == [{"Key": "rds-maint:operation-id", "Value": "op-1"}]
    assert "prod-pg-temp" in [m["DBInstanceIdentifier"] for m in cluster(client)["DBClusterMembers"]]
    advance_to(clock, create.ends_at, -1)
    assert instance(client, "prod-pg-temp")["DBInstanceStatus"] == "creating"
    advance_to(clock, create.ends_at, 1)
    assert instance(client, "prod-pg-temp")["DBInstanceStatus"] == "available"


def test_create_of_an_existing_id_is_refused(client: RDSClient) -> None:
    with pytest.raises(client.exceptions.DBInstanceAlreadyExistsFault):
        create_reader(client, READER_2)


def test_create_of_a_class_not_orderable_for_the_version_is_refused(client: RDSClient) -> None:
    with pytest.raises(ClientError) as refused:
        create_reader(client, "prod-pg-temp", "db.r4.large")

    assert code(refused.value) == "InvalidParameterCombination"
    assert "DBInstanceClass=db.r4.large, Engine=aurora-postgresql, EngineVersion=15.4" in str(refused.value)


@pytest.mark.parametrize(
    "bad_id", ["1-starts-with-a-digit", "double--hyphen", "trailing-hyphen-", "x" * 64, "under_score"]
)
def test_create_with_an_invalid_identifier_is_refused(client: RDSClient, bad_id: str) -> None:
    with pytest.raises(ClientError) as refused:
        create_reader(client, bad_id)

    assert code(refused.value) == "InvalidParameterValue"


def test_delete_keeps_the_instance_deleting_and_listed_then_it_is_gone(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    answer = client.delete_db_instance(DBInstanceIdentifier=READER_3, SkipFinalSnapshot=True)
    delete = last(sim, "delete", READER_3)

    assert answer["DBInstance"]["DBInstanceStatus"] == "deleting"
    advance_to(clock, delete.ends_at, -1)
    assert instance(client, READER_3)["DBInstanceStatus"] == "deleting"
    assert READER_3 in [m["DBInstanceIdentifier"] for m in cluster(client)["DBClusterMembers"]]
    assert sim.instance_exists(READER_3)
    with pytest.raises(client.exceptions.DBInstanceAlreadyExistsFault):
        create_reader(client, READER_3)
    with pytest.raises(client.exceptions.InvalidDBInstanceStateFault, match="already being deleted"):
        client.delete_db_instance(DBInstanceIdentifier=READER_3, SkipFinalSnapshot=True)

    advance_to(clock, delete.ends_at, 1)
    with pytest.raises(client.exceptions.DBInstanceNotFoundFault):
        instance(client, READER_3)
    assert READER_3 not in [m["DBInstanceIdentifier"] for m in cluster(client)["DBClusterMembers"]]
    assert not sim.instance_exists(READER_3)


def test_deleting_the_writer_fails_over_to_the_best_reader_first(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    client.delete_db_instance(DBInstanceIdentifier=WRITER, SkipFinalSnapshot=True)
    failover = last(sim, "failover", CLUSTER)

    assert failover.detail["cause"] == "writer-delete" and failover.detail["to_writer"] == READER_2
    advance_to(clock, failover.ends_at, 1)
    assert writer_of(client) == READER_2
    assert instance(client, WRITER)["DBInstanceStatus"] == "deleting"
    clock.advance(3600)
    assert [m["DBInstanceIdentifier"] for m in cluster(client)["DBClusterMembers"]] == [READER_2, READER_3]


def test_reboot_lags_then_reboots_and_applies_pending_parameters(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    sim.set_parameter_apply_status(READER_2, "pending-reboot")
    assert instance(client, READER_2)["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"

    client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    reboot = last(sim, "reboot", READER_2)
    assert instance(client, READER_2)["DBInstanceStatus"] == "available"
    with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
        client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    advance_to(clock, reboot.visible_at, 1)
    assert instance(client, READER_2)["DBInstanceStatus"] == "rebooting"
    assert instance(client, READER_2)["DBParameterGroups"][0]["ParameterApplyStatus"] == "pending-reboot"

    advance_to(clock, reboot.ends_at, 1)
    data = instance(client, READER_2)
    assert (data["DBInstanceStatus"], data["DBParameterGroups"][0]["ParameterApplyStatus"]) == ("available", "in-sync")
    member = next(m for m in cluster(client)["DBClusterMembers"] if m["DBInstanceIdentifier"] == READER_2)
    assert member["DBClusterParameterGroupStatus"] == "in-sync"


# -- faults -------------------------------------------------------------------------------


def test_throttle_answers_rate_exceeded_n_times_then_the_call_succeeds(client: RDSClient, sim: SimulatedAurora) -> None:
    sim.faults.throttle("DescribeDBClusters", times=2)

    for _ in range(2):
        with pytest.raises(ClientError) as throttled:
            cluster(client)
        assert code(throttled.value) == "Throttling"
        assert throttled.value.response["Error"]["Message"] == "Rate exceeded"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert cluster(client)["Status"] == "available"
    assert [c.error_code for c in sim.calls] == ["Throttling", "Throttling", None]


def test_a_wildcard_throttle_is_consumed_by_any_operation(client: RDSClient, sim: SimulatedAurora) -> None:
    sim.faults.throttle(times=2)

    with pytest.raises(ClientError):
        cluster(client)
    with pytest.raises(ClientError):
        instance(client, WRITER)
    assert instance(client, WRITER)["DBInstanceStatus"] == "available"


def test_the_gateway_rides_out_throttling_on_virtual_time(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.faults.throttle(times=3)
    started = clock.now()
    real_sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", real_sleeps.append)  # any real backoff would land here

    assert RdsGateway(client, sleep=clock.sleep).find_instance(READER_2) is not None
    assert clock.now() > started
    assert sum(real_sleeps) == 0
    sim.faults.throttle(times=None)
    with pytest.raises(TransientAwsError):
        RdsGateway(client, sleep=clock.sleep, attempts=2).find_instance(READER_2)


def test_fail_without_a_count_lasts_until_cleared(client: RDSClient, sim: SimulatedAurora) -> None:
    sim.faults.fail("RebootDBInstance", "InvalidDBInstanceState", "no", times=None)

    for _ in range(3):
        with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
            client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    assert sim.transitions == []
    sim.faults.clear("RebootDBInstance")
    client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    assert [t.kind for t in sim.transitions] == ["reboot"]


def test_a_lost_response_applies_the_call_and_raises_internal_failure(client: RDSClient, sim: SimulatedAurora) -> None:
    sim.faults.lose_response("CreateDBInstance")

    with pytest.raises(ClientError) as lost:
        create_reader(client, "prod-pg-temp")
    assert code(lost.value) == "InternalFailure"
    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert instance(client, "prod-pg-temp")["DBInstanceStatus"] == "creating"
    with pytest.raises(client.exceptions.DBInstanceAlreadyExistsFault):  # a blind retry learns it the hard way
        create_reader(client, "prod-pg-temp")
    assert len(sim.applied_calls("CreateDBInstance")) == 1
    assert sim.successful_calls("CreateDBInstance") == []


def test_a_crash_after_the_call_leaves_the_effect_applied(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    sim.faults.crash_after("FailoverDBCluster")

    with pytest.raises(SimulatedCrash):
        try:
            client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=READER_2)
        except Exception:  # what careless code would write: it must not swallow a crash
            pytest.fail("SimulatedCrash was caught by `except Exception`")
    assert last(sim, "failover", CLUSTER).detail["to_writer"] == READER_2
    crashed = sim.calls[-1]
    assert (crashed.error_code, crashed.applied, crashed.crashed) == (None, True, True)
    assert sim.successful_calls("FailoverDBCluster") == [crashed]  # AWS did answer; nobody read it
    clock.advance(3600)
    assert writer_of(client) == READER_2
    client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=WRITER)  # armed once only


def test_a_stuck_instance_shows_its_status_and_refuses_every_change(client: RDSClient, sim: SimulatedAurora) -> None:
    sim.faults.stuck(READER_2, status="modifying")

    assert instance(client, READER_2)["DBInstanceStatus"] == "modifying"
    assert sim.cluster_view(CLUSTER).members[READER_2].status == "modifying"
    refusals: list[Callable[[], object]] = [
        lambda: client.modify_db_instance(
            DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True
        ),
        lambda: client.modify_db_instance(DBInstanceIdentifier=READER_2, PromotionTier=0),
        lambda: client.reboot_db_instance(DBInstanceIdentifier=READER_2),
        lambda: client.delete_db_instance(DBInstanceIdentifier=READER_2, SkipFinalSnapshot=True),
        lambda: client.failover_db_cluster(DBClusterIdentifier=CLUSTER, TargetDBInstanceIdentifier=READER_2),
    ]
    for attempt in refusals:
        with pytest.raises(client.exceptions.InvalidDBInstanceStateFault):
            attempt()
    sim.faults.unstick(READER_2)
    assert instance(client, READER_2)["DBInstanceStatus"] == "available"
    client.reboot_db_instance(DBInstanceIdentifier=READER_2)


# -- time, calls and reference data ---------------------------------------------------------


def test_time_scale_shortens_every_duration(clock: VirtualClock) -> None:
    with mock_aws(), SimulatedAurora(clock=clock, region=REGION, time_scale=0.1) as sim:
        sim.seed_cluster(CLUSTER)
        client = sim.clients(make_rds_client)(REGION)
        client.modify_db_instance(DBInstanceIdentifier=READER_2, DBInstanceClass="db.r7g.xlarge", ApplyImmediately=True)
        modify = last(sim, "modify", READER_2)

        assert timedelta(seconds=2.7) <= modify.visible_at - modify.called_at <= timedelta(seconds=3.3)
        assert timedelta(seconds=54) <= modify.ends_at - modify.visible_at <= timedelta(seconds=66)
        clock.advance(70)
        assert instance(client, READER_2)["DBInstanceClass"] == "db.r7g.xlarge"


def test_jitter_is_bounded_and_repeatable_for_a_seed() -> None:
    def reboot_spans(readers: tuple[str, ...], seed: int) -> dict[str, timedelta]:
        with mock_aws(), SimulatedAurora(clock=VirtualClock(), region=REGION, seed=seed) as sim:
            sim.seed_cluster(CLUSTER)
            client = sim.clients(make_rds_client)(REGION)
            for reader in readers:
                client.reboot_db_instance(DBInstanceIdentifier=reader)
            return {t.resource_id: t.ends_at - t.visible_at for t in sim.transitions}

    both = reboot_spans((READER_2, READER_3), seed=7)
    assert both == reboot_spans((READER_2, READER_3), seed=7)
    # an instance's timeline does not depend on what else happened in the account
    assert reboot_spans((READER_3,), seed=7)[READER_3] == both[READER_3]
    assert both[READER_2] != both[READER_3]
    assert reboot_spans((READER_2,), seed=8)[READER_2] != both[READER_2]
    assert all(timedelta(seconds=54) <= span <= timedelta(seconds=66) for span in both.values())
    with mock_aws(), SimulatedAurora(region=REGION, durations=Durations(reboot=10, jitter=0)) as exact:
        exact.seed_cluster(CLUSTER)
        exact.clients(make_rds_client)(REGION).reboot_db_instance(DBInstanceIdentifier=READER_2)
        reboot = exact.transitions[0]
        assert (reboot.visible_at - reboot.called_at, reboot.ends_at - reboot.visible_at) == (
            timedelta(seconds=3),
            timedelta(seconds=10),
        )


def test_failover_without_a_target_promotes_the_best_reader(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    client.modify_db_instance(DBInstanceIdentifier=READER_3, PromotionTier=0, ApplyImmediately=True)
    client.failover_db_cluster(DBClusterIdentifier=CLUSTER)
    clock.advance(600)

    assert writer_of(client) == READER_3


def test_every_call_is_recorded_at_its_virtual_time_with_its_params(
    client: RDSClient, sim: SimulatedAurora, clock: VirtualClock
) -> None:
    clock.advance(42)
    client.reboot_db_instance(DBInstanceIdentifier=READER_2)
    with pytest.raises(ClientError):
        client.reboot_db_instance(DBInstanceIdentifier=READER_2)

    first, second = sim.calls
    assert (first.operation, first.params, first.error_code, first.applied) == (
        "RebootDBInstance",
        {"DBInstanceIdentifier": READER_2},
        None,
        True,
    )
    assert first.at == VirtualClock().now() + timedelta(seconds=42)
    assert (second.error_code, second.applied) == ("InvalidDBInstanceState", False)
    assert sim.successful_calls("RebootDBInstance") == [first]


def test_operations_not_simulated_are_passed_to_moto_with_their_errors(client: RDSClient, sim: SimulatedAurora) -> None:
    groups = client.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    assert "default.aurora-postgresql15" in [g["DBClusterParameterGroupName"] for g in groups]
    with pytest.raises(client.exceptions.DBClusterSnapshotNotFoundFault):
        client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="nope")
    assert [c.operation for c in sim.calls] == ["DescribeDBClusterParameterGroups", "DescribeDBClusterSnapshots"]


def test_a_client_of_another_region_is_not_silently_simulated(sim: SimulatedAurora) -> None:
    with pytest.raises(ValueError, match="us-east-1"):
        sim.clients(make_rds_client)("eu-west-1")


def test_catalogue_versions_upgrade_targets_and_orderable_classes() -> None:
    catalogue = Catalogue()

    assert catalogue.versions("aurora-postgresql")[0] == "13.12"
    assert catalogue.family("aurora-postgresql", "15.4") == "aurora-postgresql15"
    assert catalogue.family("aurora-mysql", "8.0.mysql_aurora.3.05.2") == "aurora-mysql8.0"
    targets = {
        t.engine_version: t.is_major_version_upgrade for t in catalogue.upgrade_targets("aurora-postgresql", "14.9")
    }
    assert targets == {"14.12": False, "15.4": True, "15.7": True, "16.1": True, "16.4": True, "17.4": True}
    assert catalogue.upgrade_targets("aurora-postgresql", "17.4") == []
    mysql = catalogue.upgrade_targets("aurora-mysql", "8.0.mysql_aurora.3.04.0")
    assert [(t.engine_version, t.is_major_version_upgrade) for t in mysql] == [
        ("8.0.mysql_aurora.3.05.2", False),
        ("8.0.mysql_aurora.3.07.1", False),
        ("8.4.7", True),
    ]
    assert catalogue.family("aurora-mysql", "8.4.7") == "aurora-mysql8.4"
    assert "db.r4.large" in catalogue.orderable("aurora-postgresql", "13.12")
    assert "db.r4.large" not in catalogue.orderable("aurora-postgresql", "14.9")
    assert "db.t3.medium" in catalogue.orderable("aurora-postgresql", "16.4")
    assert "db.t3.medium" not in catalogue.orderable("aurora-postgresql", "17.4")
    assert {"db.serverless", "db.t4g.medium", "db.x2g.16xlarge", "db.r7g.large"} <= catalogue.orderable(
        "aurora-mysql", "8.0.mysql_aurora.3.07.1"
    )
    assert catalogue.orderable("aurora-postgresql", "12.7") == set()


def test_engine_versions_and_orderable_options_are_answered_from_the_catalogue(client: RDSClient) -> None:
    versions = client.describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion="15.4")["DBEngineVersions"]
    assert [(v["EngineVersion"], v["DBParameterGroupFamily"]) for v in versions] == [("15.4", "aurora-postgresql15")]
    upgrade = {t["EngineVersion"]: t["IsMajorVersionUpgrade"] for t in versions[0]["ValidUpgradeTarget"]}
    assert upgrade["15.7"] is False and upgrade["16.1"] is True

    def options(**filters: Any) -> list[str]:
        found = client.describe_orderable_db_instance_options(Engine="aurora-postgresql", **filters)
        return [o["DBInstanceClass"] for o in found["OrderableDBInstanceOptions"]]

    assert options(EngineVersion="15.4", DBInstanceClass="db.r7g.xlarge") == ["db.r7g.xlarge"]
    assert options(EngineVersion="15.4", DBInstanceClass="db.r4.large") == []
    assert RdsGateway(client).is_orderable("aurora-postgresql", "17.4", "db.t3.medium") is False
    paginator = client.get_paginator("describe_orderable_db_instance_options")
    every = [o for page in paginator.paginate(Engine="aurora-postgresql") for o in page["OrderableDBInstanceOptions"]]
    assert len(every) == sum(
        len(Catalogue().orderable("aurora-postgresql", v)) for v in Catalogue().versions("aurora-postgresql")
    )


# -- attaching without rds-maint ---------------------------------------------------------------


def test_a_plain_boto3_client_attached_by_hand_sees_the_simulated_statuses() -> None:
    """The simulator serves any boto3 RDS client at the botocore level: `attach`, no rds-maint hooks."""
    import boto3

    clock = VirtualClock()
    with mock_aws():
        simulated = SimulatedAurora(clock=clock, region=REGION)
        simulated.seed_cluster(CLUSTER, readers=1)
        plain = boto3.client("rds", region_name=REGION)
        simulated.attach(plain)
        plain.reboot_db_instance(DBInstanceIdentifier=WRITER)
        described = plain.describe_db_instances(DBInstanceIdentifier=WRITER)["DBInstances"][0]
        assert described["DBInstanceStatus"] == "available"  # AWS shows the reboot only after a lag
        advance_to(clock, last(simulated, "reboot", WRITER).visible_at, 1)
        described = plain.describe_db_instances(DBInstanceIdentifier=WRITER)["DBInstances"][0]
        assert described["DBInstanceStatus"] == "rebooting"
        assert [c.operation for c in simulated.calls] == ["RebootDBInstance", *["DescribeDBInstances"] * 2]


def test_leaving_the_simulator_detaches_every_client_it_attached() -> None:
    """Out of the `with` block a client goes to moto alone: no simulated lag, no call recorded."""
    with mock_aws():
        with SimulatedAurora(region=REGION) as simulated:
            simulated.seed_cluster(CLUSTER, readers=1)
            client = simulated.clients(make_rds_client)(REGION)
            client.reboot_db_instance(DBInstanceIdentifier=READER_2)
        assert [c.operation for c in simulated.calls] == ["RebootDBInstance"]
        client.describe_db_instances(DBInstanceIdentifier=READER_2)
        assert [c.operation for c in simulated.calls] == ["RebootDBInstance"]
