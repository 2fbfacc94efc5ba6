"""The engine's bookkeeping of a waiting step, on a file store with a virtual clock and no AWS at all.

What a person sees: a wait that shows no progress pauses after the operation's wait_timeout; one whose
action says AWS is progressing (`Wait(progressing=True)`) keeps waiting; a continue gives a stuck wait a
new wait_timeout. Actions see when the wait began (`ctx.waiting_since`) and never the engine's keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from rds_maint.actions import ACTIONS, ActionContext, ActionOutcome, Wait
from rds_maint.actions.polling import PollPolicy
from rds_maint.engine import Engine
from rds_maint.model import PROGRESS_KEYS, Operation, OperationState, OperationType, Outcome, Step, StepState
from rds_maint.ports import RdsPort
from rds_maint.steps import StepKind, StepParams, StepRecord
from rds_maint.store import FileStore
from rds_sim import VirtualClock

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TIMEOUT = 600


class WaitsParams(StepParams):
    pass


class WaitsRecord(StepRecord):
    asked_at: str | None = None
    looked_at: str | None = None


WAITS = StepKind("test_waits", WaitsParams, WaitsRecord)
Context = ActionContext[WaitsParams, WaitsRecord]


class Waits:
    """A typed action that waits; `progressing` says whether it reports AWS moving."""

    kind = WAITS

    def __init__(self) -> None:
        self.progressing = False
        self.seen: list[datetime | None] = []

    def run(self, ctx: Context) -> ActionOutcome:
        return Wait("the change to finish", 60, result=WaitsRecord(asked_at=ctx.now.isoformat()))

    def check(self, ctx: Context) -> ActionOutcome:
        self.seen.append(ctx.waiting_since)
        record = WaitsRecord(looked_at=ctx.now.isoformat())
        return Wait("the change to finish", 60, result=record, progressing=self.progressing)


class NoRds:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the engine called RDS ({name}) for a step that does not")


@pytest.fixture
def action(monkeypatch: pytest.MonkeyPatch) -> Iterator[Waits]:
    waits = Waits()
    monkeypatch.setitem(ACTIONS, WAITS.action, waits)
    yield waits


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def attempts() -> list[str]:
    return []


@pytest.fixture
def engine(tmp_path: Path, clock: VirtualClock, attempts: list[str]) -> Engine:
    store = FileStore(tmp_path / "state")
    op = Operation(
        id="op-1",
        type=OperationType.INSTANCE_TYPE_CHANGE,
        state=OperationState.RUNNING,
        cluster_id="c1",
        region="us-east-1",
        parameters={},
        steps=[Step(id="s01", name="wait_for_it", action=WAITS.action, description="waits for AWS")],
        wait_timeout=TIMEOUT,
        created_at=START,
        updated_at=START,
    )
    store.create(op, [])
    return Engine(
        store,
        lambda region: cast(RdsPort, NoRds()),
        clock,
        PollPolicy(),
        on_attempt=lambda operation, step, kind: attempts.append(f"{step.name}:{kind}"),
    )


def _look_every(engine: Engine, clock: VirtualClock, seconds: int, times: int) -> list[Outcome]:
    outcomes = []
    for _ in range(times):
        clock.advance(seconds)
        outcomes.append(engine.advance("op-1").outcome)
    return outcomes


def test_a_wait_without_progress_pauses_after_the_wait_timeout(
    engine: Engine, clock: VirtualClock, action: Waits
) -> None:
    assert engine.advance("op-1").outcome is Outcome.WAIT
    assert _look_every(engine, clock, 300, 2) == [Outcome.WAIT, Outcome.WAIT]  # 600 s: not yet over
    clock.advance(1)
    paused = engine.advance("op-1")
    assert paused.outcome is Outcome.INTERVENTION
    assert paused.pause_reason is not None and paused.pause_reason.startswith("Timed out after 10 min waiting for")


def test_a_wait_the_action_reports_progressing_keeps_waiting(
    engine: Engine, clock: VirtualClock, action: Waits
) -> None:
    action.progressing = True
    engine.advance("op-1")
    assert set(_look_every(engine, clock, 300, 8)) == {Outcome.WAIT}  # 40 min, far past the 10 min timeout
    assert action.seen[-1] == START + timedelta(seconds=300 * 7), "waiting_since moves with each progress"


def test_a_progressing_wait_keeps_the_engine_keys_out_of_the_action_record(
    engine: Engine, clock: VirtualClock, action: Waits
) -> None:
    action.progressing = True
    engine.advance("op-1")
    assert set(_look_every(engine, clock, 300, 4)) == {Outcome.WAIT}
    step = engine.store.load("op-1").steps[0]
    assert step.progress.wait_started_at == clock.now()
    assert not PROGRESS_KEYS & step.result.keys() and step.result["looked_at"] == clock.now().isoformat()


def test_waiting_since_is_the_first_wait_until_a_continue_starts_it_again(
    engine: Engine, clock: VirtualClock, action: Waits, attempts: list[str]
) -> None:
    engine.advance("op-1")  # run: the wait begins now
    _look_every(engine, clock, 400, 2)  # 800 s: timed out, paused
    assert engine.status("op-1").outcome is Outcome.INTERVENTION
    assert action.seen == [START, START]
    clock.advance(30)
    engine.resume("op-1", "continue", "still creating, give it time")
    assert engine.advance("op-1").outcome is Outcome.WAIT
    assert action.seen[-1] == START + timedelta(seconds=830), "a continue gives the wait a new timeout"
    assert attempts == ["wait_for_it:run", "wait_for_it:check", "wait_for_it:check", "wait_for_it:check"]
    step = engine.store.load("op-1").steps[0]
    assert step.state is StepState.WAITING and step.progress.lease_attempt is None
