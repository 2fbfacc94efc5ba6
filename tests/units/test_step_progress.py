"""The engine's bookkeeping of a step (`Step.progress`) apart from what its action recorded (`Step.result`).

Schema 1 kept both in `result`; loading such a record moves the engine's keys out, so no action reads or
overwrites them and a stored operation keeps its lease, its wait start and its acknowledged pause.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rds_maint.model import PROGRESS_KEYS, SCHEMA_VERSION, Operation, Step, StepProgress

WAIT_START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def _v1_step(**result: object) -> dict[str, object]:
    return {"id": "s02", "name": "create_temp_instance", "description": "d", "action": "create_temp_instance",
            "state": "waiting", "result": result}  # fmt: skip


def test_a_schema_1_step_moves_the_engine_keys_out_of_its_result() -> None:
    step = Step.model_validate(
        _v1_step(
            instance_id="orders-prod-tmp",
            wait_started_at=WAIT_START.isoformat(),
            poll_transition="create",
            poll_started_at=WAIT_START.isoformat(),
            lease_attempt="abc",
            lease_until="2026-01-05T02:15:00+00:00",
            busy_reason="AWS says busy",
            busy_since=WAIT_START.isoformat(),
            pause_acknowledged=True,
            attempt_started_at=WAIT_START.isoformat(),
        )
    )
    assert step.result == {"instance_id": "orders-prod-tmp"}
    assert step.progress == StepProgress(
        attempt_started_at=WAIT_START,
        lease_attempt="abc",
        lease_until=datetime(2026, 1, 5, 2, 15, tzinfo=UTC),
        wait_started_at=WAIT_START,
        poll_transition="create",
        poll_started_at=WAIT_START,
        busy_reason="AWS says busy",
        busy_since=WAIT_START,
        pause_acknowledged=True,
    )


def test_progress_already_stored_wins_over_a_stray_key_in_the_result() -> None:
    data = _v1_step(wait_started_at="2020-01-01T00:00:00+00:00")
    data["progress"] = {"wait_started_at": WAIT_START.isoformat()}
    step = Step.model_validate(data)
    assert step.progress.wait_started_at == WAIT_START and step.result == {}


def test_a_schema_1_operation_is_written_back_as_this_schema_with_progress_apart() -> None:
    op = Operation.model_validate(
        {
            "id": "op-1",
            "type": "instance_type_change",
            "cluster_id": "orders-prod",
            "region": "us-east-1",
            "parameters": {"target_instance_type": "db.r6g.xlarge"},
            "steps": [_v1_step(wait_started_at=WAIT_START.isoformat())],
            "created_at": WAIT_START.isoformat(),
            "updated_at": WAIT_START.isoformat(),
            "schema_version": 1,
        }
    )
    written = op.model_dump(mode="json")
    assert written["schema_version"] == SCHEMA_VERSION == 2
    assert written["steps"][0]["result"] == {}
    assert datetime.fromisoformat(written["steps"][0]["progress"]["wait_started_at"]) == WAIT_START
    again = Operation.model_validate(written)
    assert again.steps[0].progress.wait_started_at == WAIT_START
    assert not PROGRESS_KEYS & again.steps[0].result.keys()
