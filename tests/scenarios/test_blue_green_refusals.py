"""engine_upgrade against Blue/Green refusals AWS really answers: a switchover or a deletion refused while
green is not ready, and the deletion protection green copies from blue. The final AWS state is asserted."""

from __future__ import annotations

from rds_maint.errors import PersonAwsError
from rds_maint.model import OperationState, Outcome
from rds_maint.progress import drive
from tests.helpers.upgrade import (
    MEMBERS,
    SOURCE,
    TARGET,
    applied,
    assert_only_the_original_cluster,
    assert_upgraded,
    create,
    run,
    seed,
)
from tests.helpers.world import CLUSTER, World

NOT_READY = "InvalidBlueGreenDeploymentStateFault"


def refused(world: World, operation: str) -> list[str]:
    return [str(c.error_code) for c in world.sim.calls if c.operation == operation and c.error_code]


def green_of(world: World) -> str:
    [deployment] = world.sim.blue_green.deployments()
    return str(deployment["Target"]).rsplit(":", 1)[-1]


def test_a_refused_switchover_goes_through_on_a_later_look(world: World) -> None:
    seed(world)
    op = create(world, pause_before_cleanup=False)
    world.engine.start(op.id)
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.step_name == "switchover"  # the planned pause; the deployment reads AVAILABLE
    world.sim.blue_green.delay_green_ready(6 * 60)  # but green's members are not ready for 6 more minutes

    world.engine.resume(op.id, "continue")
    result = drive(world.engine, op.id, world.clock.sleep)

    assert result.outcome is Outcome.COMPLETED
    assert len(refused(world, "SwitchoverBlueGreenDeployment")) >= 2
    assert set(refused(world, "SwitchoverBlueGreenDeployment")) == {NOT_READY}
    assert len(applied(world, "SwitchoverBlueGreenDeployment")) == 1
    assert_upgraded(world, MEMBERS, proxy=False)
    events = world.store.events(op.id)
    assert [e.type for e in events].count("operation_paused") == 1  # only the planned one
    assert any(e.type == "step_busy" and "refused SwitchoverBlueGreenDeployment" in e.message for e in events)
    assert "switchover_adopted" not in [e.type for e in events]  # a refusal is not "already under way"


def test_a_switchover_refused_past_the_bound_pauses_with_aws_message(world: World) -> None:
    seed(world)
    op = create(world, pause_before_switchover=False, pause_before_cleanup=False)
    world.engine.start(op.id)
    while world.store.load(op.id).current_step.name != "switchover":  # type: ignore[union-attr]
        result = world.engine.advance(op.id)
        world.clock.sleep(result.wait_seconds)
    world.sim.blue_green.delay_green_ready(3600)
    result = drive(world.engine, op.id, world.clock.sleep)

    assert result.outcome is Outcome.INTERVENTION and result.step_name == "switchover"
    reason = str(result.pause_reason)
    assert "keeps refusing SwitchoverBlueGreenDeployment" in reason and "not in available state" in reason
    assert NOT_READY in reason and "Nothing was started" in reason
    assert applied(world, "SwitchoverBlueGreenDeployment") == []
    assert world.sim.cluster_view(CLUSTER).engine_version == SOURCE  # still serving as before

    world.clock.advance(3600)  # green is ready now
    world.engine.resume(op.id, "continue")
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.outcome is Outcome.COMPLETED
    assert_upgraded(world, MEMBERS, proxy=False)


def test_a_delete_refused_while_green_is_built_goes_through_later(world: World) -> None:
    seed(world)
    op = world.engine.create(
        {
            "type": "engine_upgrade",
            "cluster_id": CLUSTER,
            "region": "us-east-1",
            "params": {"target_engine_version": TARGET},
            "pause_before_steps": ["wait_green"],
        }
    )
    world.engine.start(op.id)
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.step_name == "wait_green"
    green = green_of(world)
    assert world.sim.blue_green.deployments()[0]["Status"] == "PROVISIONING"

    world.engine.resume(op.id, "rollback")
    result = drive(world.engine, op.id, world.clock.sleep)

    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert refused(world, "DeleteBlueGreenDeployment") == [NOT_READY]  # asked once while PROVISIONING
    assert [c["DeleteTarget"] for c in applied(world, "DeleteBlueGreenDeployment")] == [True]
    assert world.sim.blue_green.deployments() == []
    assert not world.sim.blue_green.cluster_exists(green)
    assert_only_the_original_cluster(world)


def test_rollback_of_a_deletion_protected_green_removes_green_and_keeps_blue(world: World) -> None:
    seed(world)
    gateway = world.gateway()
    gateway.call("ModifyDBCluster", DBClusterIdentifier=CLUSTER, DeletionProtection=True, ApplyImmediately=True)
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    gateway.add_tags(arn, {"team": "orders"})
    op = create(world)
    result, _ = run(world, op.id, answer=None)
    assert result.step_name == "switchover"
    green = green_of(world)
    copied = gateway.describe_cluster(green)
    assert copied.raw["DeletionProtection"] is True and copied.tags["team"] == "orders"  # green copies blue

    world.engine.resume(op.id, "rollback")
    result, _ = run(world, op.id, answer=None)

    assert result.outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    modified = applied(world, "ModifyDBCluster")[1:]  # after the test's own, that protected blue
    assert [(c["DBClusterIdentifier"], c["DeletionProtection"]) for c in modified] == [(green, False)]
    assert not world.sim.blue_green.cluster_exists(green)
    assert world.sim.blue_green.deployments() == []
    assert_only_the_original_cluster(world)
    assert gateway.describe_cluster(CLUSTER).raw["DeletionProtection"] is True  # blue keeps its own
    assert "green_deletion_protection_off" in [e.type for e in world.store.events(op.id)]


def test_the_simulator_refuses_delete_target_on_a_protected_green(world: World) -> None:
    seed(world)
    gateway = world.gateway()
    gateway.call("ModifyDBCluster", DBClusterIdentifier=CLUSTER, DeletionProtection=True, ApplyImmediately=True)
    arn = str(gateway.describe_cluster(CLUSTER).raw["DBClusterArn"])
    created = gateway.create_blue_green_deployment(
        name="probe",
        source_arn=arn,
        target_engine_version=TARGET,
        cluster_parameter_group=None,
        instance_parameter_group=None,
        tags={},
    )
    identifier = str(created["BlueGreenDeploymentIdentifier"])
    world.clock.advance(3 * 3600)
    try:
        gateway.delete_blue_green_deployment(identifier, delete_target=True)
    except PersonAwsError as exc:
        assert exc.code == "InvalidParameterCombination" and "deletion protection" in exc.aws_message
    else:
        raise AssertionError("DeleteTarget on a protected green was accepted")
    assert world.sim.blue_green.deployments()[0]["Status"] == "AVAILABLE"  # nothing happened
