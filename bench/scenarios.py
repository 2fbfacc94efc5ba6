"""What the benchmarks run, shared by bench/operation_cost.py and bench/sfn_history.py.

Both scripts must run the same operations on the same simulated timelines for their figures to be put
side by side: the same target, seeded the same way, and the same operation id. The simulator draws each
duration's jitter from the names involved (the temp instance is named after the operation id), so a
fixed id is what makes one run's timeline the next run's, under any driving policy.

The targets and the requests are the demo's scenes (`rds_maint.demo.KIND_SCENARIOS`), so what the
benchmark measures is what `rds-maint demo` shows; only the number of Aurora readers varies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rds_maint.actions.polling import PollPolicy
from rds_maint.demo import KIND_SCENARIOS
from rds_maint.demo import Scenario as DemoScene
from rds_sim import SimulatedAurora
from rds_sim.blue_green import BlueGreenDurations

REGION = "us-east-1"
CLUSTER = "bench-pg"
SFN_TRANSITION = 0.025 / 1000  # Step Functions Standard workflow, per state transition
POLICIES: dict[str, PollPolicy] = {"adaptive": PollPolicy(), "fixed 30 s": PollPolicy(fixed=30)}
OP_TYPES = ("instance_type_change", "instance_cycle", "engine_upgrade", "storage_type_change")
READERS = (1, 3, 7, 15)  # the sweep of Aurora reader counts
QUICK_READERS = (1, 3)
KIND_LABELS = {"aurora": "Aurora", "instance": "DB instance", "multi-az-cluster": "Multi-AZ DB cluster"}
# The demo's Multi-AZ DB cluster runs PostgreSQL 15.7, a version the simulator's Multi-AZ DB cluster reference
# does not list (rds_sim/multi_az_reference.py: 15.8, 16.4, ...): its class change is refused at preflight. The
# benchmark seeds 15.8, the nearest listed, so every type runs.
MULTI_AZ_VERSION = "15.8"
_SHORT = {
    "instance_type_change": "itc",
    "instance_cycle": "cyc",
    "engine_upgrade": "upg",
    "storage_type_change": "stc",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    readers: int  # Aurora readers (0 for the other kinds)
    request: dict[str, Any]  # the operation's type and params
    # after seeding (sim, cluster id, instance ids): parameters pending reboot, Blue/Green prerequisites, ...
    prepare: Callable[[SimulatedAurora, str, list[str]], None] | None = None
    # answer the plan's own pauses (before the switchover, the clean-up) with continue, as the demo does
    answer_pauses: bool = False
    blue_green: BlueGreenDurations | None = None  # the simulator's Blue/Green durations (None: its defaults)
    max_iterations: int | None = None  # the state machine's hand-off threshold (None: the ASL's default)
    policies: tuple[str, ...] = tuple(POLICIES)
    target_kind: str = "aurora"
    target_id: str = CLUSTER
    scene: DemoScene | None = None  # how the target is made (None: an Aurora PostgreSQL 15.4 cluster)
    operation_id: str = f"{CLUSTER}-bench"

    @property
    def op_type(self) -> str:
        return str(self.request["type"])

    @property
    def request_key(self) -> str:
        return "instance_id" if self.target_kind == "instance" else "cluster_id"

    def start_request(self) -> dict[str, Any]:
        """The request `Engine.create` and the state machine's start input take."""
        return {self.request_key: self.target_id, "region": REGION, **self.request}

    def seed(self, sim: SimulatedAurora) -> list[str]:
        """Make the target on the simulator and its scene; its instance ids, writer first."""
        scene = self.scene
        if self.target_kind == "instance":
            assert scene is not None
            ids = [
                sim.seed_db_instance(
                    self.target_id,
                    engine=scene.engine,
                    engine_version=scene.engine_version,
                    instance_class=scene.instance_class,
                    multi_az=scene.multi_az,
                    storage_type=scene.storage_type,
                    allocated_storage=scene.allocated_storage,
                    iops=scene.iops,
                )
            ]
        elif self.target_kind == "multi-az-cluster":
            assert scene is not None
            ids = sim.seed_multi_az_cluster(
                self.target_id,
                engine=scene.engine,
                engine_version=scene.engine_version,
                instance_class=scene.instance_class,
                storage_type=scene.storage_type,
                allocated_storage=scene.allocated_storage,
                iops=scene.iops,
            )
        else:
            ids = sim.seed_cluster(
                self.target_id,
                engine="aurora-postgresql",
                engine_version="15.4",
                instance_class=scene.instance_class if scene else "db.r6g.large",
                readers=self.readers,
            )
        if self.prepare is not None:
            self.prepare(sim, self.target_id, ids)
        if self.blue_green is not None:
            sim.blue_green.durations = self.blue_green
        return ids


def scenario(op_type: str, target_kind: str = "aurora", readers: int = 0) -> Scenario:
    """The demo's scene of `op_type` on `target_kind` (Aurora with `readers` readers), under a fixed id."""
    scene = KIND_SCENARIOS[(target_kind, op_type)]
    if target_kind == "multi-az-cluster":
        scene = replace(scene, engine_version=MULTI_AZ_VERSION)
    if target_kind == "aurora":
        name, target, operation_id = f"{op_type} 1+{readers}", CLUSTER, f"bench-{_SHORT[op_type]}-n{readers}"
    else:
        name, target = f"{op_type} ({KIND_LABELS[target_kind]})", scene.cluster_id
        operation_id = f"bench-{_SHORT[op_type]}-{'inst' if target_kind == 'instance' else 'maz'}"
    params = scene.params(None)
    if target_kind == "multi-az-cluster" and op_type == "engine_upgrade":
        # Blue/Green does not take Multi-AZ DB clusters: the plan asks for the in-place method by name
        params["method"] = "in_place"
    return Scenario(
        name=name,
        readers=readers if target_kind == "aurora" else 0,
        request={"type": op_type, "params": params},
        prepare=scene.prepare,
        answer_pauses=scene.answer_pauses,
        target_kind=target_kind,
        target_id=target,
        scene=scene,
        operation_id=operation_id,
    )


def sweep(readers: tuple[int, ...] = READERS) -> list[Scenario]:
    """Every operation type on Aurora at each reader count, then on a DB instance and a Multi-AZ DB cluster."""
    return [
        *(scenario(op, "aurora", n) for op in OP_TYPES for n in readers),
        *(scenario(op, "instance") for op in OP_TYPES),
        *(scenario(op, "multi-az-cluster") for op in OP_TYPES),
    ]


# What the state machine runs (bench/sfn_history.py): one of each Aurora type with two readers; the
# execution histories do not grow with the readers in any way the sweep would show.
OPERATIONS: list[Scenario] = [scenario(op, "aurora", 2) for op in OP_TYPES]
UPGRADE = OPERATIONS[2]


def table(rows: list[list[str]]) -> str:
    """A markdown table, columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
