"""`rds-maint demo`: a real operation on a rehearsal account (`rds-maint sim create`) the demo makes, through
the same engine, progress display and Ctrl-C as `rds-maint run --simulate DIR`. Needs moto (the `sim`
extra); reaches no AWS.

Every command the demo prints (`rds-maint run OP --simulate DIR`, `status`, `events`, `resume`) works
when copied: the account stays in its directory (a temporary one unless `--dir`).

Each operation type is one `Scenario` in `SCENARIOS`: how the simulated cluster is made and which
request runs on it. A new type is one more entry.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
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
    "SCENARIOS",
    "Scenario",
    "command",
    "paused_before_a_step",
    "prepare_demo",
    "show_cluster",
]

DEMO_CLUSTER = "demo-aurora-pg"


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


def show_cluster(title: str, cluster: dict[str, Any]) -> None:
    click.echo(
        f"{title}: {cluster['cluster_id']} ({cluster['engine']} {cluster['engine_version']}) is {cluster['status']}; "
        f"storage {cluster['storage_type']}"
    )
    for member in cluster["members"]:
        click.echo(
            f"    {member['instance_id']:<32} {member['instance_class']:<16} {member['status']:<10} "
            f"{member['role']:<7} parameters {member['parameters'] or '-'}"
        )


def command(scenario: Scenario, params: dict[str, Any], flags: str) -> str:
    given = " ".join(
        f"--param {key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in params.items()
    )
    return f"$ rds-maint run --type {scenario.op_type} --cluster {scenario.cluster_id} {given}{flags}"


def prepare_demo(
    *, op_type: str, readers: int, target: str | None, speed: float, directory: Path | None
) -> tuple[Scenario, dict[str, Any], Path]:
    """The scenario, its operation's params and the account made for it (in `directory` or a new temporary one)."""
    try:
        import moto  # noqa: F401 - only to say what is missing before anything is made
    except ImportError:
        raise BadInput("the demo needs moto: pip install 'rds-maint[sim]'") from None
    scenario = SCENARIOS.get(op_type)
    if scenario is None:
        raise BadInput(f"demo --type {op_type}: choose one of {', '.join(SCENARIOS)}")
    if speed <= 0:
        raise BadInput("--speed must be positive")
    params = scenario.params(target)
    account_dir = directory or Path(tempfile.mkdtemp(prefix="rds-maint-demo-")) / "account"
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
