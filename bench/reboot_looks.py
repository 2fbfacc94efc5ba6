"""What each reboot wait of an instance cycle costs in RDS reads, adaptive polling against a fixed 30 s poll.

Plain script, no assertions: it prints tables. Each run is an `instance_cycle` of a 1+N Aurora cluster on the
simulator (realistic durations on the virtual clock), once with the engine's adaptive polling and once with a
fixed 30 s poll, on the same timelines (same cluster, same operation id, so the same seeded durations). Every
RDS call is attributed to the step the engine was running or checking when it was made (the engine's
`on_attempt` hook), so a call at a step boundary is never counted twice.

Per reboot wait: the Describe* calls (every one counts, DescribeEvents included), how many of them were
DescribeDBClusters (and how many made while the member was restarting), the size of the replies (the JSON of
the parsed answer: a proxy for the XML AWS sends, which is larger), how many looks (checks) the wait made, the
closest two reads came in virtual time (the first turn's and each look's), and how late the end of the reboot
was seen. Per operation: every describe against the fixed poll, and the wall time against the RDS critical
path (the union of the simulator's transitions).

    PYTHONPATH=$PWD python bench/reboot_looks.py [--readers 1 3 7 15] [--pending all|none]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto import mock_aws

from rds_maint.actions.polling import PollPolicy
from rds_maint.engine import Engine
from rds_maint.model import Operation, Outcome, Step
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
CLUSTER = "bench-pg"
POLICIES: dict[str, PollPolicy] = {"adaptive": PollPolicy(), "fixed 30 s": PollPolicy(fixed=30)}


@dataclass
class Read:
    """One RDS call: when, which, for which step, and how large its answer was."""

    at: datetime
    operation: str
    step: str | None
    attempt: str | None  # "run" or "check"
    reply_bytes: int


@dataclass
class RebootWait:
    step: str
    instance_id: str
    describes: int
    cluster_describes: int
    cluster_describes_while_restarting: int
    reply_bytes: int
    looks: int
    closest_looks: float | None
    latency: float


@dataclass
class CycleRun:
    readers: int
    policy: str
    wall: float
    critical: float
    describes: int
    reply_bytes: int
    waits: list[RebootWait] = field(default_factory=list)


def _reply_size(answer: Any) -> int:
    return len(json.dumps(answer, default=str))


def _instrument(sim: SimulatedAurora, current: dict[str, Any], reads: list[Read]) -> None:
    """Wrap the simulated region's answer to record each call with its step and the size of its answer."""
    world = sim._world
    handle = world.handle

    def recorded(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = handle(operation, params)
        reads.append(
            Read(
                at=sim.clock.now(),
                operation=operation,
                step=current.get("step"),
                attempt=current.get("attempt"),
                reply_bytes=_reply_size(answer),
            )
        )
        return answer

    world.handle = recorded  # type: ignore[method-assign]


def reboot_spans(sim: SimulatedAurora) -> dict[str, list[tuple[datetime, datetime]]]:
    """Every reboot the simulated account ran, per instance: from when the member left `available` to its end,
    whichever part simulates it (Aurora's timeline, a DB instance's changes, a Multi-AZ DB cluster's phases)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for t in sim.transitions:
        if t.kind == "reboot":
            spans.setdefault(t.resource_id, []).append((t.visible_at, t.ends_at))
    for change in sim.multi_az_changes():
        for phase in change.phases:
            if phase.kind == "reboot" and phase.member:
                spans.setdefault(phase.member, []).append((phase.start, phase.end))
    for instance_id in {c.params.get("DBInstanceIdentifier") for c in sim.applied_calls("RebootDBInstance")}:
        for db_change in sim._world.db_instances.changes_of(str(instance_id)):
            if db_change.kind == "reboot":
                spans.setdefault(str(instance_id), []).append((db_change.visible_at, db_change.ends_at))
    return spans


def all_spans(sim: SimulatedAurora) -> list[tuple[datetime, datetime]]:
    """Every change AWS was busy with (the critical path is their union)."""
    out = [(t.called_at, t.ends_at) for t in sim.transitions]
    out += [(c.called_at, c.ends_at) for c in sim.multi_az_changes()]
    out += [(c.called_at, c.ends_at) for c in sim._world.db_instances.changes]
    return out


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start >= reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total


REBOOT_ACTIONS = ("reboot_instance", "reboot_db_instance", "reboot_db_instance_offline", "reboot_multi_az_member")
TARGETS = ("aurora", "db-instance-multi-az", "db-instance-single-az", "multi-az-cluster")


def _seed(sim: SimulatedAurora, target: str, readers: int, pending: bool) -> dict[str, Any]:
    """The target and the instance_cycle request on it (every member pending-reboot when `pending`)."""
    params: dict[str, Any] = {"only_pending_reboot": True} if pending else {}
    if target == "aurora":
        ids = sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=readers)
        key = {"cluster_id": CLUSTER}
    elif target == "multi-az-cluster":
        ids = sim.seed_multi_az_cluster("bench-maz")
        key = {"cluster_id": "bench-maz"}
    else:
        multi_az = target == "db-instance-multi-az"
        ids = [sim.seed_db_instance("bench-db", multi_az=multi_az)]
        key = {"instance_id": "bench-db"}
        if not multi_az:
            params["allow_downtime"] = True
    if pending:
        for instance_id in ids:
            sim.set_parameter_apply_status(instance_id, "pending-reboot")
    return {"type": "instance_cycle", "region": REGION, "params": params, **key}


def run_cycle(readers: int, policy_label: str, pending: bool, target: str = "aurora") -> CycleRun:
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            request = _seed(sim, target, readers, pending)
            current: dict[str, Any] = {}
            reads: list[Read] = []
            _instrument(sim, current, reads)

            def on_attempt(op: Operation, step: Step, attempt: str) -> None:
                current.update(step=step.name, attempt=attempt)

            clients = sim.clients(make_rds_client)
            engine = Engine(
                FileStore(tmp),
                lambda r: RdsGateway(clients(r), sleep=clock.sleep),
                clock,
                POLICIES[policy_label],
                on_attempt=on_attempt,
            )
            engine._new_id = lambda cluster_id: f"{cluster_id}-bench"  # type: ignore[method-assign]
            op = engine.create(request)
            engine.start(op.id)
            original_advance = engine.advance

            def advance(op_id: str) -> Any:
                current.clear()  # calls outside an action (the engine's own) belong to no step
                try:
                    return original_advance(op_id)
                finally:
                    current.clear()

            engine.advance = advance  # type: ignore[method-assign,assignment]
            started = clock.now()
            result = drive(engine, op.id, clock.sleep)
            if result.outcome is not Outcome.COMPLETED:
                raise SystemExit(f"{target} 1+{readers} {policy_label}: did not complete: {result.pause_reason}")
            wall = (clock.now() - started).total_seconds()
            spans = reboot_spans(sim)
            stored = FileStore(tmp).load(op.id)
            run = CycleRun(
                readers=readers,
                policy=policy_label,
                wall=wall,
                critical=_union_seconds(all_spans(sim)),
                describes=sum(1 for r in reads if r.operation.startswith("Describe")),
                reply_bytes=sum(r.reply_bytes for r in reads if r.operation.startswith("Describe")),
            )
            for step in stored.steps:
                if step.action not in REBOOT_ACTIONS or step.completed_at is None:
                    continue
                instance_id = str(step.parameters["instance_id"])
                reboot = spans.get(instance_id, [])
                mine = [r for r in reads if r.step == step.name and r.operation.startswith("Describe")]
                look_times = sorted({r.at for r in mine if r.attempt == "check"})
                read_times = sorted({r.at for r in mine})  # the mark's read and every look
                gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(read_times)]
                clusters = [r for r in mine if r.operation == "DescribeDBClusters"]
                run.waits.append(
                    RebootWait(
                        step=step.name,
                        instance_id=instance_id,
                        describes=len(mine),
                        cluster_describes=len(clusters),
                        cluster_describes_while_restarting=sum(
                            1 for r in clusters if any(start <= r.at < end for start, end in reboot)
                        ),
                        reply_bytes=sum(r.reply_bytes for r in mine),
                        looks=len(look_times),
                        closest_looks=min(gaps) if gaps else None,
                        latency=(step.completed_at - reboot[-1][1]).total_seconds() if reboot else 0.0,
                    )
                )
            return run


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def report(pairs: list[tuple[CycleRun, CycleRun]], describe: Callable[[CycleRun], str]) -> str:
    per_wait = [
        [
            "cycle",
            "polling",
            "reboot waits",
            "describes / wait (mean, max)",
            "waits with more describes than fixed",
            "DescribeDBClusters / wait (while restarting)",
            "reply bytes / wait",
            "looks / wait",
            "closest reads",
            "latency / wait (mean, max)",
        ]
    ]
    per_op = [
        [
            "cycle",
            "describes adaptive",
            "describes fixed 30 s",
            "saving",
            "reply bytes adaptive",
            "reply bytes fixed",
            "wall adaptive",
            "critical path",
            "wall / critical",
        ]
    ]
    for adaptive, fixed in pairs:
        base = {w.step: w for w in fixed.waits}
        for run in (adaptive, fixed):
            waits = run.waits
            n = max(1, len(waits))
            worse = sum(1 for w in waits if w.step in base and w.describes > base[w.step].describes)
            gaps = [w.closest_looks for w in waits if w.closest_looks is not None]
            per_wait.append(
                [
                    describe(run),
                    run.policy,
                    str(len(waits)),
                    f"{sum(w.describes for w in waits) / n:.2f}, {max((w.describes for w in waits), default=0)}",
                    f"{worse} of {len(waits)}" if run is adaptive else "-",
                    f"{sum(w.cluster_describes for w in waits) / n:.2f} "
                    f"({sum(w.cluster_describes_while_restarting for w in waits)})",
                    _kb(sum(w.reply_bytes for w in waits) / n),
                    f"{sum(w.looks for w in waits) / n:.2f}",
                    f"{min(gaps):.0f} s" if gaps else "-",
                    f"{sum(w.latency for w in waits) / n:.1f} s, {max((w.latency for w in waits), default=0):.0f} s",
                ]
            )
        saving = 1 - adaptive.describes / max(1, fixed.describes)
        per_op.append(
            [
                describe(adaptive),
                str(adaptive.describes),
                str(fixed.describes),
                f"{100 * saving:.1f} %",
                _kb(adaptive.reply_bytes),
                _kb(fixed.reply_bytes),
                f"{adaptive.wall:.0f} s",
                f"{adaptive.critical:.0f} s",
                f"{100 * adaptive.wall / max(1.0, adaptive.critical):.1f} %",
            ]
        )
    return "\n\n".join(
        [
            "## Each reboot wait\n\n" + table(per_wait),
            "## The whole instance_cycle\n\n" + table(per_op),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readers", type=int, nargs="+", default=[1, 3, 7, 15], help="Aurora readers (N)")
    parser.add_argument(
        "--target",
        choices=TARGETS,
        default="aurora",
        help="an Aurora cluster of 1+N (the default), a DB instance, or a Multi-AZ DB cluster (its own 1+2)",
    )
    parser.add_argument(
        "--pending",
        choices=["all", "none"],
        default="all",
        help="all: every member pending-reboot, only_pending_reboot (the benchmark's cycle); none: a rolling reboot",
    )
    args = parser.parse_args()
    os.environ.update({k: "testing" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")})
    pending = args.pending == "all"
    target = args.target
    readers = args.readers if target == "aurora" else [2 if target == "multi-az-cluster" else 0]
    pairs = [(run_cycle(n, "adaptive", pending, target), run_cycle(n, "fixed 30 s", pending, target)) for n in readers]
    what = "parameters pending, only_pending_reboot" if pending else "rolling reboot, nothing pending"
    print(f"# Reboot waits of instance_cycle on {target} ({what})\n")
    print(report(pairs, lambda r: f"{target} 1+{r.readers}"))


if __name__ == "__main__":
    main()
