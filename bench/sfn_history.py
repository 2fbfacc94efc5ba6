"""Step Functions figures counted from real execution histories: the project's ASL in moto's interpreter.

Plain script, no assertions. Each run starts ONE execution of `sfn/rds-maint-machine.asl.json` in
moto's Step Functions interpreter (`sfn_harness.machine`: the engine Lambda in-process on the
simulated Aurora, Wait states on the virtual clock), answers the plan's own pauses (before a
switchover, before the clean-up) with `send_task_success` continue as a person would, follows the
hand-off child executions (`<operation_id>-<n>`) to the end, and reads every execution's history.

Counting rules:
- state transitions: one per state entered (the `*StateEntered` history events). That is what AWS
  bills for a Standard workflow ($0.025 per 1,000); AWS bills retries as transitions too, and these
  runs have none (no faults are injected);
- Lambda invocations: the Task invocations of the engine function (`LambdaFunctionScheduled`
  events), and apart from them the ones EventBridge delivers (the intervention rule's
  `record_intervention`, not in any history);
- history events: per execution, against the 25,000-event cap of a Standard execution; the machine
  hands off to a fresh execution after `max_iterations` loop iterations (default 800).

`python bench/sfn_history.py` prints a markdown table; `measure()` returns the runs as dataclasses
(bench/ is on sys.path for the scripts there: `from sfn_history import measure`).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scenarios import OPERATIONS, POLICIES, REGION, SFN_TRANSITION, UPGRADE, Scenario, table

from rds_maint.engine import Engine
from rds_maint.lambda_handler import make_handler
from rds_sim.blue_green import BlueGreenDurations
from sfn_harness.machine import Harness, Patches, SimWorld, machine_in_moto, serialise_aws, sim_world

EVENT_LIMIT = 25_000
DEFAULT_MAX_ITERATIONS = 800  # the ASL's Defaults state
# The states that count loop iterations toward max_iterations, and by how much (a notice round trip counts 3).
LOOP_STATES = {"CountStep": 1, "CountPoll": 1, "CountNotify": 3}
ASL_PATH = Path(__file__).resolve().parent.parent / "sfn" / "rds-maint-machine.asl.json"
TEMPLATE_PATH = ASL_PATH.parent / "template.yaml"
ASL_MAX_RETRIES = max(  # the largest MaxAttempts of any Retry in the ASL
    int(retrier.get("MaxAttempts", 3))
    for state in json.loads(ASL_PATH.read_text(encoding="utf-8"))["States"].values()
    for retrier in state.get("Retry", [])
)
RETRY_EVENTS = 3  # a retried Lambda attempt: Scheduled, Started, Failed (measured), unseen by the loop count


@dataclass(frozen=True)
class ExecutionStats:
    """One execution of the chain, from its history."""

    name: str
    status: str
    events: int
    transitions: int
    lambda_tasks: int
    waits: int
    iterations: int  # loop iterations, as the machine counts them toward max_iterations
    max_events_per_iteration: float  # history events per counted iteration, at most
    overhead: int  # events outside the counted iterations: before the first and from the last one on


@dataclass
class SfnRun:
    scenario: str
    policy: str
    max_iterations: int
    executions: list[ExecutionStats]
    lambda_delivered: int  # engine invocations EventBridge delivered (record_intervention)
    lambda_seen: int  # every engine invocation the harness saw (Tasks + deliveries): a cross-check
    answered: int  # notices answered with continue
    virtual_seconds: float
    wall_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def chain(self) -> int:
        return len(self.executions)

    @property
    def largest(self) -> int:
        return max(e.events for e in self.executions)

    @property
    def total_events(self) -> int:
        return sum(e.events for e in self.executions)

    @property
    def transitions(self) -> int:
        return sum(e.transitions for e in self.executions)

    @property
    def lambda_tasks(self) -> int:
        return sum(e.lambda_tasks for e in self.executions)

    @property
    def waits(self) -> int:
        return sum(e.waits for e in self.executions)

    @property
    def max_events_per_iteration(self) -> float:
        return max(e.max_events_per_iteration for e in self.executions)

    def bound(self, max_iterations: int = DEFAULT_MAX_ITERATIONS) -> int:
        """The largest history an execution of this run could reach before its hand-off, without retries."""
        overhead = max(e.overhead for e in self.executions)
        return overhead + round(max_iterations * self.max_events_per_iteration)

    @property
    def within_limit(self) -> bool:
        return self.largest <= EVENT_LIMIT

    @property
    def verdict(self) -> str:
        share = 100 * self.largest / EVENT_LIMIT
        return f"ok ({share:.1f} % of 25,000)" if self.within_limit else f"OVER by {self.largest - EVENT_LIMIT}"

    @property
    def sfn_dollars(self) -> float:
        return self.transitions * SFN_TRANSITION


def execution_stats(name: str, status: str, history: list[dict[str, Any]]) -> ExecutionStats:
    entered = [e for e in history if str(e["type"]).endswith("StateEntered")]
    loops = [
        (i, LOOP_STATES[e["stateEnteredEventDetails"]["name"]])
        for i, e in enumerate(history)
        if str(e["type"]).endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] in LOOP_STATES
    ]
    per_iteration = [(b - a) / weight for (a, weight), (b, _) in itertools.pairwise(loops)]
    overhead = (loops[0][0] + len(history) - loops[-1][0]) if loops else len(history)
    return ExecutionStats(
        name=name,
        status=status,
        events=len(history),
        transitions=len(entered),
        lambda_tasks=sum(1 for e in history if e["type"] == "LambdaFunctionScheduled"),
        waits=sum(1 for e in history if e["type"] == "WaitStateEntered"),
        iterations=sum(weight for _, weight in loops),
        max_events_per_iteration=max(per_iteration, default=0.0),
        overhead=overhead,
    )


@contextmanager
def _fake_aws_env() -> Iterator[None]:
    keys = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {k: os.environ.get(k) for k in [*keys, "AWS_PROFILE"]}
    os.environ.update(keys)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _drive(harness: Harness[SimWorld], arn: str, scenario: Scenario, timeout: float) -> tuple[list[str], int]:
    """Run the chain to its end: answer the plan's pauses, follow hand-offs. The execution ARNs and answers."""
    chain, answered, seen = [arn], 0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = harness.describe(chain[-1])
        if described["status"] == "RUNNING":
            notices = harness.drain("interventions")
            for notice in notices[seen:]:
                detail = notice["detail"]
                reason = str(detail.get("pause_reason") or "")
                if not (scenario.answer_pauses and reason.startswith("Paused before step")):
                    raise SystemExit(f"{scenario.name}: the operation needs a person: {reason}")
                harness.sfn.send_task_success(taskToken=detail["task_token"], output=json.dumps({"action": "continue"}))
                answered += 1
            seen = len(notices)
            time.sleep(0.01)
            continue
        if described["status"] != "SUCCEEDED":
            raise SystemExit(f"{scenario.name}: execution {chain[-1]} ended {described['status']}: {described}")
        output = json.loads(described["output"])
        if "execution_arn" in output:  # HandedOff: the operation goes on in <operation_id>-<n>
            chain.append(output["execution_arn"])
            continue
        if output.get("operation_state") != "completed":
            raise SystemExit(f"{scenario.name}: the operation ended {output.get('operation_state')}: {output}")
        return chain, answered
    raise SystemExit(
        f"{scenario.name}: still running after {timeout:.0f} s of wall time; calls {harness.actions()[-8:]}"
    )


def run_one(scenario: Scenario, policy_label: str, timeout: float = 300) -> SfnRun:
    """One execution chain of the scenario in moto, under one polling policy."""
    policy = POLICIES[policy_label]
    wall_start = time.monotonic()
    with (
        _fake_aws_env(),
        Patches() as patches,
        tempfile.TemporaryDirectory() as tmp,
    ):
        serialise_aws(patches)

        def same_ids(engine: Engine) -> None:
            # the scenario's operation id (as bench/operation_cost.py uses it): the temp instance name, and
            # so the simulator's seeded durations, are the same under either policy and in either script
            patches.setattr(engine, "_new_id", lambda _target_id: scenario.operation_id)

        with machine_in_moto(
            patches,
            Path(tmp) / "state",
            sim_world,
            asl_path=ASL_PATH,
            template_path=TEMPLATE_PATH,
            make_handler=make_handler,
            region=REGION,
            poll_policy=policy,
            configure_engine=same_ids,
        ) as harness:
            sim = harness.world.sim
            scenario.seed(sim)
            start: dict[str, Any] = {"params": scenario.start_request()}
            if scenario.max_iterations is not None:
                start["max_iterations"] = scenario.max_iterations
            began = harness.world.clock.now()
            arn = harness.start(start, name=scenario.operation_id)
            chain, answered = _drive(harness, arn, scenario, timeout)
            virtual = (harness.world.clock.now() - began).total_seconds()
            executions = []
            for execution in chain:
                described = harness.describe(execution)
                executions.append(
                    execution_stats(str(described["name"]), str(described["status"]), harness.history(execution))
                )
            run = SfnRun(
                scenario=scenario.name,
                policy=policy_label,
                max_iterations=scenario.max_iterations or DEFAULT_MAX_ITERATIONS,
                executions=executions,
                lambda_delivered=len(harness.delivered),
                lambda_seen=len(harness.invocations),
                answered=answered,
                virtual_seconds=virtual,
                wall_seconds=0.0,
            )
    run.wall_seconds = time.monotonic() - wall_start
    if run.lambda_seen != run.lambda_tasks + run.lambda_delivered:
        run.notes.append(
            f"the harness saw {run.lambda_seen} engine invocations, the histories schedule {run.lambda_tasks} "
            f"and EventBridge delivered {run.lambda_delivered}"
        )
    return run


def measure(scenarios: Sequence[Scenario] | None = None) -> list[SfnRun]:
    """Every scenario under each of its polling policies, in order."""
    return [run_one(s, label) for s in (SCENARIOS if scenarios is None else scenarios) for label in s.policies]


FOUR_HOURS = BlueGreenDurations(provision=4 * 3600)
SCENARIOS: list[Scenario] = [
    *OPERATIONS,
    replace(UPGRADE, name="engine_upgrade 1+2, 4 h green provisioning", blue_green=FOUR_HOURS),
    replace(
        UPGRADE,
        name="engine_upgrade 1+2, 4 h green provisioning, hand-off lowered",
        blue_green=FOUR_HOURS,
        max_iterations=100,
        policies=("fixed 30 s",),
    ),
]


def budget_note(runs: list[SfnRun]) -> str:
    """How close an execution can come to the 25,000-event cap before it hands off (default max_iterations)."""
    worst = max(runs, key=lambda r: r.bound())
    bound = worst.bound()
    said = (
        f"- History budget: at most {worst.max_events_per_iteration:.0f} events per counted loop iteration, so an "
        f"execution hands off by {bound} events at max_iterations {DEFAULT_MAX_ITERATIONS} "
        f"({100 * bound / EVENT_LIMIT:.0f} % of 25,000) when no Lambda call is retried."
    )
    headroom = (EVENT_LIMIT - bound) / DEFAULT_MAX_ITERATIONS
    if headroom <= 0:
        return f"{said} That is over the cap by {bound - EVENT_LIMIT} events."
    return (
        f"{said} Each retried attempt adds {RETRY_EVENTS} events the loop count does not see: the margin is "
        f"{headroom:.1f} events per iteration, room for {int(headroom // RETRY_EVENTS)} retried attempts in every "
        f"iteration (the ASL retries a Lambda call at most {ASL_MAX_RETRIES} times)."
    )


def render(runs: list[SfnRun]) -> str:
    def fmt(seconds: float) -> str:
        return f"{seconds / 3600:.1f} h" if seconds >= 7200 else f"{seconds / 60:.0f} min"

    rows = [
        [
            "operation",
            "polling",
            "max_iterations",
            "virtual time",
            "executions",
            "events (largest)",
            "events (total)",
            "state transitions",
            "Lambda (Task)",
            "Lambda (EventBridge)",
            "Wait states",
            "events / iteration",
            "largest vs 25,000",
            "transitions $",
        ]
    ]
    for r in runs:
        rows.append(
            [
                r.scenario,
                r.policy,
                str(r.max_iterations),
                fmt(r.virtual_seconds),
                str(r.chain),
                str(r.largest),
                str(r.total_events),
                str(r.transitions),
                str(r.lambda_tasks),
                str(r.lambda_delivered),
                str(r.waits),
                f"{r.max_events_per_iteration:.0f}",
                r.verdict,
                f"{r.sfn_dollars:.4f}",
            ]
        )
    notes = [f"- {r.scenario} ({r.policy}): {note}" for r in runs for note in r.notes]
    notes.append(budget_note(runs))
    return "\n".join([table(rows), "", *notes])


def main() -> None:
    started = time.monotonic()
    runs = []
    for scenario in SCENARIOS:
        for label in scenario.policies:
            run = run_one(scenario, label)
            print(f"  {run.scenario} ({run.policy}): {run.wall_seconds:.1f} s wall", file=sys.stderr)
            runs.append(run)
    print(render(runs))
    print(f"\n{len(runs)} runs in moto's interpreter, {time.monotonic() - started:.0f} s wall", file=sys.stderr)


if __name__ == "__main__":
    main()
