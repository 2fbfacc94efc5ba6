"""The project's own state machine, run in moto's Step Functions interpreter against the real engine.

The harness is `sfn_harness.machine` (bench/sfn_history.py runs it too):
`sfn/rds-maint-machine.asl.json` runs as written (only `${LambdaArn}` substituted). Every Task
invokes moto's simple Lambda backend, whose `invoke` is routed in-process to a handler of
`rds_maint.lambda_handler.make_handler`: the real engine on the simulated Aurora, a file store and the
virtual clock (the harness's engine factory). moto's EventBridge delivers the machine's
`InterventionRequired` notices and the Lambda's `OperationStatusChanged` events to SQS queues the
tests read, and to the engine Lambda through the template's own rule and input transformer.
Operators answer with `send_task_success` / `send_task_failure` or `rds-maint respond`.

Time: the Wait states advance the virtual clock by the seconds the engine asked for and return at
once, and so do the retriers' back-off sleeps; when a test asks, a notice's `TimeoutSecondsPath`
is scaled from virtual to real time (60 s -> 0.3 s). Nothing in the ASL is edited. The moto gaps
worked around (never in the ASL) are listed in the harness module.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from rds_maint.model import OperationState
from sfn_harness import machine
from tests.helpers.artifacts import DETAIL_KEYS, RESUME_ACTIONS
from tests.helpers.campaign_sfn import machine_harness
from tests.helpers.fake_rds import store_root
from tests.helpers.world import CLUSTER, REGION, World

JsonDict = dict[str, Any]
Harness: TypeAlias = machine.Harness[World]
SFN_DIR = Path(__file__).resolve().parents[2] / "sfn"  # the ASL and the template, as shipped

TARGET_CLASS = "db.r6g.xlarge"
NEW_OPERATION: JsonDict = {
    "params": {
        "type": "instance_type_change",
        "cluster_id": CLUSTER,
        "region": REGION,
        "params": {"target_instance_type": TARGET_CLASS},
    }
}


@pytest.fixture
def sfn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serialised_aws: None) -> Iterator[Harness]:
    """moto with the interpreter on, the simulated Aurora, a file store, the engine Lambda, the
    template's intervention rule and two SQS queues (operators, status events). The interpreter
    runs executions in threads: `serialised_aws` makes each moto request atomic, as AWS does."""

    with store_root(tmp_path) as root, machine_harness(root, monkeypatch) as harness:  # the store in RAM, as `world`'s
        yield harness


def seed(world: World) -> list[str]:
    return world.sim.seed_cluster(
        CLUSTER, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=2
    )


def assert_changed(world: World) -> None:
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == f"{CLUSTER}-instance-1"
    assert {m.instance_class for m in view.members.values()} == {TARGET_CLASS}
    assert len(view.members) == 3, "the temp instance is gone"


def only_operation(world: World) -> str:
    [op] = world.store.list_operations()
    return op.id


# ------------------------------------------------------------------------------ tests


def entered(history: list[JsonDict], state: str) -> list[int]:
    return [
        i
        for i, event in enumerate(history)
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == state
    ]


def cli(harness: Harness, *args: str) -> Any:
    return harness.world.cli([*args, "--store", harness.world.store_url, "--region", REGION])


def test_a_full_instance_type_change_execution_succeeds_and_tells_apps_around_failovers(sfn: Harness) -> None:
    seed(sfn.world)
    arn = sfn.start(NEW_OPERATION)
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["operation_state"] == "completed" and output["completed"] is True
    assert_changed(sfn.world)
    op = sfn.world.store.load(output["operation_id"])
    assert op.state is OperationState.COMPLETED
    assert sfn.actions()[:3] == ["create", "start", "step"]
    assert sum(sfn.waits) > 1800, "the Waits used the engine's wait_seconds (virtual minutes of Aurora work)"

    history = sfn.history(arn)
    transitions = len([e for e in history if e["type"].endswith("StateEntered")])
    iterations = sorted(entered(history, "CountStep") + entered(history, "CountPoll"))
    per_iteration = max(b - a for a, b in itertools.pairwise(iterations))
    assert per_iteration <= 11, f"a loop iteration costs {per_iteration} history events"
    # every Lambda call of an iteration may be retried 6 times (3 events each): 800 iterations must still fit
    assert 800 * (per_iteration + 6 * 3) <= 25_000 - 500, "max_iterations 800 must leave room in the history"
    assert len(history) < 1000, "a whole class change fits one execution many times over"
    # The figures the project reports (pytest -s shows them).
    print(
        f"\n[full instance_type_change in moto: {len(history)} history events, {transitions} state transitions, "
        f"{len(sfn.invocations)} Lambda invocations, {len(sfn.waits)} Wait states]"
    )

    status = sfn.status_events()
    assert all(e["operation_id"] == op.id and e["cluster_id"] == CLUSTER for e in status)
    assert all(len(json.dumps(e)) < 2048 for e in status), "ids and a short message, not the operation"
    kinds = [e["event"] for e in status]
    assert kinds[:2] == ["operation_created", "operation_started"] and kinds[-1] == "operation_completed"
    for step in ("failover_to_temp", "failback"):
        around = [e["event"] for e in status if e["step_name"] == step]
        assert around == ["disruption_starting", "failover_requested", "disruption_finished"], (step, around)
    starting = [e for e in status if e["event"] == "disruption_starting"]
    temp, original = (e["data"]["target"] for e in starting)
    assert original == f"{CLUSTER}-instance-1" and temp not in sfn.world.sim.cluster_view(CLUSTER).members
    assert all(e["state"] == "running" and e["step_action"] == "failover" for e in starting)


def test_a_lasting_error_notifies_with_every_key_and_continue_completes(sfn: Harness) -> None:
    seed(sfn.world)
    sfn.world.sim.faults.fail("ModifyDBInstance", "InternalFailure", "We encountered an internal error.", None, 500)
    arn = sfn.start(NEW_OPERATION)
    detail = sfn.notice(arn)
    assert set(detail) >= DETAIL_KEYS
    op_id = detail["operation_id"]
    assert detail["cluster_id"] == CLUSTER
    assert detail["allowed_actions"] == RESUME_ACTIONS
    assert detail["step_name"].startswith("modify_class") and isinstance(detail["step_index"], int)
    assert "kept failing" in detail["pause_reason"] and "InternalFailure" in detail["pause_reason"]
    assert detail["execution_arn"] == arn and detail["notice"] == 1
    stored = sfn.world.store.load(op_id)
    assert stored.state is OperationState.PAUSED
    assert stored.intervention is not None, "the rule's input transformer fed record_intervention"
    assert stored.intervention.task_token == detail["task_token"]
    assert stored.intervention.execution_arn == arn
    assert stored.intervention.step_name == detail["step_name"]

    [message] = sfn.messages  # what the SNS topic's subscribers read
    assert detail["task_token"] not in message, "the task token is a bearer credential: not in e-mail"
    assert f"operation {op_id} on cluster {CLUSTER} is paused at step {detail['step_index']}" in message
    assert detail["step_name"] in message and detail["pause_reason"] in message
    assert "continue, abort, rollback, mark_complete" in message
    respond = f"rds-maint respond {op_id} --action continue --store {sfn.world.store_url} --region {REGION}"
    assert respond in message
    assert arn in message and "Notice 1 " in message

    sfn.world.sim.faults.clear("ModifyDBInstance")
    sfn.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert_changed(sfn.world)
    final = sfn.world.store.load(op_id)
    assert final.state is OperationState.COMPLETED and final.intervention is None


def test_send_task_failure_aborts_and_the_store_says_so(sfn: Harness) -> None:
    seed(sfn.world)
    start = {"params": {**NEW_OPERATION["params"], "pause_before_steps": [f"modify_class:{CLUSTER}-instance-1"]}}
    arn = sfn.start(start)
    detail = sfn.notice(arn)
    assert "Paused before step" in detail["pause_reason"]
    sfn.sfn.send_task_failure(taskToken=detail["task_token"], error="OperationAborted", cause="change window closed")
    done = sfn.wait_done(arn)
    assert done["status"] == "FAILED" and done["error"] == "OperationAborted", done
    op = sfn.world.store.load(detail["operation_id"])
    assert op.state is OperationState.FAILED
    assert op.error is not None and "aborted by operator" in op.error
    assert "fail" not in sfn.actions(), "a finished abort needs no failure record"
    view = sfn.world.sim.cluster_view(CLUSTER)
    assert view.writer == f"{CLUSTER}-instance-1" and len(view.members) == 3
    kinds = [e["event"] for e in sfn.status_events()]
    assert kinds.index("operation_abort") < kinds.index("disruption_starting", kinds.index("operation_abort"))
    assert kinds[-1] == "operation_failed", "the clean-up fails back to the original writer, then ends failed"


def test_resume_by_operation_id_of_a_created_operation_retries_lambda_service_errors(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS})
    sfn.service_errors["start"] = 2
    arn = sfn.start({"operation_id": op.id})
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert sfn.actions()[:4] == ["status", "start", "start", "start"]
    failures = [e for e in sfn.history(arn) if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == ["Lambda.ServiceException"] * 2
    assert len(sfn.backoffs) == 2 and all(0 <= b <= 4 for b in sfn.backoffs), "full jitter: 0..2, 0..4"
    assert sfn.world.store.load(op.id).state is OperationState.COMPLETED
    assert_changed(sfn.world)


def test_a_lambda_error_is_retried_then_recorded_and_a_new_execution_resumes(sfn: Harness) -> None:
    seed(sfn.world)
    sfn.service_errors["poll"] = 7  # the first attempt and all 6 retries
    arn = sfn.start(NEW_OPERATION)
    done = sfn.wait_done(arn)
    assert done["status"] == "FAILED" and done["error"] == "Lambda.ServiceException", done
    assert sfn.actions().count("poll") == 7 and sfn.actions()[-1] == "fail"
    assert len(sfn.backoffs) == 6
    op_id = only_operation(sfn.world)
    op = sfn.world.store.load(op_id)
    assert op.state is OperationState.PAUSED, "the store must not say running for a dead execution"
    assert op.pause_reason is not None and "Lambda.ServiceException" in op.pause_reason
    assert f'{{"operation_id": "{op_id}"}}' in op.pause_reason
    assert any(e.type == "execution_failed" for e in sfn.world.store.events(op_id))

    again = sfn.start({"operation_id": op_id, "cluster_id": CLUSTER}, name="run-2")
    detail = sfn.notice(again)
    assert detail["operation_id"] == op_id and "execution failed" in detail["pause_reason"]
    sfn.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
    assert sfn.wait_done(again)["status"] == "SUCCEEDED"
    assert_changed(sfn.world)


def test_a_paused_operation_resumed_by_id_is_answered_with_rds_maint_respond(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback"])
    assert sfn.world.run(op.id).outcome.value == "intervention"
    arn = sfn.start({"operation_id": op.id, "cluster_id": CLUSTER})
    detail = sfn.notice(arn)
    assert detail["operation_id"] == op.id and detail["step_name"] == "failback"
    assert sfn.actions()[0] == "status" and "step" not in sfn.actions()

    status = cli(sfn, "status", op.id)
    assert arn in status.output and f"rds-maint respond {op.id}" in status.output
    assert detail["task_token"] not in status.output, "the task token is a bearer credential"
    as_json = cli(sfn, "status", op.id, "--output", "json")
    assert detail["task_token"] not in as_json.output
    assert json.loads(as_json.output)["operation"]["intervention"]["execution_arn"] == arn

    bad = cli(sfn, "respond", op.id, "--action", "carry_on")
    assert bad.exit_code == 2
    assert "'carry_on' is not one of 'continue', 'abort', 'rollback', 'mark_complete'" in bad.output
    answered = cli(sfn, "respond", op.id, "--action", "continue", "--comment", "lag is fine")
    assert answered.exit_code == 0, answered.output
    assert detail["task_token"] not in answered.output
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert_changed(sfn.world)
    final = sfn.world.store.load(op.id)
    assert final.intervention is None
    assert any("lag is fine" in e.message for e in sfn.world.store.events(op.id))
    again = cli(sfn, "respond", op.id, "--action", "continue")
    assert again.exit_code == 2 and "is completed: no intervention is pending" in again.output


def test_an_unanswered_notice_is_sent_again(sfn: Harness) -> None:
    seed(sfn.world)
    start = {"params": {**NEW_OPERATION["params"], "pause_before_steps": ["failback"]}, "intervention_timeout": 60}
    sfn.short_notice_timeouts = 1  # the first notice's 60 s pass in 0.3 s; the second one waits
    arn = sfn.start(start)
    first = sfn.notice(arn)
    second = sfn.notice(arn, number=2)
    assert second["notice"] == 2 and second["task_token"] != first["task_token"]
    assert second["pause_reason"] == first["pause_reason"]
    op_id = first["operation_id"]
    history = sfn.history(arn)
    assert any(e["type"] == "TaskTimedOut" for e in history), "the first notice timed out"
    assert "fail" not in sfn.actions(), "a timeout never fails a half-done operation"
    pending = sfn.world.store.load(op_id).intervention
    assert pending is not None and pending.notifications == 2 and pending.task_token == second["task_token"]
    assert any(e.type == "intervention_requested" and "notice 2" in e.message for e in sfn.world.store.events(op_id))

    assert cli(sfn, "respond", op_id, "--action", "continue").exit_code == 0
    assert sfn.wait_done(arn)["status"] == "SUCCEEDED"
    assert_changed(sfn.world)


def test_the_hand_off_continues_the_same_operation_in_fresh_executions(sfn: Harness) -> None:
    seed(sfn.world)
    arn = sfn.start({**NEW_OPERATION, "max_iterations": 12})
    chain = [arn]
    while True:
        done = sfn.wait_done(chain[-1])
        assert done["status"] == "SUCCEEDED", done
        output = json.loads(done["output"])
        if "execution_arn" not in output:
            break
        chain.append(output["execution_arn"])
    assert output["operation_state"] == "completed"
    op_id = output["operation_id"]
    assert len(chain) >= 3
    assert [a.rsplit(":", 1)[1] for a in chain[1:]] == [f"{op_id}-{n}" for n in range(1, len(chain))]
    child_input = json.loads(sfn.describe(chain[1])["input"])
    assert child_input["operation_id"] == op_id and child_input["max_iterations"] == 12
    assert sfn.actions().count("create") == 1
    assert sfn.actions().count("status") == len(chain) - 1, "each fresh execution reads the operation first"
    assert_changed(sfn.world)


def test_start_execution_from_the_cli_reports_the_running_execution_instead_of_racing(sfn: Harness) -> None:
    seed(sfn.world)
    flags = [
        "--type",
        "instance_type_change",
        "--cluster",
        CLUSTER,
        "--param",
        f"target_instance_type={TARGET_CLASS}",
        "--pause-before",
        "failback",
        "--state-machine-arn",
        sfn.machine_arn,
        "--yes",
    ]
    started = cli(sfn, "start-execution", *flags, "--output", "json")
    assert started.exit_code == 0, started.output
    first = json.loads(started.output)
    # the operation was created here, as planned, and the execution drives it by id
    [op] = sfn.world.store.list_operations()
    assert op.pause_before_steps == ["failback"]
    assert first["started"] is True and first["name"] == f"{op.id}-1"
    assert first["input"] == {"operation_id": op.id, "cluster_id": CLUSTER, "handoff": 1}
    detail = sfn.notice(first["execution_arn"])
    op_id = detail["operation_id"]
    assert op_id == op.id

    twice = cli(sfn, "start-execution", *flags)
    assert twice.exit_code == 0 and "already running" in twice.output and first["execution_arn"] in twice.output, (
        twice.output
    )
    by_id = cli(sfn, "start-execution", op_id, "--state-machine-arn", sfn.machine_arn)
    assert by_id.exit_code == 0 and "already running" in by_id.output, by_id.output
    other = [*flags[:5], "target_instance_type=db.r6g.2xlarge", *flags[6:]]
    assert len(sfn.world.store.list_operations()) == 1, "a second start wrote nothing"
    busy = cli(sfn, "start-execution", *other)
    assert busy.exit_code == 1 and f"cluster {CLUSTER} is busy" in busy.output, busy.output
    listed: Any = sfn.sfn.list_executions(stateMachineArn=sfn.machine_arn)
    assert len(listed["executions"]) == 1, "nothing raced the running execution"

    assert cli(sfn, "respond", op_id, "--action", "continue").exit_code == 0
    assert sfn.wait_done(first["execution_arn"])["status"] == "SUCCEEDED"
    over = cli(sfn, "start-execution", op_id, "--state-machine-arn", sfn.machine_arn)
    assert over.exit_code == 2 and "is completed; there is nothing left to drive" in over.output
    for bad, message in (
        (["--max-iterations", "0"], "--max-iterations must be between 1 and 800"),
        (["--intervention-timeout", "5"], "--intervention-timeout must be between 60"),
    ):
        refused = cli(sfn, "start-execution", *flags, *bad)
        assert refused.exit_code == 2 and message in refused.output, refused.output
    no_arn = cli(sfn, "start-execution", *flags[:-3], "--yes")
    assert no_arn.exit_code == 2 and "--state-machine-arn is required" in no_arn.output


def test_start_execution_applies_a_saved_plan_as_planned(sfn: Harness, tmp_path: Path) -> None:
    seed(sfn.world)
    plan_file = tmp_path / "plan.json"
    request = [
        "--type",
        "instance_type_change",
        "--cluster",
        CLUSTER,
        "--param",
        f"target_instance_type={TARGET_CLASS}",
    ]
    assert cli(sfn, "plan", *request, "--out", str(plan_file)).exit_code == 0
    saved = json.loads(plan_file.read_text())

    flags = ["--plan", str(plan_file), "--yes", "--state-machine-arn", sfn.machine_arn, "--output", "json"]
    started = cli(sfn, "start-execution", *flags)

    assert started.exit_code == 0, started.output
    report = json.loads(started.output)
    assert report["name"] == f"{saved['operation_id']}-1"
    assert sfn.wait_done(report["execution_arn"])["status"] == "SUCCEEDED"
    op = sfn.world.store.load(saved["operation_id"])
    assert [s.parameters for s in op.steps] == [s["parameters"] for s in saved["steps"]]
    assert_changed(sfn.world)
    again = cli(sfn, "start-execution", *flags)
    assert again.exit_code == 2 and f"operation '{op.id}' already exists" in again.output, again.output


def test_start_execution_resumes_an_operation_under_the_next_name_and_a_used_token_is_refused(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback"])
    sfn.world.run(op.id)
    resumed = cli(sfn, "start-execution", op.id, "--state-machine-arn", sfn.machine_arn, "--output", "json")
    report = json.loads(resumed.output)
    assert report["started"] is True and report["name"] == f"{op.id}-1"
    assert report["input"] == {"operation_id": op.id, "cluster_id": CLUSTER, "handoff": 1}
    sfn.notice(report["execution_arn"])

    sfn.service_errors["resume"] = 7  # the answer arrives, but the engine Lambda is down
    assert cli(sfn, "respond", op.id, "--action", "continue").exit_code == 0
    failed = sfn.wait_done(report["execution_arn"])
    assert failed["status"] == "FAILED" and failed["error"] == "Lambda.ServiceException", failed
    assert sfn.world.store.load(op.id).state is OperationState.PAUSED

    stale = cli(sfn, "respond", op.id, "--action", "continue")  # that token was used by the dead execution
    assert stale.exit_code == 1 and "is no longer valid" in stale.output, stale.output
    assert re.search(r"\*\*\*\*\S{6} \(\d+ chars\)", stale.output), "the token is shown masked"

    again = cli(sfn, "start-execution", op.id, "--state-machine-arn", sfn.machine_arn, "--output", "json")
    second = json.loads(again.output)
    assert second["started"] is True and second["name"] == f"{op.id}-2" and second["input"]["handoff"] == 2
    sfn.notice(second["execution_arn"], number=2)
    assert cli(sfn, "respond", op.id, "--action", "continue").exit_code == 0
    assert sfn.wait_done(second["execution_arn"])["status"] == "SUCCEEDED"
    assert_changed(sfn.world)


def test_a_local_resume_of_an_operation_an_execution_waits_on_answers_through_the_execution(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback"])
    assert sfn.world.run(op.id).outcome.value == "intervention"
    arn = sfn.start({"operation_id": op.id, "cluster_id": CLUSTER})
    detail = sfn.notice(arn)

    status = cli(sfn, "status", op.id)
    respond_at = status.output.index(f"rds-maint respond {op.id} --action continue")
    assert f"rds-maint resume {op.id} --action" not in status.output[:respond_at], "respond comes first"
    before = sfn.world.store.load(op.id)

    ran = cli(sfn, "run", op.id)  # a local run shows the pause and how to answer it; it takes nothing over
    assert ran.exit_code == 3, ran.output
    assert f"rds-maint respond {op.id} --action continue" in ran.output
    assert sfn.world.store.load(op.id).version == before.version
    assert sfn.describe(arn)["status"] == "RUNNING"

    resumed = cli(sfn, "resume", op.id, "--action", "continue", "--comment", "checked by hand", "--run")
    assert resumed.exit_code == 0, resumed.output
    assert "through its Step Functions execution" in resumed.output and arn in resumed.output
    assert detail["task_token"] not in resumed.output
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert "resume" in sfn.actions(), "the execution's Lambda took the answer, not a local driver"
    assert_changed(sfn.world)
    final = sfn.world.store.load(op.id)
    assert final.state is OperationState.COMPLETED and final.intervention is None
    assert any("checked by hand" in e.message for e in sfn.world.store.events(op.id))


def test_a_local_resume_answers_here_once_the_execution_that_recorded_the_token_has_ended(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback"])
    sfn.world.run(op.id)
    arn = sfn.start({"operation_id": op.id, "cluster_id": CLUSTER})
    sfn.notice(arn)
    sfn.service_errors["resume"] = 7  # the answer arrives, but the engine Lambda is down: the execution fails
    assert cli(sfn, "respond", op.id, "--action", "continue").exit_code == 0
    assert sfn.wait_done(arn)["status"] == "FAILED"
    assert sfn.world.store.load(op.id).intervention is not None, "the dead execution's token is still recorded"

    resumed = cli(sfn, "resume", op.id, "--action", "continue", "--run")
    assert resumed.exit_code == 0, resumed.output
    assert "nobody waits for the answer" in resumed.output
    assert sfn.world.store.load(op.id).state is OperationState.COMPLETED
    assert_changed(sfn.world)


@pytest.mark.parametrize(
    ("operation", "error_type", "error_name"),
    [
        ("CreateDBInstance", None, "Lambda.Unknown"),  # the temp instance was created, then the function died
        ("FailoverDBCluster", "Sandbox.Timedout", "Sandbox.Timedout"),  # the failover to the temp was asked for
    ],
)
def test_a_lambda_that_dies_right_after_a_mutating_call_is_retried_and_the_execution_succeeds(
    sfn: Harness, operation: str, error_type: str | None, error_name: str
) -> None:
    seed(sfn.world)
    sfn.world.sim.faults.crash_after(operation, times=1)
    sfn.death_error_type = error_type
    arn = sfn.start(NEW_OPERATION)
    done = sfn.wait_done(arn)
    assert done["status"] == "SUCCEEDED", done
    assert sfn.deaths == 1
    failures = [e for e in sfn.history(arn) if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == [error_name]
    assert len(sfn.backoffs) == 1 and 0 <= sfn.backoffs[0] <= 2, "retried after a full-jitter back-off"

    assert_changed(sfn.world)  # the original writer writes again, every member on the new class, no temp
    applied = sfn.world.sim.applied_calls(operation)
    if operation == "CreateDBInstance":
        assert len(applied) == 1, "the temp instance was created once: the retry found it"
    else:
        targets = [c.params.get("TargetDBInstanceIdentifier") for c in applied]
        assert len(targets) == 2 and len(set(targets)) == 2, f"one failover to the temp, one back: {targets}"
    op_id = only_operation(sfn.world)
    events = [e.type for e in sfn.world.store.events(op_id)]
    assert "lease_expired" in events, "the dead attempt's lease ran out before the step ran again"
    assert sfn.world.store.load(op_id).state is OperationState.COMPLETED
    assert "fail" not in sfn.actions() and sfn.drain("interventions") == [], "no person was needed"


def test_answers_through_the_execution_record_who_sent_them(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create(
        {"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback", "delete_temp_instance"]
    )
    assert sfn.world.run(op.id).outcome.value == "intervention"
    arn = sfn.start({"operation_id": op.id, "cluster_id": CLUSTER})
    sfn.notice(arn)
    assert cli(sfn, "respond", op.id, "--action", "continue", "--comment", "failback checked").exit_code == 0
    raw = sfn.notice(arn, number=2)
    sfn.sfn.send_task_success(taskToken=raw["task_token"], output=json.dumps({"action": "continue"}))
    assert sfn.wait_done(arn)["status"] == "SUCCEEDED"

    resumed = [e for e in sfn.world.store.events(op.id) if e.type == "operation_resumed"]

    # `respond` names the IAM identity of its credentials (moto's STS here); a bare send-task-success cannot
    assert (resumed[0].actor or "").startswith("arn:aws:sts::")
    assert resumed[0].data["comment"] == "failback checked"
    assert resumed[1].actor == "Step Functions task answer (identity unknown)"


def test_an_abort_sent_with_respond_ends_the_execution_aborted_and_names_who_sent_it(sfn: Harness) -> None:
    seed(sfn.world)
    op = sfn.world.create({"target_instance_type": TARGET_CLASS}, pause_before_steps=["failback"])
    assert sfn.world.run(op.id).outcome.value == "intervention"
    arn = sfn.start({"operation_id": op.id, "cluster_id": CLUSTER})
    sfn.notice(arn)

    assert cli(sfn, "respond", op.id, "--action", "abort", "--comment", "window closed").exit_code == 0

    done = sfn.wait_done(arn)
    assert done["status"] == "FAILED" and done["error"] == "OperationAborted", done
    assert sfn.world.store.load(op.id).state is OperationState.FAILED
    [aborted] = [e for e in sfn.world.store.events(op.id) if e.type == "operation_abort"]
    assert (aborted.actor or "").startswith("arn:aws:sts::") and aborted.data["comment"] == "window closed"
