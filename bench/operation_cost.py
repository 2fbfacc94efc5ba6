"""What an operation costs and how much latency the engine adds, on the simulated Aurora.

Plain script, no assertions: it prints tables (and writes them to docs/performance.md when
run with --write). Every operation runs on realistic durations on the virtual clock, once
with the engine's adaptive polling and once with a fixed 30 s poll, on the same timelines.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from moto import mock_aws
from scenarios import CLUSTER, OPERATIONS, POLICIES, REGION, SFN_TRANSITION, Scenario, table
from sfn_history import SfnRun
from sfn_history import measure as measure_machine
from sfn_history import render as render_machine

from rds_maint.actions.polling import PollPolicy
from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, Outcome, StepResult
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore, StateStore, init_store, open_store
from rds_sim import SimulatedAurora, VirtualClock

LAMBDA_GB = 0.5  # the SAM template's memory size, in GB
LAMBDA_GB_SECOND = 0.0000133334  # arm64, per GB-second
LAMBDA_REQUEST = 0.20 / 1_000_000
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000


class CountingStore(FileStore):
    """The file store, counting its reads and writes (what S3 or DynamoDB would bill)."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.requests: Counter[str] = Counter()

    def load(self, operation_id: str) -> Operation:
        self.requests["read"] += 1
        return super().load(operation_id)

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        self.requests["write"] += 1
        return super().save(operation, events)


class TimedGateway(RdsGateway):
    """Keeps the CPU time spent inside AWS calls, so engine overhead can be told apart."""

    aws_cpu = 0.0

    def call(self, operation: str, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return super().call(operation, **kwargs)
        finally:
            TimedGateway.aws_cpu += time.process_time() - start


@dataclass(frozen=True)
class Span:
    """One AWS transition the engine waits for: an instance/cluster change or a Blue/Green phase."""

    kind: str
    called_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class WaitStat:
    """One step that waited: how long AWS took, how late the engine saw it, and what that cost."""

    step: str
    kinds: str
    duration: float
    latency: float
    describes: int


@dataclass
class Run:
    name: str
    policy: str
    wall: float
    critical: float
    waits: int
    advances: int
    rds_calls: Counter[str]
    store: Counter[str]
    engine_cpu_ms: float
    per_wait: list[WaitStat] = field(default_factory=list)

    @property
    def added(self) -> float:
        return self.wall - self.critical

    @property
    def describes(self) -> int:
        return sum(n for name, n in self.rds_calls.items() if name.startswith("Describe"))

    @property
    def per_wait_latency(self) -> list[float]:
        return [w.latency for w in self.per_wait]

    @property
    def per_wait_duration(self) -> list[float]:
        return [w.duration for w in self.per_wait]

    @property
    def per_wait_describes(self) -> list[int]:
        return [w.describes for w in self.per_wait]

    def cost(self, machine: SfnRun) -> dict[str, float]:
        """Dollars at list prices; transitions and Lambda invocations from the execution histories."""
        invocations = machine.lambda_tasks + machine.lambda_delivered
        lambda_seconds = invocations * 0.15  # a warm invocation with one or two RDS calls
        sfn = SFN_TRANSITION * machine.transitions
        lam = invocations * LAMBDA_REQUEST + lambda_seconds * LAMBDA_GB * LAMBDA_GB_SECOND
        s3 = self.store["write"] * S3_PUT * 2 + self.store["read"] * S3_GET  # each save writes state + events
        return {"sfn": sfn, "lambda": lam, "s3": s3, "total": sfn + lam + s3}


# Blue/Green phases (sim/blue_green.py events): the call that starts each and the event that ends it.
_BG_PHASES = {
    "provisioned": ("CreateBlueGreenDeployment", "blue_green_create"),
    "switched": ("SwitchoverBlueGreenDeployment", "switchover"),
    "deleted": ("DeleteBlueGreenDeployment", "blue_green_delete"),
    "cluster_deleted": ("DeleteDBCluster", "cluster_delete"),
}


def _record_blue_green(sim: SimulatedAurora) -> list[tuple[str, datetime]]:
    """Wrap the simulator's Blue/Green settling to keep when each phase ended (it keeps no history)."""
    ended: list[tuple[str, datetime]] = []
    bg = sim.blue_green
    original = bg._apply

    def apply(event: str, key: str, at: datetime) -> None:
        ended.append((event, at))
        original(event, key, at)
        if event == "provisioned":
            # AWS refuses a switchover until the green members are ready, a while after AVAILABLE: AWS's
            # time, not the poll's (the simulator keeps when that is)
            ended.append(("green_ready", bg._deployments[key].green_ready_at))

    bg._apply = apply  # type: ignore[method-assign]
    return ended


def _spans(sim: SimulatedAurora, bg_ended: list[tuple[str, datetime]]) -> list[Span]:
    spans = [Span(t.kind, t.called_at, t.ends_at) for t in sim.transitions]
    provisioned_at: datetime | None = None
    for event, at in bg_ended:
        if event == "provisioned":
            provisioned_at = at
        if event == "green_ready" and provisioned_at is not None:
            spans.append(Span("green_ready", provisioned_at, at))
        if event not in _BG_PHASES:
            continue
        operation, kind = _BG_PHASES[event]
        started = [c.at for c in sim.calls if c.operation == operation and c.applied and c.at <= at]
        if started:
            spans.append(Span(kind, max(started), at))
        if event == "switched" and sim.proxies._proxies:
            # with an RDS Proxy in front, its instance targets read REGISTERING for a while after a switchover
            # (AWS moves them itself; rds-maint only watches them settle)
            spans.append(Span("proxy_targets", at, at + timedelta(seconds=sim.proxies.settle_seconds)))
    return sorted(spans, key=lambda t: t.called_at)


def run_operation(scenario: Scenario, policy: PollPolicy, label: str) -> Run:
    name = scenario.name
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            ids = sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=scenario.readers)
            if scenario.prepare is not None:
                scenario.prepare(sim, CLUSTER, ids)
            bg_ended = _record_blue_green(sim)
            store = CountingStore(tmp)
            clients = sim.clients(make_rds_client)
            engine = Engine(store, lambda r: TimedGateway(clients(r), sleep=clock.sleep), clock, policy)
            # the same operation id in every run: the temp instance name, and so the simulator's
            # seeded durations, are then the same for fixed and adaptive polling
            engine._new_id = lambda cluster_id: f"{cluster_id}-bench"  # type: ignore[method-assign]
            op = engine.create({"cluster_id": CLUSTER, "region": REGION, **scenario.request})
            engine.start(op.id)
            started = clock.now()
            advances = 0
            cpu_start = time.process_time()
            TimedGateway.aws_cpu = 0.0

            original_advance = engine.advance

            def counted(op_id: str) -> StepResult:
                nonlocal advances
                advances += 1
                return original_advance(op_id)

            engine.advance = counted  # type: ignore[method-assign,assignment]
            result = drive(engine, op.id, clock.sleep)
            while (
                scenario.answer_pauses
                and result.outcome is Outcome.INTERVENTION
                and (result.pause_reason or "").startswith("Paused before step")
            ):
                # a person answers at once: the time a pause waits for them is not the engine's
                engine.resume(op.id, "continue", comment="answered by the benchmark")
                result = drive(engine, op.id, clock.sleep)
            cpu = time.process_time() - cpu_start - TimedGateway.aws_cpu
            if result.outcome is not Outcome.COMPLETED:
                raise SystemExit(f"{name}: did not complete: {result.pause_reason}")
            wall = (clock.now() - started).total_seconds()
            spans = _spans(sim, bg_ended)
            critical = _union_seconds(spans)
            describes = [c for c in sim.calls if c.operation.startswith("Describe")]
            stored = store.load(op.id)
            return Run(
                name=name,
                policy=label,
                wall=wall,
                critical=critical,
                waits=len(spans),
                advances=advances,
                rds_calls=Counter(c.operation for c in sim.calls),
                store=store.requests,
                engine_cpu_ms=1000 * cpu / max(1, advances),
                per_wait=_per_wait(stored, spans, describes),
            )


def _union_seconds(spans: list[Span]) -> float:
    """Time during which at least one transition was under way (overlapping ones count once)."""
    total, reach = 0.0, None
    for t in sorted(spans, key=lambda t: t.called_at):
        if reach is None or t.called_at >= reach:
            total += (t.ends_at - t.called_at).total_seconds()
            reach = t.ends_at
        elif t.ends_at > reach:
            total += (t.ends_at - reach).total_seconds()
            reach = t.ends_at
    return total


def _per_wait(op: Operation, spans: list[Span], describes: list[Any]) -> list[WaitStat]:
    """For each step that waited on AWS: the time AWS was busy during the step (the union of the transitions
    under way then, clipped to the step: a green's provisioning starts in the step before its wait) and the
    rest of the step, the latency the engine added (the gap between one transition and the next call too)."""
    stats = []
    for step in op.steps:
        if step.completed_at is None or step.started_at is None or step.progress.wait_started_at is None:
            continue
        start, end = step.started_at, step.completed_at
        mine = [
            Span(t.kind, max(t.called_at, start), min(t.ends_at, end))
            for t in spans
            if t.called_at < end and t.ends_at > start
        ]
        if not mine:
            continue
        busy = _union_seconds(mine)
        stats.append(
            WaitStat(
                step=step.name,
                kinds="+".join(sorted({t.kind for t in mine})),
                duration=busy,
                latency=(end - start).total_seconds() - busy,
                describes=len([c for c in describes if start <= c.at <= end]),
            )
        )
    return stats


class TimedStore:
    """Wraps any store and keeps the CPU time spent inside its calls (moto's S3/DynamoDB included)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.cpu = 0.0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if not callable(target):
            return target

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return target(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - start

        return timed


def timed_gateways(clock: VirtualClock, sim: SimulatedAurora) -> Callable[[str], RdsGateway]:
    clients = sim.clients(make_rds_client)

    def make(region: str) -> RdsGateway:
        return TimedGateway(clients(region), sleep=clock.sleep)

    return make


def engine_overhead_per_store() -> list[list[str]]:
    """CPU per advance of one instance_type_change 1+2, split: engine alone / inside the store, per store."""
    rows = []
    for kind in ("file", "s3", "dynamodb"):
        with mock_aws(), tempfile.TemporaryDirectory() as tmp:
            url = {"file": f"file://{tmp}/state", "s3": "s3://bench-state/ops", "dynamodb": "dynamodb://bench-state"}[
                kind
            ]
            init_store(url, REGION)
            clock = VirtualClock()
            with SimulatedAurora(clock=clock, region=REGION) as sim:
                sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=2)
                store = TimedStore(open_store(url, REGION))
                engine = Engine(
                    cast(StateStore, store),
                    timed_gateways(clock, sim),
                    clock,
                    PollPolicy(),
                )
                op = engine.create({"cluster_id": CLUSTER, "region": REGION, **OPERATIONS[0].request})
                engine.start(op.id)
                TimedGateway.aws_cpu, store.cpu, advances = 0.0, 0.0, 0
                start = time.process_time()
                while True:
                    result = engine.advance(op.id)
                    advances += 1
                    if result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
                        break
                    clock.sleep(result.wait_seconds)
                total = time.process_time() - start
                engine_ms = 1000 * (total - TimedGateway.aws_cpu - store.cpu) / advances
                rows.append(
                    [
                        f"engine CPU per advance, excluding RDS and store calls ({kind} store)",
                        f"{engine_ms:.2f} ms (store calls: {1000 * store.cpu / advances:.2f} ms)",
                    ]
                )
    return rows


def cold_import_ms(runs: int = 7) -> tuple[float, float]:
    """Lambda handler import in fresh interpreters (python -X importtime, cumulative of the top module):
    the best and the median of `runs`, since other work on the machine only ever adds to it."""
    found = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import rds_maint.lambda_handler"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        ).stderr
        found += [
            int(line.split("|")[1]) / 1000 for line in out.splitlines() if line.rstrip().endswith("lambda_handler")
        ]
    found.sort()
    return (found[0], found[len(found) // 2]) if found else (float("nan"), float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="also write docs/performance.md")
    args = parser.parse_args()
    os.environ.update({k: "testing" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")})
    runs: list[Run] = []
    for scenario in OPERATIONS:
        runs.extend(run_operation(scenario, POLICIES[label], label) for label in scenario.policies)
    machine_runs = measure_machine()  # the same operations, driven by the state machine in moto
    machine = {(m.scenario, m.policy): m for m in machine_runs}

    def fmt(seconds: float) -> str:
        return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"

    per_op = [
        [
            "operation",
            "polling",
            "wall",
            "critical path",
            "added",
            "advances",
            "SFN transitions",
            "Lambda calls",
            "describe calls",
            "describes/min",
            "store r/w",
            "cost $",
        ]
    ]
    for r in runs:
        m = machine[(r.name, r.policy)]
        cost = r.cost(m)
        per_op.append(
            [
                r.name,
                r.policy,
                fmt(r.wall),
                fmt(r.critical),
                fmt(r.added),
                str(r.advances),
                str(m.transitions),
                str(m.lambda_tasks + m.lambda_delivered),
                str(r.describes),
                f"{r.describes / (r.wall / 60):.2f}",
                f"{r.store['read']}/{r.store['write']}",
                f"{cost['total']:.4f}",
            ]
        )
    waits = [
        ["operation", "polling", "waits", "mean wait", "mean added latency", "max added / wait", "describes per wait"]
    ]
    for r in runs:
        ratios = [lat / dur for lat, dur in zip(r.per_wait_latency, r.per_wait_duration, strict=True) if dur > 0]
        waits.append(
            [
                r.name,
                r.policy,
                str(len(r.per_wait_duration)),
                fmt(sum(r.per_wait_duration) / max(1, len(r.per_wait_duration))),
                f"{sum(r.per_wait_latency) / max(1, len(r.per_wait_latency)):.1f} s",
                f"{100 * max(ratios, default=0):.1f} %",
                f"{sum(r.per_wait_describes) / max(1, len(r.per_wait_describes)):.1f}",
            ]
        )
    detail = [
        [
            "operation",
            "step (transition)",
            "wait",
            "added: adaptive",
            "added: fixed 30 s",
            "describes: adaptive",
            "describes: fixed 30 s",
            "target",
        ]
    ]
    for adaptive, fixed in zip(runs[::2], runs[1::2], strict=True):
        baseline = {w.step: w for w in fixed.per_wait}
        for w in adaptive.per_wait:
            base = baseline.get(w.step)
            ok_latency = w.latency <= 0.1 * w.duration
            ok_calls = base is None or w.describes <= base.describes
            verdict = (
                "met"
                if ok_latency and ok_calls
                else "missed: "
                + ", ".join(
                    ([f"latency {100 * w.latency / w.duration:.0f} % of the wait"] if not ok_latency else [])
                    + ([f"{w.describes - base.describes} describe(s) more"] if base and not ok_calls else [])
                )
            )
            detail.append(
                [
                    adaptive.name,
                    f"{w.step} ({w.kinds})",
                    fmt(w.duration),
                    f"{w.latency:.0f} s",
                    f"{base.latency:.0f} s" if base else "-",
                    str(w.describes),
                    str(base.describes) if base else "-",
                    verdict,
                ]
            )
    cold = cold_import_ms()
    overhead = [
        ["measure", "value"],
        [
            "engine CPU per advance, excluding AWS calls (file store)",
            f"{sum(r.engine_cpu_ms for r in runs) / len(runs):.2f} ms",
        ],
        *engine_overhead_per_store(),
        [
            "Lambda handler cold import (python -X importtime, best / median of 7)",
            "{:.0f} ms / {:.0f} ms".format(*cold),
        ],
    ]
    calls = Counter[str]()
    for r in runs[:1]:
        calls.update(r.rds_calls)
    by_name = [["RDS API (instance_type_change 1+2, adaptive)", "calls"]] + [
        [k, str(v)] for k, v in sorted(calls.items())
    ]
    stamp = (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()})"
    )
    text = "\n\n".join(
        [
            "# Performance and cost\n\nMeasured " + stamp + " by `make bench` (bench/operation_cost.py).",
            "## Per operation\n\n" + table(per_op),
            "## Added latency per wait\n\n" + table(waits),
            "## Each wait, adaptive against fixed 30 s\n\nTarget: added latency at most 10 % of the wait, and no more "
            "describe calls than the fixed 30 s poll on the same timeline.\n\n" + table(detail),
            "## Step Functions: counted from execution histories in moto's interpreter\n\n"
            "Each operation started once through `sfn/rds-maint-machine.asl.json` (bench/sfn_history.py), the engine "
            "Lambda in-process, Wait states on the virtual clock, hand-offs followed. Target: no more transitions "
            "than the fixed 30 s poll; the largest execution under the 25,000-event cap.\n\n"
            + render_machine(machine_runs),
            "## Engine overhead\n\n" + table(overhead),
            "## RDS calls by name\n\n" + table(by_name),
            "Costs at list prices: Step Functions Standard $0.025/1,000 transitions (counted in moto's execution "
            "histories), Lambda arm64 512 MB at 150 ms per invocation (Task calls and EventBridge deliveries), S3 "
            "PUT/GET for the state. RDS calls are free but "
            "share the account's 12 requests/s budget. Store-call CPU for S3 and DynamoDB is measured against moto "
            "in the same process, so it includes moto's own work: an upper bound on the client's cost.",
        ]
    )
    print(text)
    if args.write:
        Path("docs").mkdir(exist_ok=True)
        Path("docs/performance.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
