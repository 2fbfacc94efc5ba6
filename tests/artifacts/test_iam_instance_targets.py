"""The shipped IAM policies for RDS DB instances and Multi-AZ DB clusters (DESIGN section 10).

Two halves. The calls the new operations make, evaluated one by one against iam/lambda-policy.json (and
iam/opt-in-policy.json): each allowed on the resource it is meant for and refused elsewhere. And complete
runs on the simulator, recorded by `tests.helpers.iam_recorder.RequestRecorder` as in
tests/artifacts/test_iam_evaluation.py: every request of each operation on each new kind of target.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from rds_maint.engine.cluster_mark import TAG_ACTIVE_OPERATION
from rds_maint.model import Outcome
from rds_maint.snapshots import TAG_OPERATION_ID
from tests.helpers.iam_evaluator import Decision, Policy, Request, evaluate
from tests.helpers.iam_recorder import ACCOUNT, Check, RequestRecorder
from tests.helpers.shipped_iam import lambda_policies
from tests.helpers.world import REGION, World, simulated_world

__all__: list[str] = []

OP_TAG = TAG_OPERATION_ID
MARK = TAG_ACTIVE_OPERATION
OPT_IN = ("rds-maint:opt-in", "true")
INSTANCE = "orders-db"
MAZ = "orders-maz"
OTHER = "payments-db"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


def decide(
    action: str,
    resource: str,
    *,
    request_tags: dict[str, str] | None = None,
    resource_tags: dict[str, str] | None = None,
    opt_in: bool = False,
    context: dict[str, Any] | None = None,
) -> Decision:
    kind = resource.split(":")[5] if resource != "*" else "*"
    check = Check("test", action, kind, resource, request_tags or {}, resource_tags or {})
    request = check.request()
    merged = {**request.context, **(context or {})}
    return evaluate(lambda_policies(opt_in=opt_in), Request(request.action, request.resource, merged))


# -- each new call, on its resource and elsewhere ---------------------------------------------------


def test_the_mark_may_be_put_on_and_taken_off_a_db_instance_and_nothing_else_removed() -> None:
    instance = arn("db", INSTANCE)
    assert decide("rds:AddTagsToResource", instance, request_tags={MARK: "op-1"}).allowed
    assert decide("rds:RemoveTagsFromResource", instance, context={"aws:TagKeys": [MARK]}).allowed
    for keys in ([OP_TAG], [MARK, "team"], ["rds-maint:opt-in"]):
        assert not decide("rds:RemoveTagsFromResource", instance, context={"aws:TagKeys": keys}).allowed, keys
    assert not decide("rds:RemoveTagsFromResource", instance).allowed, "no keys named: refused"
    # the operation tag (which deletes key on) stays refused on someone's instance, next to the mark too
    for tags in ({OP_TAG: "op-1"}, {MARK: "op-1", OP_TAG: "op-1"}):
        decision = decide("rds:AddTagsToResource", instance, request_tags=tags)
        assert not decision.allowed and "DenyOperationTagOutsideOwnNames" in decision.reason, tags
    # the mark goes on instances and clusters only
    for resource in (arn("pg", "orders-params"), arn("snapshot", "orders-db-snap")):
        assert not decide("rds:RemoveTagsFromResource", resource, context={"aws:TagKeys": [MARK]}).allowed, resource


def test_db_instance_storage_class_reboot_and_in_place_upgrade_calls_are_granted_on_db_instances_only() -> None:
    instance = arn("db", INSTANCE)
    for action in ("rds:ModifyDBInstance", "rds:RebootDBInstance"):
        assert decide(action, instance).allowed, action
        for elsewhere in (arn("cluster", MAZ), arn("pg", "orders-params"), "*"):
            assert not decide(action, elsewhere).allowed, (action, elsewhere)
    # ForceFailover is the same action (RebootDBInstance): no condition key of its own to refuse it by
    assert decide("rds:RebootDBInstance", instance, context={"rds:ForceFailover": "true"}).allowed


def test_multi_az_cluster_modify_and_reboot_are_granted_on_clusters_only() -> None:
    for action in ("rds:ModifyDBCluster", "rds:RebootDBCluster"):
        assert decide(action, arn("cluster", MAZ)).allowed, action
        assert not decide(action, arn("db", INSTANCE)).allowed, action
        assert not decide(action, arn("cluster-pg", "orders-params")).allowed, action


def test_orderable_options_are_read_without_a_resource() -> None:
    assert decide("rds:DescribeOrderableDBInstanceOptions", "*").allowed


def test_blue_green_from_a_db_instance_needs_the_operation_tag_on_the_deployment() -> None:
    tag = {OP_TAG: "op-1"}
    for resource in (arn("db", INSTANCE), arn("deployment", "bgd-0123456789abcdef"), arn("pg", "orders-pg16")):
        assert decide("rds:CreateBlueGreenDeployment", resource, request_tags=tag).allowed, resource
        assert not decide("rds:CreateBlueGreenDeployment", resource).allowed, resource
    assert not decide("rds:CreateBlueGreenDeployment", arn("snapshot", "orders-db-snap"), request_tags=tag).allowed


def test_what_rds_blue_green_creates_and_promotes_is_granted_under_any_name_on_db_instances_only() -> None:
    """The green instance has a name AWS makes (RDS User Guide: no partial name patterns)."""
    green = arn("db", "rds-internal-name-0")
    for action in ("rds:CreateDBInstanceReadReplica", "rds:PromoteReadReplica"):
        assert decide(action, green).allowed, action
        assert not decide(action, arn("cluster", MAZ)).allowed, action
    assert decide("rds:CreateDBInstanceReadReplica", arn("subgrp", "default")).allowed
    assert not decide("rds:PromoteReadReplicaDBCluster", green).allowed


def test_the_old_blue_instance_is_deleted_only_by_its_name_and_the_operation_tag() -> None:
    ours = {OP_TAG: "op-1"}
    old = arn("db", f"{INSTANCE}-old1")
    assert decide("rds:DeleteDBInstance", old, resource_tags=ours).allowed
    assert not decide("rds:DeleteDBInstance", old).allowed, "the old name alone is not enough"
    assert not decide("rds:DeleteDBInstance", arn("db", INSTANCE)).allowed
    assert not decide("rds:DeleteDBInstance", arn("db", OTHER), resource_tags={"team": "payments"}).allowed
    # and the tag cannot be put on a foreign instance first, so that it could be deleted
    assert decide("rds:AddTagsToResource", old, request_tags=ours).allowed
    assert not decide("rds:AddTagsToResource", arn("db", OTHER), request_tags=ours).allowed


def test_the_final_snapshot_of_the_old_blue_instance_is_granted_on_its_name_only() -> None:
    ours = {OP_TAG: "op-1"}
    assert decide("rds:CreateDBSnapshot", arn("db", f"{INSTANCE}-old1"), resource_tags=ours).allowed
    assert not decide("rds:CreateDBSnapshot", arn("db", INSTANCE), resource_tags=ours).allowed
    assert not decide("rds:CreateDBSnapshot", arn("db", f"{INSTANCE}-old1")).allowed, "the tag is needed too"
    final = arn("snapshot", f"{INSTANCE}-old1-final-op-1")
    assert decide("rds:CreateDBSnapshot", final).allowed
    assert not decide("rds:CreateDBSnapshot", arn("snapshot", "nightly-backup")).allowed


def test_with_the_opt_in_policy_db_instance_and_multi_az_changes_need_the_tag() -> None:
    tagged = dict([OPT_IN])
    for action, resource, request_tags in (
        ("rds:ModifyDBInstance", arn("db", INSTANCE), {}),
        ("rds:RebootDBInstance", arn("db", INSTANCE), {}),
        ("rds:CreateBlueGreenDeployment", arn("db", INSTANCE), {OP_TAG: "op-1"}),
        ("rds:ModifyDBCluster", arn("cluster", MAZ), {}),
        ("rds:RebootDBCluster", arn("cluster", MAZ), {}),
    ):
        assert decide(action, resource, request_tags=request_tags, resource_tags=tagged, opt_in=True).allowed, action
        assert not decide(action, resource, request_tags=request_tags, opt_in=True).allowed, action
        refused = decide(action, resource, request_tags=request_tags, resource_tags={OPT_IN[0]: "no"}, opt_in=True)
        assert not refused.allowed, action
    # the operation's own old instance needs no opt-in tag to be deleted
    old = arn("db", f"{INSTANCE}-old1")
    assert decide("rds:DeleteDBInstance", old, resource_tags={OP_TAG: "op-1"}, opt_in=True).allowed


# -- complete runs (need the plans of other branches) ------------------------------------------------


def drive(world: World, op_id: str, answers: Iterator[str] | None = None) -> Any:
    world.engine.start(op_id)
    while True:
        result = world.run(op_id)
        planned = result.outcome is Outcome.INTERVENTION and (result.pause_reason or "").startswith("Paused before")
        answer = next(answers, None) if answers is not None and planned else None
        if answer is None:
            return result
        world.engine.resume(op_id, answer)


def on_instance(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "instance_id": INSTANCE, "region": REGION, "params": params}


def on_multi_az(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "cluster_id": MAZ, "region": REGION, "params": params}


def run_to_end(world: World, request: dict[str, Any]) -> None:
    op = world.engine.create(request)
    assert drive(world, op.id, iter(["continue"] * 6)).outcome is Outcome.COMPLETED


def instance_storage_change(world: World) -> None:
    run_to_end(world, on_instance("storage_type_change", {"target_storage_type": "gp3"}))
    found = world.gateway().find_instance(INSTANCE)
    assert found is not None and found.storage_type == "gp3"


def instance_class_change(world: World) -> None:
    run_to_end(world, on_instance("instance_type_change", {"target_instance_type": "db.m6g.xlarge"}))
    found = world.gateway().find_instance(INSTANCE)
    assert found is not None and found.instance_class == "db.m6g.xlarge"


def instance_reboot(world: World) -> None:
    run_to_end(world, on_instance("instance_cycle", {}))
    assert world.sim.applied_calls("RebootDBInstance")


def instance_in_place_upgrade(world: World) -> None:
    run_to_end(world, on_instance("engine_upgrade", {"target_engine_version": "16.6", "method": "in_place"}))
    found = world.gateway().find_instance(INSTANCE)
    assert found is not None and found.engine_version == "16.6"


def instance_blue_green_upgrade(world: World) -> None:
    run_to_end(world, on_instance("engine_upgrade", {"target_engine_version": "16.6"}))
    found = world.gateway().find_instance(INSTANCE)
    assert found is not None and found.engine_version == "16.6"
    assert world.gateway().find_instance(f"{INSTANCE}-old1") is None


def multi_az_class_change(world: World) -> None:
    run_to_end(world, on_multi_az("instance_type_change", {"target_instance_type": "db.m6gd.xlarge"}))
    assert world.sim.applied_calls("ModifyDBCluster")


def multi_az_reboot(world: World) -> None:
    run_to_end(world, on_multi_az("instance_cycle", {"reboot_whole_cluster": True}))
    assert world.sim.applied_calls("RebootDBCluster")


RUNS: dict[str, Callable[[World], None]] = {
    "instance_storage_change": instance_storage_change,
    "instance_class_change": instance_class_change,
    "instance_reboot": instance_reboot,
    "instance_in_place_upgrade": instance_in_place_upgrade,
    "instance_blue_green_upgrade": instance_blue_green_upgrade,
    "multi_az_class_change": multi_az_class_change,
    "multi_az_reboot": multi_az_reboot,
}
RUN_PARAMS = [pytest.param(name, id=name) for name in RUNS]


def record(world: World, name: str, *, opt_in: bool = False) -> RequestRecorder:
    tags = dict([OPT_IN]) if opt_in else None
    world.sim.seed_db_instance(INSTANCE, multi_az=True, tags=tags)
    ids = world.sim.seed_multi_az_cluster(MAZ)
    if opt_in:
        client = boto3.client("rds", region_name=REGION)  # moto's own: the scenery, not the code
        for resource in (arn("cluster", MAZ), *(arn("db", i) for i in ids)):
            client.add_tags_to_resource(ResourceName=resource, Tags=[{"Key": OPT_IN[0], "Value": OPT_IN[1]}])
    recorder = RequestRecorder(REGION)
    world.recorders.append(recorder.attach)
    try:
        RUNS[name](world)
    finally:
        world.recorders.remove(recorder.attach)
    assert recorder.checks, "nothing was recorded: is the recorder attached to the engine's clients?"
    return recorder


@functools.cache
def recorded(name: str) -> tuple[Check, ...]:
    """Each run on untagged targets happens once per test process, in an account of its own, and the tests
    that only read its checks share it (before, each test ran it again: 15 runs of 7)."""
    with tempfile.TemporaryDirectory() as tmp, simulated_world(Path(tmp)) as world:
        return tuple(record(world, name).checks)


def denied(checks: Sequence[Check], policies: list[Policy]) -> list[tuple[Check, Decision]]:
    return [(c, d) for c in checks if not (d := evaluate(policies, c.request())).allowed]


def report(found: list[tuple[Check, Decision]]) -> str:
    lines = [f"  {c.describe()} [evaluated as {c.evaluated_arn}]: {d.reason}" for c, d in found]
    return f"{len(found)} denied call(s); fix iam/lambda-policy.json (and the template):\n" + "\n".join(lines)


@pytest.mark.parametrize("name", RUN_PARAMS)
def test_every_request_of_a_db_instance_or_multi_az_run_is_allowed_by_the_lambda_policy(name: str) -> None:
    found = denied(recorded(name), lambda_policies())
    assert not found, report(found)


@pytest.mark.parametrize("name", RUN_PARAMS)
def test_with_the_opt_in_policy_an_opted_in_target_runs_as_before(world: World, name: str) -> None:
    recorder = record(world, name, opt_in=True)
    found = denied(recorder.checks, lambda_policies(opt_in=True))
    assert not found, report(found)


@pytest.mark.parametrize("name", RUN_PARAMS)
def test_with_the_opt_in_policy_a_target_without_the_tag_is_not_changed(name: str) -> None:
    refused = {(c.action, c.resource_type) for c, _ in denied(recorded(name), lambda_policies(opt_in=True))}
    changes = {
        "instance_storage_change": {("rds:ModifyDBInstance", "db")},
        "instance_class_change": {("rds:ModifyDBInstance", "db")},
        "instance_reboot": {("rds:RebootDBInstance", "db")},
        "instance_in_place_upgrade": {("rds:ModifyDBInstance", "db")},
        "instance_blue_green_upgrade": {("rds:CreateBlueGreenDeployment", "db")},
        "multi_az_class_change": {("rds:ModifyDBCluster", "cluster")},
        "multi_az_reboot": {("rds:RebootDBCluster", "cluster")},
    }[name]
    assert changes <= refused, f"not denied: {sorted(changes - refused)}"


@pytest.mark.parametrize("name", [p for p in RUN_PARAMS if p.id == "instance_storage_change"])
def test_a_db_instance_run_marks_the_instance_within_the_lambda_policy(name: str) -> None:
    marking = [
        c
        for c in recorded(name)
        if c.action in ("rds:AddTagsToResource", "rds:RemoveTagsFromResource") and c.arn == arn("db", INSTANCE)
    ]
    assert {c.action for c in marking} == {"rds:AddTagsToResource", "rds:RemoveTagsFromResource"}
    found = [(c, d) for c in marking if not (d := evaluate(lambda_policies(), c.request())).allowed]
    assert not found, report(found)
