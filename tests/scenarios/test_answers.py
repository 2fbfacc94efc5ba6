"""Answers at a pause, as the person answering sees them: what each one does there, the green cluster to
check before a switchover, a rollback that cannot switch back refused until confirmed, and who answered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rds_maint.actor import STEP_FUNCTIONS_UNKNOWN, answering_actor
from rds_maint.cli import answers
from rds_maint.intervention import status_entries
from rds_maint.model import Operation, OperationState, Outcome
from rds_maint.progress import drive
from tests.helpers.upgrade import OLD, SOURCE, TARGET, create, request, seed
from tests.helpers.world import CLUSTER, World

NEW_CLASS = "db.r6g.xlarge"
WRITER = f"{CLUSTER}-instance-1"


def _paused_before_switchover(world: World) -> Operation:
    seed(world)
    op = create(world)
    world.engine.start(op.id)
    assert drive(world.engine, op.id, world.clock.sleep).outcome is Outcome.INTERVENTION
    paused = world.store.load(op.id)
    assert paused.current_step is not None and paused.current_step.name == "switchover"
    return paused


def _paused_after_switchover(world: World) -> Operation:
    op = _paused_before_switchover(world)
    assert world.engine.resume(op.id, "continue").outcome is Outcome.CONTINUE
    assert drive(world.engine, op.id, world.clock.sleep).outcome is Outcome.INTERVENTION
    paused = world.store.load(op.id)
    assert paused.current_step is not None and paused.current_step.name == "cleanup"
    return paused


def _answers_shown(output: str) -> str:
    """The part of the pause display that says what each answer does, on one line per answer."""
    part = output[output.index("What each answer does here:") : output.index("Answer with one of:")]
    return " ".join(part.split())


def _events(world: World, op_id: str) -> list[dict[str, Any]]:
    shown = world.cli(["events", op_id, "--output", "json"])
    assert shown.exit_code == 0, shown.output
    found: list[dict[str, Any]] = json.loads(shown.output)
    return found


def test_the_pause_before_a_switchover_says_what_each_answer_does_and_names_the_green_endpoints(
    world: World,
) -> None:
    op = _paused_before_switchover(world)
    green_id = op.steps[op.current_step_index - 1].result["green_cluster_id"]
    [green] = world.rds_client().describe_db_clusters(DBClusterIdentifier=green_id)["DBClusters"]

    shown = world.cli(["run", op.id])

    assert shown.exit_code == 3, shown.output
    assert f"check the green cluster {green_id}:" in shown.output
    assert f"writer endpoint: {green['Endpoint']}" in shown.output
    assert f"reader endpoint: {green['ReaderEndpoint']}" in shown.output
    answers = _answers_shown(shown.output)
    assert f"continue run step 'switchover': Switch over: green takes the name {CLUSTER}" in answers
    assert "(writes stop for about a minute)" in answers
    deployment = op.context["deployment_name"]
    assert f"abort stop here, then: delete the Blue/Green deployment {deployment} and green cluster {green_id}; " in (
        answers
    )
    assert f"{CLUSTER} stays on {SOURCE}, untouched" in answers
    assert "the operation ends failed (aborted)" in answers
    assert "mark_complete skip switchover, verify_proxies, cleanup, delete_old_cluster, verify and end" in answers
    assert f"the Blue/Green deployment and green cluster {green_id} are left as they are" in answers
    for action in ("continue", "abort", "rollback", "mark_complete"):
        assert f"rds-maint resume {op.id} --action {action}\n" in shown.output
    assert "switchover_blue_green" not in shown.output and "pause_before_steps" not in answers


def test_a_lasting_error_of_an_instance_type_change_says_what_each_answer_does_there(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": NEW_CLASS})
    world.sim.faults.fail("ModifyDBInstance", "InvalidDBInstanceState", message="busy", times=None)
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    temp = world.store.load(op.id).context["temp_instance_id"]

    shown = world.cli(["run", op.id])

    assert shown.exit_code == 3, shown.output
    answers = _answers_shown(shown.output)
    assert f"continue try step 'modify_class:{WRITER}' again (Change {WRITER} from db.r6g.large to {NEW_CLASS})" in (
        answers
    )
    assert f"abort stop here, then: make {WRITER} the writer again (if it is not); delete temp instance {temp}" in (
        answers
    )
    assert f"rollback stop here, then: if {WRITER} is the writer, fail over to " in answers
    assert f"change {WRITER} back to db.r6g.large" in answers and "the operation ends rolled_back" in answers
    assert f"rds-maint first fails back and deletes temp instance {temp} if it is still there" in answers
    assert "green cluster" not in shown.output


def test_a_rollback_after_the_switchover_is_explained_and_refused_until_confirmed(world: World) -> None:
    op = _paused_after_switchover(world)
    shown = world.cli(["run", op.id])
    assert "rollback stop here, then: rollback does NOT switch back" in _answers_shown(shown.output)
    assert f"rds-maint resume {op.id} --action rollback --confirm" in shown.output
    before, calls = world.store.load(op.id).model_dump(), len(world.mutating_calls())
    events_before = len(world.store.events(op.id))

    refused = world.cli(["resume", op.id, "--action", "rollback"])

    assert refused.exit_code == 2
    message = " ".join(refused.output.split())
    assert "rollback does NOT switch back (AWS cannot reverse a Blue/Green switchover)" in message
    assert f"{CLUSTER} stays on {TARGET} and keeps taking writes, the old blue cluster {OLD} is kept" in message
    assert "Nothing was changed; answer again with --confirm" in message
    assert world.store.load(op.id).model_dump() == before
    assert len(world.store.events(op.id)) == events_before and len(world.mutating_calls()) == calls

    accepted = world.cli(["resume", op.id, "--action", "rollback", "--confirm", "--comment", "app errors on 16"])

    assert accepted.exit_code == 0, accepted.output
    result = drive(world.engine, op.id, world.clock.sleep)
    assert result.outcome is Outcome.INTERVENTION
    assert result.pause_reason is not None and "Rollback after the switchover" in result.pause_reason
    [cluster] = world.rds_client().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]
    assert cluster["EngineVersion"] == TARGET, "nothing was switched back"
    assert world.rds_client().describe_db_clusters(DBClusterIdentifier=OLD)["DBClusters"], "the old cluster is kept"
    [asked] = [e for e in _events(world, op.id) if e["type"] == "operation_rollback"]
    assert asked["data"]["comment"] == "app errors on 16" and asked["actor"]


def test_through_the_lambda_an_unconfirmed_rollback_is_refused_and_the_operation_stays_paused(world: World) -> None:
    op = _paused_after_switchover(world)
    before = world.store.load(op.id).model_dump()

    refused = world.handler({"action": "resume", "operation_id": op.id, "params": {"action": "rollback"}})

    assert refused["error"] is not None and "rollback does NOT switch back" in refused["error"]
    assert '"confirm": true in the task output' in refused["error"]
    after = world.store.load(op.id).model_dump()
    assert {k: v for k, v in after.items() if k not in ("version", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("version", "updated_at")
    }
    [said] = [e for e in _events(world, op.id) if e["type"] == "answer_refused"]
    assert "rollback does NOT switch back" in said["message"] and said["actor"] == STEP_FUNCTIONS_UNKNOWN
    confirmed = world.handler(
        {"action": "resume", "operation_id": op.id, "params": {"action": "rollback", "confirm": True}}
    )
    assert confirmed["error"] is None and confirmed["operation_state"] == "rolling_back"


def test_every_answer_records_who_gave_it_and_their_comment(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": NEW_CLASS}, pause_before_steps=["failback"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION

    answered = world.cli(["resume", op.id, "--action", "continue", "--comment", "replica lag checked"])

    assert answered.exit_code == 0, answered.output
    [resumed] = [e for e in _events(world, op.id) if e["type"] == "operation_resumed"]
    # the IAM identity of the credentials (moto's STS answers for the fake ones the tests use)
    assert resumed["actor"].startswith("arn:aws:") and resumed["data"]["comment"] == "replica lag checked"


def test_answers_through_the_lambda_record_the_sender_or_say_it_is_unknown(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": NEW_CLASS}, pause_before_steps=["failback", "delete_temp_instance"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    alice = "arn:aws:sts::123456789012:assumed-role/sre/alice"
    said = {"action": "continue", "comment": "failback is fine", "actor": alice}  # as `rds-maint respond` sends it
    assert world.handler({"action": "resume", "operation_id": op.id, "params": said})["error"] is None
    assert drive(world.engine, op.id, world.clock.sleep).outcome is Outcome.INTERVENTION
    raw = {"action": "continue"}  # `aws stepfunctions send-task-success` by hand
    assert world.handler({"action": "resume", "operation_id": op.id, "params": raw})["error"] is None

    resumed = [e for e in _events(world, op.id) if e["type"] == "operation_resumed"]

    assert [(e["actor"], e["data"].get("comment")) for e in resumed] == [
        (alice, "failback is fine"),
        (STEP_FUNCTIONS_UNKNOWN, None),
    ]
    assert world.run(op.id).outcome is Outcome.COMPLETED


def test_the_status_event_of_a_pause_carries_what_each_answer_does(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": NEW_CLASS}, pause_before_steps=["failback"])
    world.run(op.id)
    paused = world.store.load(op.id)
    [pause_event] = [e for e in world.store.events(op.id) if e.type == "operation_paused"]

    [entry] = status_entries(paused, [pause_event])

    detail = json.loads(entry["Detail"])
    assert [a["action"] for a in detail["answers"]] == ["continue", "abort", "rollback", "mark_complete"]
    assert detail["answers"][0]["effect"] == (
        f"run step 'failback': Fail back cluster {CLUSTER} to the original writer {WRITER} (writes stop for about "
        "35 seconds)"
    )
    assert paused.state is OperationState.PAUSED


def test_an_unknown_answer_is_refused_by_the_shell_choice_and_help_has_an_example(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": NEW_CLASS}, pause_before_steps=["failback"])
    world.run(op.id)
    before = world.store.load(op.id).model_dump()

    refused = world.cli(["resume", op.id, "--action", "skip"])

    assert refused.exit_code == 2 and "'skip' is not one of 'continue', 'abort', 'rollback', 'mark_complete'" in (
        refused.output
    )
    assert world.store.load(op.id).model_dump() == before
    for command in ("resume", "respond"):
        helped = world.cli([command, "--help"])
        assert f"rds-maint {command} op-1a2b3c --action" in helped.output


def test_the_actor_is_the_os_user_when_no_identity_resolves() -> None:
    def no_credentials() -> Any:
        raise RuntimeError("Unable to locate credentials")

    class Sts:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Arn": "arn:aws:iam::123456789012:user/bob"}

    local = answering_actor(None)
    assert "@" in local and not local.startswith("arn:")
    assert answering_actor(no_credentials) == local
    assert answering_actor(Sts) == "arn:aws:iam::123456789012:user/bob"


@pytest.fixture(autouse=True)
def _wide_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pause display wraps to the terminal; the assertions read it unwrapped at the usual 80 columns."""
    monkeypatch.setenv("COLUMNS", "80")


def test_on_a_terminal_a_rollback_after_the_switchover_is_explained_and_asked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = _paused_after_switchover(world)
    before = world.store.load(op.id).model_dump()
    monkeypatch.setattr(answers, "on_terminal", lambda: True)

    declined = world.cli(["resume", op.id, "--action", "rollback"], input="n\n")

    assert declined.exit_code == 2 and "rollback not confirmed; nothing was changed" in declined.output
    assert "rollback does NOT switch back" in declined.output and "Go ahead with rollback? [y/N]" in declined.output
    assert world.store.load(op.id).model_dump() == before
    accepted = world.cli(["resume", op.id, "--action", "rollback"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert world.store.load(op.id).unwind == "rollback"


def test_after_the_old_cluster_is_deleted_the_answers_do_not_promise_it_is_kept(world: World) -> None:
    seed(world)
    params = {"target_engine_version": TARGET, "pause_before_switchover": False, "pause_before_cleanup": False}
    op = world.engine.create(request(params, pause_before_steps=["verify"]))
    world.engine.start(op.id)
    assert drive(world.engine, op.id, world.clock.sleep).outcome is Outcome.INTERVENTION

    answers = _answers_shown(world.cli(["run", op.id]).output)

    assert f"nothing is switched back: {CLUSTER} stays on {TARGET}, the old blue cluster {OLD} is deleted" in answers
    assert f"the old blue cluster {OLD} is deleted or being deleted: going back means restoring its final snapshot" in (
        answers
    )
    assert "is kept" not in answers
