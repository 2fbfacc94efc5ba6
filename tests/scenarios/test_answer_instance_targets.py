"""Answers, status events and the Lambda for an operation on an RDS DB instance (DESIGN section 10).

The DB instance plans land in other branches; a tiny stand-in plan is registered here (`plans.BUILDERS`,
`plans.UNWINDERS`, the preflight) so that the engine's side is tested on its own: a rollback that cannot
undo everything (`plans.rollback_limits`) says so and is taken only once confirmed, from a terminal's
`--confirm` as from Step Functions' `"confirm": true`; the EventBridge detail and the Lambda name the
DB instance.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any, Literal

import boto3
import pytest

from rds_maint import plans
from rds_maint.engine import Engine
from rds_maint.engine import answer_options as answer_options_module
from rds_maint.engine.answer_options import option_for
from rds_maint.engine.events import disruption_event
from rds_maint.errors import BadInput, ClusterLocked
from rds_maint.intervention import status_detail
from rds_maint.model import Event, Operation, OperationState, OperationType, ResumeAction, Step
from rds_maint.plans.base import Plan
from rds_maint.store import open_store
from tests.helpers.world import REGION, World

__all__: list[str] = []

INSTANCE = "orders-db"
MARK = "rds-maint:active-operation"
# the module: `rds_maint.planning.preflight` as an attribute is the function the package re-exports
preflight_module = importlib.import_module("rds_maint.planning.preflight")
LIMITS = "the storage change stays: AWS cannot shrink allocated storage or undo a storage type change"


def pending_step() -> Step:
    return Step(id="s01", name="reboot", description=f"Reboot {INSTANCE}", action="reboot_instance", parameters={})


def _unwind(_op: Operation, _kind: Literal["abort", "rollback"]) -> list[Step]:
    return []


@pytest.fixture
def instance_plan(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """A stand-in plan for instance_cycle on a DB instance (one step) and its unwinder; the argument is what
    `rollback_limits` answers for it."""

    def build(_target: Any, _params: Any, _operation_id: str, _facts: object) -> Plan:
        return Plan(steps=[pending_step()], pause_before=["reboot"])

    def register(limits: str | None) -> None:
        monkeypatch.setattr(preflight_module, "preflight_db_instance", lambda *_args: object())
        monkeypatch.setitem(plans.BUILDERS, ("db_instance", OperationType.INSTANCE_CYCLE), build)
        monkeypatch.setitem(plans.UNWINDERS, ("db_instance", OperationType.INSTANCE_CYCLE), _unwind)
        monkeypatch.setattr(answer_options_module, "rollback_limits", lambda _op: limits)

    return register


REQUEST = {"type": "instance_cycle", "instance_id": INSTANCE, "region": REGION, "params": {}}


def paused(world: World) -> Operation:
    """Created, started and paused before its step (the plan pauses there), as a person finds it."""
    op = world.engine.create(dict(REQUEST))
    world.engine.start(op.id)
    world.engine.advance(op.id)
    found = world.store.load(op.id)
    assert found.state is OperationState.PAUSED
    return found


def instance_tags() -> dict[str, str]:
    client = boto3.client("rds", region_name=REGION)
    arn = client.describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]["DBInstanceArn"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_a_rollback_with_limits_says_them_and_is_refused_unconfirmed(
    world: World, instance_plan: Callable[[str | None], None]
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(LIMITS)
    op = paused(world)

    option = option_for(op, ResumeAction.ROLLBACK)
    assert option.needs_confirmation and LIMITS in option.effect
    with pytest.raises(BadInput) as refused:
        world.engine.resume(op.id, "rollback")

    assert "needs confirming" in str(refused.value) and LIMITS in str(refused.value)
    assert "--confirm" in str(refused.value)
    after = world.store.load(op.id)
    assert after.state is OperationState.PAUSED and after.unwind is None
    assert instance_tags()[MARK] == op.id, "the refused rollback changed nothing"

    world.engine.resume(op.id, "rollback", confirm=True)
    done = world.store.load(op.id)
    assert done.state is OperationState.ROLLED_BACK
    assert MARK not in instance_tags()


def test_a_rollback_without_limits_needs_no_confirmation(
    world: World, instance_plan: Callable[[str | None], None]
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(None)
    op = paused(world)

    assert not option_for(op, ResumeAction.ROLLBACK).needs_confirmation
    world.engine.resume(op.id, "rollback")

    assert world.store.load(op.id).state is OperationState.ROLLED_BACK


def test_step_functions_rollback_with_limits_is_recorded_refused_then_taken_with_confirm(
    world: World, instance_plan: Callable[[str | None], None]
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(LIMITS)
    op = paused(world)

    refused = world.handler({"action": "resume", "operation_id": op.id, "params": {"action": "rollback"}}, None)

    assert refused["error"] and "needs confirming" in refused["error"]
    events = world.store.events(op.id)
    assert any(e.type == "answer_refused" and LIMITS in e.message for e in events)
    assert world.store.load(op.id).state is OperationState.PAUSED

    taken = world.handler(
        {"action": "resume", "operation_id": op.id, "params": {"action": "rollback", "confirm": True}}, None
    )
    assert taken["error"] is None and taken["operation_state"] == "rolled_back"


def test_the_lambda_creates_an_operation_on_a_db_instance(
    world: World, instance_plan: Callable[[str | None], None]
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(None)

    created = world.handler({"action": "create", "params": dict(REQUEST)}, None)

    assert created["error"] is None and created["operation_state"] == "created"
    op = world.store.load(created["operation_id"])
    assert (op.instance_id, op.cluster_id, op.target_type) == (INSTANCE, None, "db_instance")
    started = world.handler({"action": "start", "operation_id": op.id}, None)
    assert started["operation_state"] == "running"
    assert instance_tags()[MARK] == op.id


def test_the_status_event_of_an_instance_operation_names_the_instance(
    world: World, instance_plan: Callable[[str | None], None]
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(LIMITS)
    op = paused(world)
    pause = next(e for e in reversed(world.store.events(op.id)) if e.type == "operation_paused")

    detail = status_detail(op, pause)

    assert (detail["cluster_id"], detail["instance_id"], detail["target_type"]) == (None, INSTANCE, "db_instance")
    rollback = next(a for a in detail["answers"] if a["action"] == "rollback")
    assert "cannot undo" in rollback["effect"]
    json.dumps(detail)  # what PutEvents carries


def test_a_disruption_event_carries_the_instance_id(world: World) -> None:
    now = world.clock.now()
    op = Operation(
        id="op-1",
        type=OperationType.INSTANCE_CYCLE,
        instance_id=INSTANCE,
        target_type="db_instance",
        region=REGION,
        parameters={},
        steps=[pending_step()],
        created_at=now,
        updated_at=now,
    )

    event: Event = disruption_event(world.clock, op, op.steps[0], "disruption_starting", "is about to start")

    assert f"of instance {INSTANCE}" in event.message
    assert event.data["instance_id"] == INSTANCE and "cluster_id" not in event.data
    assert status_detail(op, event)["data"]["instance_id"] == INSTANCE


def test_a_plan_on_a_db_instance_another_store_holds_is_refused_before_anything_is_written(
    world: World, instance_plan: Callable[[str | None], None], tmp_path: Any
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    instance_plan(None)
    laptop = Engine(open_store(f"file://{tmp_path / 'laptop'}"), world.gateway, world.clock)
    foreign = laptop.create(dict(REQUEST))
    laptop.start(foreign.id)
    assert instance_tags()[MARK] == foreign.id

    with pytest.raises(ClusterLocked) as refused:
        world.engine.create(dict(REQUEST))

    assert f"instance '{INSTANCE}' in {REGION} is busy" in str(refused.value)
    assert f"rds-maint unlock --instance {INSTANCE} --region {REGION} --force" in str(refused.value)
    assert world.store.list_operations() == []
    assert instance_tags()[MARK] == foreign.id
