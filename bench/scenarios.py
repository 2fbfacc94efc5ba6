"""What the benchmarks run, shared by bench/operation_cost.py and bench/sfn_history.py.

Both scripts must run the same operations on the same simulated timelines (same cluster, same
operation id, so the simulator's seeded durations match) for their figures to be put side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rds_maint.actions.polling import PollPolicy
from rds_maint.demo import SCENARIOS as DEMO_SCENARIOS
from rds_sim import SimulatedAurora
from rds_sim.blue_green import BlueGreenDurations

REGION = "us-east-1"
CLUSTER = "bench-pg"
SFN_TRANSITION = 0.025 / 1000  # Step Functions Standard workflow, per state transition
POLICIES: dict[str, PollPolicy] = {"adaptive": PollPolicy(), "fixed 30 s": PollPolicy(fixed=30)}


@dataclass(frozen=True)
class Scenario:
    name: str
    readers: int
    request: dict[str, Any]  # the operation's type and params
    # after seeding (sim, cluster id, instance ids): parameters pending reboot, Blue/Green prerequisites, ...
    prepare: Callable[[SimulatedAurora, str, list[str]], None] | None = None
    # answer the plan's own pauses (before the switchover, the clean-up) with continue, as the demo does
    answer_pauses: bool = False
    blue_green: BlueGreenDurations | None = None  # the simulator's Blue/Green durations (None: its defaults)
    max_iterations: int | None = None  # the state machine's hand-off threshold (None: the ASL's default)
    policies: tuple[str, ...] = tuple(POLICIES)


TYPE_CHANGE = {"type": "instance_type_change", "params": {"target_instance_type": "db.r6g.xlarge"}}
UPGRADE = {"type": "engine_upgrade", "params": {"target_engine_version": "16.4"}}
OPERATIONS: list[Scenario] = [
    Scenario("instance_type_change 1+2", 2, TYPE_CHANGE),
    Scenario("instance_type_change 1+5", 5, TYPE_CHANGE),
    Scenario(
        "instance_cycle 1+2",
        2,
        {"type": "instance_cycle", "params": {"only_pending_reboot": True}},
        prepare=DEMO_SCENARIOS["instance_cycle"].prepare,
    ),
    Scenario("engine_upgrade 1+2", 2, UPGRADE, prepare=DEMO_SCENARIOS["engine_upgrade"].prepare, answer_pauses=True),
]


def table(rows: list[list[str]]) -> str:
    """A markdown table, columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
