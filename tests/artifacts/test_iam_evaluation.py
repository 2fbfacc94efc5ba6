"""The shipped IAM policies, evaluated offline against every RDS request of complete operations.

Each scenario runs an operation end to end on the simulated Aurora (happy path, rollback,
abort) while `tests.helpers.iam_recorder.RequestRecorder` writes down the IAM checks AWS would make
for each request (the action on each resource, the request's tags, the target's tags at call
time, and what RDS checks on the caller's behalf). `tests.helpers.iam_evaluator` then evaluates the
shipped iam/lambda-policy.json (and iam/opt-in-policy.json) against each one. A denial fails
the test with the call, the ARN and the reason, so a new call the code makes shows up here.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from rds_maint.engine.cluster_mark import TAG_ACTIVE_OPERATION
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.names import final_snapshot_name, parameter_group_copy_name, temp_instance_id
from rds_maint.snapshots import TAG_OPERATION_ID
from tests.helpers.iam_evaluator import Decision, Policy, Request, evaluate
from tests.helpers.iam_recorder import ACCOUNT, Check, RequestRecorder
from tests.helpers.shipped_iam import lambda_policies, shipped_policy
from tests.helpers.world import CLUSTER, REGION, World, simulated_world

OP_TAG = TAG_OPERATION_ID
MARK = TAG_ACTIVE_OPERATION
OPT_IN = ("rds-maint:opt-in", "true")
WRITER = f"{CLUSTER}-instance-1"
READER_2 = f"{CLUSTER}-instance-2"
READER_3 = f"{CLUSTER}-instance-3"
MEMBERS = [WRITER, READER_2, READER_3]
NEW_CLASS = "db.r6g.xlarge"
SOURCE, TARGET = "15.4", "16.4"
PROXY = "orders-proxy"
PLANNED_PAUSE = "Paused before step"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


# -- scenarios: complete operations on the simulator ------------------------------------------------


def seed_cluster(world: World, *, opt_in: bool) -> list[str]:
    tags = dict([OPT_IN]) if opt_in else None
    ids = world.sim.seed_cluster(CLUSTER, engine_version=SOURCE, readers=2, tags=tags)
    if opt_in:
        client = boto3.client("rds", region_name=REGION)  # moto's own: the scenery, not the code
        for instance_id in ids:
            client.add_tags_to_resource(ResourceName=arn("db", instance_id), Tags=[{"Key": OPT_IN[0], "Value": "true"}])
    return ids


def drive(world: World, op_id: str, answers: Iterator[str] | None = None) -> Any:
    """Run to an end; answer planned pauses from `answers` (then stop at the next one)."""
    world.engine.start(op_id)
    while True:
        result = world.run(op_id)
        planned = result.outcome is Outcome.INTERVENTION and (result.pause_reason or "").startswith(PLANNED_PAUSE)
        answer = next(answers, None) if answers is not None and planned else None
        if answer is None:
            return result
        world.engine.resume(op_id, answer)


def request(kind: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": kind, "cluster_id": CLUSTER, "region": REGION, "params": params, **extra}


def classes(world: World) -> dict[str, str]:
    return {i: m.instance_class for i, m in world.sim.cluster_view(CLUSTER).members.items()}


def instance_type_change(world: World) -> None:
    op = world.engine.create(request("instance_type_change", {"target_instance_type": NEW_CLASS}))
    assert drive(world, op.id).outcome is Outcome.COMPLETED
    assert classes(world) == dict.fromkeys(MEMBERS, NEW_CLASS)
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def class_change_paused_midway(world: World) -> Operation:
    """An instance_type_change paused before its second reader: the writer and one reader changed."""
    op = world.engine.create(
        request(
            "instance_type_change", {"target_instance_type": NEW_CLASS}, pause_before_steps=[f"modify_class:{READER_2}"]
        )
    )
    assert drive(world, op.id).outcome is Outcome.INTERVENTION
    return op


def instance_type_change_abort(world: World) -> None:
    op = class_change_paused_midway(world)
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def instance_type_change_rollback(world: World) -> None:
    op = class_change_paused_midway(world)
    world.engine.resume(op.id, "rollback")
    world.run(op.id)
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def storage_type_change(world: World) -> None:
    op = world.engine.create(request("storage_type_change", {"target_storage_type": "aurora-iopt1"}))
    assert drive(world, op.id).outcome is Outcome.COMPLETED
    assert world.sim.cluster_view(CLUSTER).storage_type == "aurora-iopt1"


def storage_type_change_rollback(world: World) -> None:
    op = world.engine.create(
        request("storage_type_change", {"target_storage_type": "aurora-iopt1"}, pause_before_steps=["verify"])
    )
    assert drive(world, op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback")
    world.run(op.id)
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.cluster_view(CLUSTER).storage_type == "aurora"


def storage_type_change_abort(world: World) -> None:
    op = world.engine.create(
        request("storage_type_change", {"target_storage_type": "aurora-iopt1"}, pause_before_steps=["modify_storage"])
    )
    assert drive(world, op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    world.run(op.id)
    assert world.sim.cluster_view(CLUSTER).storage_type == "aurora"


def instance_cycle(world: World) -> None:
    op = world.engine.create(request("instance_cycle", {}))
    assert drive(world, op.id).outcome is Outcome.COMPLETED
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert {c.params["DBInstanceIdentifier"] for c in world.sim.applied_calls("RebootDBInstance")} == set(MEMBERS)


def instance_cycle_rollback(world: World) -> None:
    op = world.engine.create(request("instance_cycle", {}, pause_before_steps=[f"reboot:{READER_3}"]))
    assert drive(world, op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback")
    world.run(op.id)
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def instance_cycle_abort(world: World) -> None:
    op = world.engine.create(request("instance_cycle", {}, pause_before_steps=[f"reboot:{WRITER}"]))
    assert drive(world, op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    world.run(op.id)
    assert world.sim.cluster_view(CLUSTER).writer == WRITER
    assert not world.sim.instance_exists(temp_instance_id(CLUSTER, op.id))


def upgradable(world: World) -> None:
    world.sim.parameter_groups.use_custom_groups(
        CLUSTER,
        cluster_parameters={"rds.logical_replication": "1", "max_replication_slots": "30"},
        instance_parameters={"work_mem": "65536"},
    )
    world.sim.proxies.seed_proxy(PROXY, CLUSTER)


def upgrade(world: World, **extra: Any) -> str:
    upgradable(world)
    op = world.engine.create(request("engine_upgrade", {"target_engine_version": TARGET}, **extra))
    return op.id


def engine_upgrade(world: World) -> None:
    op_id = upgrade(world)
    assert drive(world, op_id, iter(["continue"] * 5)).outcome is Outcome.COMPLETED
    assert world.sim.cluster_view(CLUSTER).engine_version == TARGET
    assert not world.sim.blue_green.cluster_exists(f"{CLUSTER}-old1")
    assert world.sim.proxies.tracked_clusters(PROXY) == [CLUSTER]
    snapshot = final_snapshot_name(f"{CLUSTER}-old1", op_id)
    assert [c.params["FinalDBSnapshotIdentifier"] for c in world.sim.applied_calls("DeleteDBCluster")] == [snapshot]


def engine_upgrade_rollback_before_switchover(world: World) -> None:
    op_id = upgrade(world)
    assert drive(world, op_id).step_name == "switchover"
    world.engine.resume(op_id, "rollback")
    world.run(op_id)
    assert world.store.load(op_id).state is OperationState.ROLLED_BACK
    assert world.sim.blue_green.deployments() == []
    assert world.sim.cluster_view(CLUSTER).engine_version == SOURCE
    for kind in ("cluster", "instance"):
        assert world.gateway().parameter_group(kind, parameter_group_copy_name(CLUSTER, TARGET, kind)) is None


def engine_upgrade_rollback_after_switchover(world: World) -> None:
    op_id = upgrade(world)
    assert drive(world, op_id, iter(["continue"])).step_name == "cleanup"
    world.engine.resume(op_id, "rollback", confirm=True)
    assert world.run(op_id).outcome is Outcome.INTERVENTION
    world.engine.resume(op_id, "mark_complete", comment="staying on the new version")
    assert world.store.load(op_id).state is OperationState.ROLLED_BACK
    assert world.sim.blue_green.cluster_exists(f"{CLUSTER}-old1")


def engine_upgrade_abort(world: World) -> None:
    op_id = upgrade(world, pause_before_steps=["create_blue_green"])
    assert drive(world, op_id).step_name == "create_blue_green"
    world.engine.resume(op_id, "abort")
    world.run(op_id)
    assert world.store.load(op_id).state is OperationState.FAILED
    assert world.sim.applied_calls("CreateBlueGreenDeployment") == []


SCENARIOS: dict[str, Callable[[World], None]] = {
    f.__name__: f
    for f in (
        instance_type_change,
        instance_type_change_abort,
        instance_type_change_rollback,
        storage_type_change,
        storage_type_change_rollback,
        storage_type_change_abort,
        instance_cycle,
        instance_cycle_rollback,
        instance_cycle_abort,
        engine_upgrade,
        engine_upgrade_rollback_before_switchover,
        engine_upgrade_rollback_after_switchover,
        engine_upgrade_abort,
    )
}


def record(world: World, scenario: str, *, opt_in: bool = False) -> RequestRecorder:
    recorder = RequestRecorder(REGION)
    seed_cluster(world, opt_in=opt_in)
    world.recorders.append(recorder.attach)  # every RDS client the world's engines make from now on
    try:
        SCENARIOS[scenario](world)
    finally:
        world.recorders.remove(recorder.attach)
    assert recorder.checks, "nothing was recorded: is the recorder attached to the engine's clients?"
    return recorder


@dataclass(frozen=True)
class Recorded:
    """What one run of a scenario on an untagged cluster asked of IAM, and the cluster's tags at its end."""

    checks: tuple[Check, ...]
    cluster_tags: dict[str, str]


@functools.cache
def recorded(scenario: str) -> Recorded:
    """Each scenario runs once per test process, in an account of its own, and the tests that only read its
    checks share that run (before, each test ran it again: engine_upgrade 4 times, instance_type_change 4)."""
    with tempfile.TemporaryDirectory() as tmp, simulated_world(Path(tmp)) as world:
        recorder = record(world, scenario)
        return Recorded(tuple(recorder.checks), dict(world.gateway().describe_cluster(CLUSTER).tags))


def denials(checks: Sequence[Check], policies: list[Policy]) -> list[tuple[Check, Decision]]:
    found = []
    for check in checks:
        decision = evaluate(policies, check.request())
        if not decision.allowed:
            found.append((check, decision))
    return found


def report(found: list[tuple[Check, Decision]]) -> str:
    lines = [f"  {c.describe()} [evaluated as {c.evaluated_arn}]: {d.reason}" for c, d in found]
    return f"{len(found)} denied call(s); fix iam/lambda-policy.json (and the template):\n" + "\n".join(lines)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_request_of_a_complete_run_is_allowed_by_the_lambda_policy(scenario: str) -> None:
    found = denials(recorded(scenario).checks, lambda_policies())
    assert not found, report(found)


@pytest.mark.parametrize(
    "scenario", ["instance_type_change", "instance_cycle_rollback", "storage_type_change", "engine_upgrade"]
)
def test_with_the_opt_in_policy_an_opted_in_cluster_runs_as_before(world: World, scenario: str) -> None:
    recorder = record(world, scenario, opt_in=True)
    found = denials(recorder.checks, lambda_policies(opt_in=True))
    assert not found, report(found)


@pytest.mark.parametrize(
    "scenario", ["instance_type_change", "instance_cycle", "storage_type_change", "engine_upgrade"]
)
def test_with_the_opt_in_policy_a_cluster_without_the_tag_is_not_changed(scenario: str) -> None:
    denied = {(c.action, c.resource_type) for c, _ in denials(recorded(scenario).checks, lambda_policies(opt_in=True))}
    changes = {
        "instance_type_change": {("rds:ModifyDBInstance", "db"), ("rds:FailoverDBCluster", "cluster")},
        "instance_cycle": {("rds:RebootDBInstance", "db")},
        "storage_type_change": {("rds:ModifyDBCluster", "cluster")},
        "engine_upgrade": {("rds:CreateBlueGreenDeployment", "cluster"), ("rds:ModifyDBCluster", "cluster")},
    }[scenario]
    assert changes <= denied, f"not denied: {sorted(changes - denied)}"


# -- what the policy must refuse -------------------------------------------------------------------


def decide(action: str, resource: str, *, resource_tags: dict[str, str] | None = None, **kw: Any) -> Decision:
    resource_type = resource.split(":")[5]
    check = Check("test", action, resource_type, resource, kw.get("request_tags", {}), resource_tags or {})
    return evaluate(lambda_policies(opt_in=kw.get("opt_in", False)), check.request())


def test_deleting_an_instance_that_is_not_the_operations_is_denied() -> None:
    assert not decide("rds:DeleteDBInstance", arn("db", READER_2)).allowed  # a member, untagged
    assert not decide("rds:DeleteDBInstance", arn("db", READER_2), resource_tags={"team": "orders"}).allowed
    temp = temp_instance_id(CLUSTER, "op-1")
    assert not decide("rds:DeleteDBInstance", arn("db", temp)).allowed  # our name, but not tagged
    assert decide("rds:DeleteDBInstance", arn("db", temp), resource_tags={OP_TAG: "op-1"}).allowed


def test_deleting_a_cluster_that_is_not_an_old_blue_one_is_denied() -> None:
    assert not decide("rds:DeleteDBCluster", arn("cluster", CLUSTER)).allowed
    assert not decide("rds:DeleteDBCluster", arn("cluster", f"{CLUSTER}-old1")).allowed  # old, but not marked
    assert not decide("rds:DeleteDBCluster", arn("cluster", "payments-prod"), resource_tags={"env": "prod"}).allowed
    marked = {OP_TAG: "op-1"}
    assert decide("rds:DeleteDBCluster", arn("cluster", f"{CLUSTER}-old1"), resource_tags=marked).allowed
    assert decide("rds:CreateDBClusterSnapshot", arn("cluster", f"{CLUSTER}-old1"), resource_tags=marked).allowed


def test_tagging_a_foreign_resource_with_the_operation_tag_is_denied_so_it_cannot_then_be_deleted() -> None:
    tag = {OP_TAG: "op-1"}
    for resource in (arn("db", READER_2), arn("cluster", CLUSTER), arn("cluster-pg", "orders-params")):
        decision = decide("rds:AddTagsToResource", resource, request_tags=tag)
        assert not decision.allowed and "DenyOperationTagOutsideOwnNames" in decision.reason, resource
        assert not decide("rds:DeleteDBInstance", arn("db", READER_2)).allowed
    # a new instance under a foreign name cannot carry the tag either (tag-on-create is AddTagsToResource)
    assert not decide("rds:AddTagsToResource", arn("db", "payments-prod-2"), request_tags=tag).allowed
    # other tags stay allowed: Blue/Green copies the source's tags onto green
    assert decide("rds:AddTagsToResource", arn("db", READER_2), request_tags={"team": "orders"}).allowed
    # the operation's own resources may be tagged
    for resource in (
        arn("db", temp_instance_id(CLUSTER, "op-1")),
        arn("db", f"{READER_2}-old1"),
        arn("cluster", f"{CLUSTER}-old1"),
        arn("cluster", f"{CLUSTER}-green-abc123"),
        arn("cluster-pg", parameter_group_copy_name(CLUSTER, TARGET, "cluster")),
        arn("pg", parameter_group_copy_name(CLUSTER, TARGET, "instance")),
    ):
        assert decide("rds:AddTagsToResource", resource, request_tags=tag).allowed, resource


def test_the_cluster_mark_may_be_put_on_and_taken_off_any_cluster_and_nothing_else_removed() -> None:
    """The mark (rds-maint:active-operation) goes on the cluster being changed, whatever its name; the grant
    that allows it must not let the role give a cluster the operation tag, which deletes key on."""
    mark = {MARK: "op-1"}
    cluster = arn("cluster", CLUSTER)
    assert decide("rds:AddTagsToResource", cluster, request_tags=mark).allowed
    remove = "rds:RemoveTagsFromResource"
    assert evaluate(lambda_policies(), Request(remove, cluster, {"aws:TagKeys": [MARK]})).allowed
    # the operation tag on someone's cluster stays refused, alone or next to the mark
    for tags in ({OP_TAG: "op-1"}, {MARK: "op-1", OP_TAG: "op-1"}):
        decision = decide("rds:AddTagsToResource", cluster, request_tags=tags)
        assert not decision.allowed and "DenyOperationTagOutsideOwnNames" in decision.reason, tags
    # removing anything but the mark, or the mark from anything but a cluster or a DB instance (an operation
    # on an RDS DB instance marks the instance: tests/artifacts/test_iam_instance_targets.py), is not granted
    for resource, keys in (
        (cluster, [OP_TAG]),
        (cluster, [MARK, "team"]),
        (cluster, ["rds-maint:opt-in"]),
        (arn("db", READER_2), [OP_TAG]),
        (arn("cluster-pg", "orders-params"), [MARK]),
        (arn("pg", "orders-params"), [MARK]),
    ):
        assert not evaluate(lambda_policies(), Request(remove, resource, {"aws:TagKeys": keys})).allowed, keys
    assert not evaluate(lambda_policies(), Request(remove, cluster)).allowed  # no keys named: refused


@pytest.mark.parametrize("scenario", ["instance_type_change", "storage_type_change_abort", "engine_upgrade"])
def test_a_run_puts_the_cluster_mark_on_and_takes_it_off_within_the_lambda_policy(scenario: str) -> None:
    run = recorded(scenario)
    marking = [
        c
        for c in run.checks
        if c.action in ("rds:AddTagsToResource", "rds:RemoveTagsFromResource") and c.arn == arn("cluster", CLUSTER)
    ]
    assert {c.action for c in marking} == {"rds:AddTagsToResource", "rds:RemoveTagsFromResource"}
    assert all(MARK in c.request_tags or c.extra.get("aws:TagKeys") == [MARK] for c in marking if not c.implied), (
        marking
    )
    found = denials(marking, lambda_policies())
    assert not found, report(found)
    assert MARK not in run.cluster_tags  # taken off at the end


def test_parameter_groups_are_changed_only_when_the_operation_made_them() -> None:
    ours = parameter_group_copy_name(CLUSTER, TARGET, "cluster")
    tag = {OP_TAG: "op-1"}
    assert decide("rds:ModifyDBClusterParameterGroup", arn("cluster-pg", ours), resource_tags=tag).allowed
    assert not decide("rds:ModifyDBClusterParameterGroup", arn("cluster-pg", ours)).allowed
    assert not decide(
        "rds:DeleteDBClusterParameterGroup", arn("cluster-pg", "orders-params"), resource_tags=tag
    ).allowed
    assert not decide(
        "rds:CreateDBParameterGroup", arn("pg", parameter_group_copy_name(CLUSTER, TARGET, "instance"))
    ).allowed


def test_the_monitoring_role_is_passed_only_to_enhanced_monitoring() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/rds-monitoring-role"
    policies = lambda_policies()
    passed = {"iam:PassedToService": "monitoring.rds.amazonaws.com"}
    assert evaluate(policies, Request("iam:PassRole", role, passed)).allowed
    assert not evaluate(
        policies, Request("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})
    ).allowed
    assert not evaluate(policies, Request("iam:PassRole", role)).allowed


def test_with_the_opt_in_policy_changes_need_the_tag() -> None:
    tagged = dict([OPT_IN])
    for action, kind in (
        ("rds:ModifyDBInstance", "db"),
        ("rds:RebootDBInstance", "db"),
        ("rds:FailoverDBCluster", "cluster"),
        ("rds:ModifyDBCluster", "cluster"),
    ):
        resource = arn(kind, READER_2 if kind == "db" else CLUSTER)
        assert decide(action, resource, resource_tags=tagged, opt_in=True).allowed, action
        assert not decide(action, resource, opt_in=True).allowed, action
        assert not decide(action, resource, resource_tags={OPT_IN[0]: "no"}, opt_in=True).allowed, action
    temp = arn("db", temp_instance_id(CLUSTER, "op-1"))  # the operation's own instance needs no opt-in
    assert decide("rds:RebootDBInstance", temp, resource_tags={OP_TAG: "op-1"}, opt_in=True).allowed


# -- the operator policy ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["instance_type_change", "instance_cycle", "storage_type_change", "engine_upgrade"])
def test_the_operator_can_plan_but_changes_nothing_in_rds(world: World, kind: str) -> None:
    seed_cluster(world, opt_in=False)
    params = {
        "instance_type_change": {"target_instance_type": NEW_CLASS},
        "instance_cycle": {},
        "storage_type_change": {"target_storage_type": "aurora-iopt1"},
        "engine_upgrade": {"target_engine_version": TARGET},
    }[kind]
    if kind == "engine_upgrade":
        upgradable(world)
    recorder = RequestRecorder(REGION)
    world.recorders.append(recorder.attach)
    try:
        preview = world.engine.preview(request(kind, params))
    finally:
        world.recorders.remove(recorder.attach)
    assert preview.plan.steps
    operator = [shipped_policy("operator-policy.json")]
    assert recorder.checks
    found = denials(recorder.checks, operator)
    assert not found, report(found)


@pytest.mark.parametrize("scenario", ["instance_type_change", "engine_upgrade"])
def test_the_operator_policy_allows_none_of_the_changes_the_engine_makes(scenario: str) -> None:
    operator = [shipped_policy("operator-policy.json")]
    mutating = [c for c in recorded(scenario).checks if not c.action.split(":")[1].startswith(("Describe", "List"))]
    assert len({c.action for c in mutating}) >= 4
    allowed = [c.describe() for c in mutating if evaluate(operator, c.request()).allowed]
    assert not allowed, allowed
