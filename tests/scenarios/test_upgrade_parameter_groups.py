"""engine_upgrade and parameter groups as AWS treats them: the 5 minutes a new group needs before use, and
the Event Scheduler that must be off on an Aurora MySQL green environment. Final AWS state asserted."""

from __future__ import annotations

from typing import Any

from rds_maint.aurora_storage import supports_io_optimized
from rds_maint.model import Outcome
from rds_maint.names import parameter_group_copy_name
from rds_maint.progress import drive
from rds_sim import SimulatedCrash
from tests.helpers.upgrade import (
    MEMBERS,
    TARGET,
    applied,
    assert_refused,
    assert_upgraded,
    create,
    run,
    seed,
    user_values,
)
from tests.helpers.world import CLUSTER, REGION, World

MYSQL_SOURCE = "8.0.mysql_aurora.3.07.1"
MYSQL_84 = "8.4.7"
SETTLE_SECONDS = 300


def call_times(world: World, operation: str) -> list[Any]:
    return [c.at for c in world.sim.applied_calls(operation)]


def last_group_change(world: World) -> Any:
    operations = (
        "CreateDBClusterParameterGroup",
        "CreateDBParameterGroup",
        "ModifyDBClusterParameterGroup",
        "ModifyDBParameterGroup",
    )
    return max(t for op in operations for t in call_times(world, op))


# -- the 5 minutes after a new parameter group --------------------------------------------------


def test_the_wait_for_new_groups_is_planned_and_blue_green_comes_5_min_after(world: World) -> None:
    seed(world)
    plan = world.cli(["plan", "--store", world.store_url, "--type", "engine_upgrade", "--cluster", CLUSTER,
               "--region", REGION, "--param", f"target_engine_version={TARGET}"],
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    text = " ".join(plan.output.split())
    assert "settle_parameter_groups: Wait 5 min for the new parameter groups to settle" in text
    assert "(AWS asks for it)" in text

    op = create(world)
    steps = [s.name for s in op.steps]
    assert steps.index("prepare_parameter_groups") < steps.index("settle_parameter_groups")
    assert steps.index("settle_parameter_groups") == steps.index("create_blue_green") - 1
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    [create_at] = call_times(world, "CreateBlueGreenDeployment")
    assert (create_at - last_group_change(world)).total_seconds() >= SETTLE_SECONDS
    # the green used the copies, with their values: nothing was ignored for being too new
    assert_upgraded(world, MEMBERS, proxy=False)
    described = world.gateway().describe_cluster(CLUSTER)
    assert described.parameter_group == parameter_group_copy_name(CLUSTER, TARGET, "cluster")
    waiting = [e for e in world.store.events(op.id) if e.type == "step_waiting" and "parameter group" in e.message]
    assert len(waiting) == 1 and "AWS asks for it" in waiting[0].message


def test_the_wait_counts_from_the_groups_creation_across_a_crash(world: World) -> None:
    seed(world)
    world.sim.faults.crash_after("CreateDBParameterGroup")
    op = create(world, pause_before_switchover=False, pause_before_cleanup=False)
    engine = world.engine
    engine.start(op.id)
    while True:
        try:
            result = drive(engine, op.id, world.clock.sleep)
            break
        except SimulatedCrash:
            world.clock.advance(90)  # the process restarts a minute and a half later
            engine = world.new_engine()

    assert result.outcome is Outcome.COMPLETED
    assert any(c.crashed for c in world.sim.calls)
    assert len(applied(world, "CreateDBParameterGroup")) == 1
    [created_at] = call_times(world, "CreateDBParameterGroup")
    [create_at] = call_times(world, "CreateBlueGreenDeployment")
    assert (create_at - last_group_change(world)).total_seconds() >= SETTLE_SECONDS
    # measured from the group's own record, not from the restart: no second 5 minutes
    prepared = next(s for s in world.store.load(op.id).steps if s.name == "prepare_parameter_groups")
    name = parameter_group_copy_name(CLUSTER, TARGET, "instance")
    # the retried step set the group's values 90 s after creating it: the time went on the group first, with
    # the owner tag the IAM policy requires on every AddTagsToResource, and the wait counts from it
    [modified_at] = call_times(world, "ModifyDBParameterGroup")
    assert (modified_at - created_at).total_seconds() == 90
    assert prepared.result["changed_at"][name] == modified_at.isoformat()
    [tagged] = [c for c in applied(world, "AddTagsToResource") if ":pg:" in c["ResourceName"]]
    tags = {t["Key"]: t["Value"] for t in tagged["Tags"]}
    assert tags == {"rds-maint:operation-id": op.id, "rds-maint:changed-at": modified_at.isoformat()}
    assert (create_at - modified_at).total_seconds() < SETTLE_SECONDS + 120  # not counted again from a restart


def test_no_wait_when_no_group_is_created(world: World) -> None:
    seed(world)
    op = create(world, target_engine_version="15.7", pause_before_switchover=False, pause_before_cleanup=False)
    assert "settle_parameter_groups" not in [s.name for s in op.steps]
    result, _ = run(world, op.id)
    assert result.outcome is Outcome.COMPLETED
    assert applied(world, "CreateDBClusterParameterGroup") == applied(world, "CreateDBParameterGroup") == []


def test_the_simulator_ignores_a_group_used_before_its_5_minutes(world: World) -> None:
    seed(world)
    gateway = world.gateway()
    gateway.create_parameter_group("cluster", "fresh-16", "aurora-postgresql16", "just made", {})
    gateway.modify_parameter_group(
        "cluster",
        "fresh-16",
        [{"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"}],
    )
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    world.clock.advance(SETTLE_SECONDS - 10)  # 4 min 50 s after the last change
    created = gateway.create_blue_green_deployment(
        name="too-early",
        source_arn=arn,
        target_engine_version=TARGET,
        cluster_parameter_group="fresh-16",
        instance_parameter_group=None,
        tags={},
    )
    green = gateway.describe_cluster(str(created["Target"]).rsplit(":", 1)[-1])
    assert green.parameter_group == "default.aurora-postgresql16"  # used too early: silently ignored


def test_a_group_past_its_5_minutes_is_used(world: World) -> None:
    seed(world)
    gateway = world.gateway()
    gateway.create_parameter_group("cluster", "settled-16", "aurora-postgresql16", "made earlier", {})
    world.clock.advance(SETTLE_SECONDS)
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    created = gateway.create_blue_green_deployment(
        name="in-time",
        source_arn=arn,
        target_engine_version=TARGET,
        cluster_parameter_group="settled-16",
        instance_parameter_group=None,
        tags={},
    )
    assert gateway.describe_cluster(str(created["Target"]).rsplit(":", 1)[-1]).parameter_group == "settled-16"


# -- Aurora MySQL: event_scheduler off on green ---------------------------------------------------


def seed_mysql(world: World, version: str = MYSQL_SOURCE, *, event_scheduler: str = "ON") -> str:
    world.sim.seed_cluster(CLUSTER, engine="aurora-mysql", engine_version=version, readers=1)
    group, _ = world.sim.parameter_groups.use_custom_groups(
        CLUSTER, cluster_parameters={"binlog_format": "ROW", "event_scheduler": event_scheduler, "time_zone": "UTC"}
    )
    return group


def test_aurora_mysql_major_upgrade_copies_the_group_with_event_scheduler_off(world: World) -> None:
    blue_group = seed_mysql(world)
    op = create(world, target_engine_version=MYSQL_84, pause_before_switchover=False, pause_before_cleanup=False)
    assert any("Event Scheduler must be off" in n and "ON again" in n for n in op.context["notes"])
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    copy = parameter_group_copy_name(CLUSTER, MYSQL_84, "cluster")
    described = world.gateway().describe_cluster(CLUSTER)
    assert described.engine_version == MYSQL_84 and described.parameter_group == copy
    values = user_values(world, "cluster", copy)
    assert values["event_scheduler"] == "OFF" and values["binlog_format"] == "ROW" and values["time_zone"] == "UTC"
    assert user_values(world, "cluster", blue_group)["event_scheduler"] == "ON"  # the person's group untouched
    said = [e for e in world.store.events(op.id) if e.type == "event_scheduler_off"]
    assert len(said) == 1 and "Set event_scheduler=OFF" in said[0].message and blue_group in said[0].message


def test_aurora_mysql_minor_upgrade_with_event_scheduler_on_gets_a_copy(world: World) -> None:
    blue_group = seed_mysql(world, "8.0.mysql_aurora.3.05.2")
    target = "8.0.mysql_aurora.3.07.1"
    op = create(world, target_engine_version=target, pause_before_switchover=False, pause_before_cleanup=False)
    groups = op.context["parameter_groups"]
    assert groups["cluster"]["mode"] == "copy" and groups["cluster"]["source"] == blue_group
    assert groups["instance"]["mode"] != "copy"
    result, _ = run(world, op.id)

    assert result.outcome is Outcome.COMPLETED
    copy = parameter_group_copy_name(CLUSTER, target, "cluster")
    assert world.gateway().describe_cluster(CLUSTER).parameter_group == copy
    assert user_values(world, "cluster", copy)["event_scheduler"] == "OFF"


def test_aurora_mysql_with_event_scheduler_off_keeps_its_group_on_a_minor_upgrade(world: World) -> None:
    blue_group = seed_mysql(world, "8.0.mysql_aurora.3.05.2", event_scheduler="OFF")
    op = create(world, target_engine_version="8.0.mysql_aurora.3.07.1")
    assert op.context["parameter_groups"]["cluster"] == {
        "mode": "keep",
        "source": blue_group,
        "target": blue_group,
        "family": "aurora-mysql8.0",
    }
    assert "settle_parameter_groups" not in [s.name for s in op.steps]


def test_a_named_group_with_event_scheduler_on_is_refused(world: World) -> None:
    seed_mysql(world, event_scheduler="OFF")
    gateway = world.gateway()
    gateway.create_parameter_group("cluster", "mine-84", "aurora-mysql8.4", "mine", {})
    gateway.modify_parameter_group(
        "cluster",
        "mine-84",
        [
            {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "pending-reboot"},
            {"ParameterName": "event_scheduler", "ParameterValue": "ON", "ApplyMethod": "immediate"},
        ],
    )
    assert_refused(
        world,
        {"target_engine_version": MYSQL_84, "db_cluster_parameter_group_name": "mine-84"},
        "db_cluster_parameter_group_name",
        "event_scheduler=ON",
        "Event Scheduler off",
    )


def test_the_simulator_breaks_a_deployment_whose_green_has_event_scheduler_on(world: World) -> None:
    seed_mysql(world, "8.0.mysql_aurora.3.05.2")
    gateway = world.gateway()
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    created = gateway.create_blue_green_deployment(
        name="scheduler-on",
        source_arn=arn,
        target_engine_version="8.0.mysql_aurora.3.07.1",
        cluster_parameter_group=None,  # a minor upgrade keeps blue's group, event_scheduler ON
        instance_parameter_group=None,
        tags={},
    )
    world.clock.advance(3 * 3600)
    found = gateway.find_blue_green_deployment(str(created["BlueGreenDeploymentIdentifier"]))
    assert found is not None and found["Status"] == "INVALID_CONFIGURATION"
    assert "event_scheduler" in str(found["StatusDetails"])


def test_io_optimized_minimums_include_aurora_mysql_8_4_7() -> None:
    assert supports_io_optimized("aurora-mysql", "8.4.7")
    assert not supports_io_optimized("aurora-mysql", "8.4.6")
    assert supports_io_optimized("aurora-mysql", "8.0.mysql_aurora.3.03.1")
    assert not supports_io_optimized("aurora-mysql", "8.0.mysql_aurora.3.02.2")
