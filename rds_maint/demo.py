"""`rds-maint demo`: a real operation on a rehearsal account (`rds-maint sim create`) the demo makes, through
the same engine, progress display and Ctrl-C as `rds-maint run --simulate DIR`. Needs moto (the `sim`
extra); reaches no AWS.

Every command the demo prints (`rds-maint run OP --simulate DIR`, `status`, `events`, `resume`) works
when copied: the account stays in its directory (a temporary one unless `--dir`).

Each operation type is one `Scenario` per kind of target (`--target-kind`: `aurora`, the default, an
Aurora cluster; `instance`, an RDS DB instance; `multi-az-cluster`, a Multi-AZ DB cluster) in
`KIND_SCENARIOS`; `SCENARIOS` are the Aurora ones. A scenario says how the simulated target is made and
which request runs on it. A new type or kind is one more entry.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rds_maint import rehearsal
from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState

if TYPE_CHECKING:
    from rds_sim import SimulatedAurora

__all__ = [
    "DEMO_CLUSTER",
    "DEMO_INSTANCE",
    "DEMO_MULTI_AZ_CLUSTER",
    "INSTANCE_SCENARIOS",
    "KIND_SCENARIOS",
    "MULTI_AZ_SCENARIOS",
    "SCENARIOS",
    "TARGET_KINDS",
    "Scenario",
    "command",
    "paused_before_a_step",
    "prepare_demo",
    "show_cluster",
    "show_target",
    "target_summary",
]

DEMO_CLUSTER = "demo-aurora-pg"
DEMO_INSTANCE = "demo-orders-db"
DEMO_MULTI_AZ_CLUSTER = "demo-ledger"
# --target-kind: what the demo makes and runs the operation on.
TARGET_KINDS = ("aurora", "instance", "multi-az-cluster")


@dataclass(frozen=True)
class Scenario:
    """One demo: the simulated cluster to make and the operation params to run on it."""

    op_type: str
    summary: str
    # --target (None: not given) -> the operation's params; raise BadInput if --target makes no sense here.
    params: Callable[[str | None], dict[str, Any]]
    target_help: str = "(not used)"
    cluster_id: str = DEMO_CLUSTER
    engine: str = "aurora-postgresql"
    engine_version: str = "15.4"
    instance_class: str = "db.r6g.large"
    # What else the scene needs, as `sim create --pending-reboot` / `--blue-green-ready` make it.
    pending_reboot: bool = False
    blue_green_ready: bool = False
    # Answer the plan's own pauses (pause_before, e.g. before a switchover) with continue, as a person
    # would with `rds-maint resume OP --action continue`; the demo says so each time.
    answer_pauses: bool = False
    # The kind of target (TARGET_KINDS); for a DB instance or Multi-AZ DB cluster, its storage as seeded.
    target_kind: str = "aurora"
    multi_az: bool = True
    storage_type: str = "gp2"
    allocated_storage: int = 100
    iops: int | None = None

    @property
    def target_flag(self) -> str:
        """The flag that names the target in a command: --cluster or --instance."""
        return "--instance" if self.target_kind == "instance" else "--cluster"

    @property
    def request_key(self) -> str:
        return "instance_id" if self.target_kind == "instance" else "cluster_id"

    @property
    def prepare(self) -> Callable[[SimulatedAurora, str, list[str]], None] | None:
        """The scene beyond a seeded cluster, for callers that seed their own simulator (benchmarks, tests)."""
        if self.pending_reboot:
            return rehearsal.pending_reboot
        if self.blue_green_ready:
            return rehearsal.blue_green_ready
        return None


def _no_target(op_type: str, target: str | None) -> None:
    if target is not None:
        raise BadInput(f"--target does not apply to demo --type {op_type}")


def _instance_cycle_params(target: str | None) -> dict[str, Any]:
    _no_target("instance_cycle", target)
    return {"only_pending_reboot": True}


SCENARIOS: dict[str, Scenario] = {
    s.op_type: s
    for s in (
        Scenario(
            "instance_type_change",
            "every instance to a new class through a temporary writer",
            params=lambda target: {"target_instance_type": target or "db.r6g.xlarge"},
            target_help="instance class (default db.r6g.xlarge)",
        ),
        Scenario(
            "storage_type_change",
            "the cluster's storage to I/O-Optimized, in place",
            params=lambda target: {"target_storage_type": target or "aurora-iopt1"},
            target_help="aurora or aurora-iopt1 (default aurora-iopt1)",
        ),
        Scenario(
            "instance_cycle",
            "a rolling reboot of the instances whose parameters wait for a reboot",
            params=_instance_cycle_params,
            pending_reboot=True,
        ),
        Scenario(
            "engine_upgrade",
            "aurora-postgresql 15.4 to 16.4 through a Blue/Green deployment (custom parameter groups copied, an "
            "RDS Proxy in front); the demo answers the pauses before the switchover and the clean-up with continue",
            params=lambda target: {"target_engine_version": target or "16.4"},
            target_help="engine version (default 16.4)",
            blue_green_ready=True,
            answer_pauses=True,
        ),
    )
}


def _fixed(op_type: str, target: str | None, params: dict[str, Any]) -> dict[str, Any]:
    _no_target(op_type, target)
    return dict(params)


def _instance_storage(target: str | None) -> dict[str, Any]:
    """gp3 above its baseline (the default); io1/io2 with IOPS within their ratio to 500 GiB (1 to 50 per GiB for
    io1, RDS user guide "Provisioned IOPS SSD storage"); anything else as given, for the plan to judge."""
    storage = target or "gp3"
    if storage == "gp3":
        return {"target_storage_type": "gp3", "iops": 15000, "storage_throughput": 600}
    if storage in ("io1", "io2"):
        return {"target_storage_type": storage, "iops": 6000}
    return {"target_storage_type": storage}


# A Multi-AZ PostgreSQL instance on gp2, 500 GiB: at 400 GiB and more, gp3 includes 12,000 IOPS and 500 MiB/s
# for PostgreSQL (RDS user guide, "gp3 storage"), so the demo asks for more than that baseline.
_ON_INSTANCE = Scenario(
    "storage_type_change",
    "a Multi-AZ PostgreSQL instance from gp2 (500 GiB) to gp3 with 15000 IOPS and 600 MiB/s, above gp3's "
    "baseline, online",
    params=_instance_storage,
    target_help="gp3 (default, with IOPS and throughput above the baseline), io1 or io2 (6000 IOPS)",
    cluster_id=DEMO_INSTANCE,
    engine="postgres",
    engine_version="15.7",
    instance_class="db.m6g.large",
    target_kind="instance",
    storage_type="gp2",
    allocated_storage=500,
)
# A Multi-AZ DB cluster as CreateDBCluster makes one by default: io1, with the IOPS it requires.
_ON_MULTI_AZ = Scenario(
    "storage_type_change",
    "a Multi-AZ DB cluster's storage from io1 (1000 IOPS) to io2 with 3000 IOPS, one ModifyDBCluster",
    params=lambda target: {"target_storage_type": target or "io2", "iops": 3000},
    target_help="io2 (default), io1 or gp3, with 3000 IOPS",
    cluster_id=DEMO_MULTI_AZ_CLUSTER,
    engine="postgres",
    engine_version="15.8",  # a version Multi-AZ DB clusters offer (rds_sim/multi_az_reference.py)
    instance_class="db.m6gd.large",
    target_kind="multi-az-cluster",
    storage_type="io1",
    allocated_storage=100,
    iops=1000,
)

INSTANCE_SCENARIOS = (
    _ON_INSTANCE,
    replace(
        _ON_INSTANCE,
        op_type="instance_type_change",
        summary="a Multi-AZ instance to a new class: RDS changes the standby first, then fails over",
        params=lambda target: {"target_instance_type": target or "db.m6g.xlarge"},
        target_help="instance class (default db.m6g.xlarge)",
    ),
    replace(
        _ON_INSTANCE,
        op_type="instance_cycle",
        summary="a reboot of a Multi-AZ instance with failover: the standby takes over first",
        params=lambda target: _fixed("instance_cycle", target, {}),
        target_help="(not used)",
    ),
    replace(
        _ON_INSTANCE,
        op_type="engine_upgrade",
        summary="a MySQL instance from 8.0.36 to 8.0.40 through a Blue/Green deployment; the demo answers the "
        "pauses before the switchover and the clean-up with continue",
        params=lambda target: {"target_engine_version": target or "8.0.40"},
        target_help="engine version (default 8.0.40)",
        engine="mysql",
        engine_version="8.0.36",
        storage_type="gp3",
        allocated_storage=100,
        answer_pauses=True,
    ),
)

MULTI_AZ_SCENARIOS = (
    _ON_MULTI_AZ,
    replace(
        _ON_MULTI_AZ,
        op_type="instance_type_change",
        summary="a Multi-AZ DB cluster to a new class (DBClusterInstanceClass), one ModifyDBCluster",
        params=lambda target: {"target_instance_type": target or "db.m6gd.xlarge"},
        target_help="instance class (default db.m6gd.xlarge)",
    ),
    replace(
        _ON_MULTI_AZ,
        op_type="instance_cycle",
        summary="a rolling reboot of a Multi-AZ DB cluster: the readers one at a time, then the writer with a failover",
        params=lambda target: _fixed("instance_cycle", target, {}),
        target_help="(not used)",
    ),
    replace(
        _ON_MULTI_AZ,
        op_type="engine_upgrade",
        summary="a Multi-AZ DB cluster from PostgreSQL 15.8 to 16.4 in place (Blue/Green does not support Multi-AZ "
        "DB clusters); the demo answers the plan's pauses with continue",
        params=lambda target: {"target_engine_version": target or "16.4", "method": "in_place"},
        target_help="engine version (default 16.4)",
        answer_pauses=True,
    ),
)

KIND_SCENARIOS: dict[tuple[str, str], Scenario] = {
    (s.target_kind, s.op_type): s for s in (*SCENARIOS.values(), *INSTANCE_SCENARIOS, *MULTI_AZ_SCENARIOS)
}


def show_cluster(title: str, cluster: dict[str, Any]) -> None:
    lines = rehearsal.cluster_lines(cluster)
    click.echo(f"{title}: {lines[0]}")
    for line in lines[1:]:
        click.echo(line)


def target_summary(sim: SimulatedAurora, scenario: Scenario) -> dict[str, Any]:
    """The demo's target as `sim show` describes it (a cluster with members, or a DB instance)."""
    if scenario.target_kind == "instance":
        return rehearsal.instance_summary(sim, scenario.cluster_id)
    return rehearsal.cluster_summary(sim, scenario.cluster_id)


def show_target(title: str, scenario: Scenario, summary: dict[str, Any]) -> None:
    if scenario.target_kind == "instance":
        click.echo(f"{title}: {rehearsal.instance_line(summary)}")
    else:
        show_cluster(title, summary)


def command(scenario: Scenario, params: dict[str, Any], flags: str) -> str:
    given = " ".join(
        f"--param {key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in params.items()
    )
    where = f"{scenario.target_flag} {scenario.cluster_id}"
    return f"$ rds-maint run --type {scenario.op_type} {where} {given}".rstrip() + flags


def _scenario(op_type: str, target_kind: str) -> Scenario:
    if target_kind not in TARGET_KINDS:
        raise BadInput(f"demo --target-kind {target_kind}: choose one of {', '.join(TARGET_KINDS)}")
    known = [t for (kind, t) in KIND_SCENARIOS if kind == target_kind]
    scenario = KIND_SCENARIOS.get((target_kind, op_type))
    if scenario is None:
        if target_kind == "aurora" or op_type not in SCENARIOS:
            raise BadInput(f"demo --type {op_type}: choose one of {', '.join(known)}")
        raise BadInput(f"demo --type {op_type} --target-kind {target_kind}: choose --type {' or '.join(known)}")
    return scenario


def prepare_demo(
    *,
    op_type: str,
    readers: int,
    target: str | None,
    speed: float,
    directory: Path | None,
    target_kind: str = "aurora",
) -> tuple[Scenario, dict[str, Any], Path]:
    """The scenario, its operation's params and the account made for it (in `directory` or a new temporary one)."""
    try:
        import moto  # noqa: F401 - only to say what is missing before anything is made
    except ImportError:
        raise BadInput("the demo needs moto: pip install 'rds-maint[sim]'") from None
    scenario = _scenario(op_type, target_kind)
    if speed <= 0:
        raise BadInput("--speed must be positive")
    params = scenario.params(target)
    account_dir = directory or Path(tempfile.mkdtemp(prefix="rds-maint-demo-")) / "account"
    if scenario.target_kind == "instance":
        instance = rehearsal.InstanceSpec(
            instance_id=scenario.cluster_id,
            engine=scenario.engine,
            engine_version=scenario.engine_version,
            instance_class=scenario.instance_class,
            multi_az=scenario.multi_az,
            storage_type=scenario.storage_type,
            allocated_storage=scenario.allocated_storage,
            iops=scenario.iops,
        )
        rehearsal.add_db_instance(account_dir, instance, speed=speed)
    elif scenario.target_kind == "multi-az-cluster":
        cluster = rehearsal.MultiAzClusterSpec(
            cluster_id=scenario.cluster_id,
            engine=scenario.engine,
            engine_version=scenario.engine_version,
            instance_class=scenario.instance_class,
            storage_type=scenario.storage_type,
            allocated_storage=scenario.allocated_storage,
            iops=scenario.iops,
        )
        rehearsal.add_multi_az_cluster(account_dir, cluster, speed=speed)
    else:
        spec = rehearsal.ClusterSpec(
            cluster_id=scenario.cluster_id,
            readers=readers,
            engine=scenario.engine,
            engine_version=scenario.engine_version,
            instance_class=scenario.instance_class,
            pending_reboot=scenario.pending_reboot,
            blue_green_ready=scenario.blue_green_ready,
        )
        rehearsal.add_cluster(account_dir, spec, speed=speed)
    return scenario, params, account_dir


def paused_before_a_step(op: Operation) -> bool:
    """Paused by the plan's own pause_before (not by trouble): what `answer_pauses` answers."""
    return op.state is OperationState.PAUSED and (op.pause_reason or "").startswith("Paused before step")
