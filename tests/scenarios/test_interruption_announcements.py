"""A step whose kind declares an `interruption` (steps/base.py) is announced before and after, like a failover.

The DB instance and Multi-AZ DB cluster step kinds land in other branches; a stand-in kind (a reboot of a DB
instance, `interruption="reboot"`) is registered in `actions.ACTIONS` for the test. Listeners (the Lambda's
EventBridge publisher) must hear `disruption_starting` in a save of its own before the action runs, and
`disruption_finished` after it, both naming the DB instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from rds_maint.actions import ACTIONS
from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction
from rds_maint.model import Event, Operation, OperationState, OperationType, Step
from rds_maint.steps.base import NoRecord, StepKind, StepParams
from tests.helpers.world import REGION, World

__all__: list[str] = []

INSTANCE = "orders-db"


class _RebootParams(StepParams):
    instance_id: str


_KIND: StepKind[_RebootParams, NoRecord] = StepKind(
    "test_instance_reboot", _RebootParams, NoRecord, transition="instance_reboot", interruption="reboot"
)


class _StandInReboot(ImmediateAction):
    kind = _KIND

    def __init__(self) -> None:
        self.saves_before_run: list[list[str]] = []
        self.heard: list[list[str]] = []

    def run(self, ctx: ActionContext[Any, Any]) -> ActionOutcome:
        self.saves_before_run = [list(types) for types in self.heard]
        return Done(f"rebooted {INSTANCE}")


def test_a_step_that_stops_writes_is_announced_in_a_save_of_its_own_before_and_after(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.sim.seed_db_instance(INSTANCE)
    action = _StandInReboot()
    monkeypatch.setitem(ACTIONS, _KIND.action, action)

    def listener(_op: Operation, events: Sequence[Event]) -> None:
        action.heard.append([e.type for e in events])

    world.engine.listeners.append(listener)
    now = world.clock.now()
    step = Step(
        id="s01",
        name="reboot",
        description=f"Reboot {INSTANCE}",
        action=_KIND.action,
        parameters={"instance_id": INSTANCE},
    )
    op = Operation(
        id="op-reboot-1",
        type=OperationType.INSTANCE_CYCLE,
        instance_id=INSTANCE,
        target_type="db_instance",
        region=REGION,
        parameters={},
        steps=[step],
        created_at=now,
        updated_at=now,
    )
    world.store.create(op, [])

    world.engine.start(op.id)
    for _ in range(5):
        if world.store.load(op.id).state.is_final:
            break
        world.engine.advance(op.id)

    assert world.store.load(op.id).state is OperationState.COMPLETED
    assert any("disruption_starting" in types for types in action.saves_before_run), "announced before the run"
    events = world.store.events(op.id)
    starting = [e for e in events if e.type == "disruption_starting"]
    finished = [e for e in events if e.type == "disruption_finished"]
    assert len(starting) == 1 and len(finished) == 1
    assert starting[0].message == f"Reboot (step reboot) of instance {INSTANCE} is about to start"
    assert finished[0].data["instance_id"] == INSTANCE
    assert [e.type for e in events].index("disruption_finished") > [e.type for e in events].index("step_completed")
