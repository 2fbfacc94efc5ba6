"""`rds-maint demo`: a real operation on the embedded simulated Aurora, through the same engine and
progress display a user gets from `rds-maint run`. Needs moto (the `sim` extra); reaches no AWS.

Each operation type is one `Scenario` in `SCENARIOS`: how the simulated cluster is seeded and which
request runs on it. A new type is one more entry.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from rds_maint import config, wiring
from rds_maint.config import Settings
from rds_maint.errors import BadInput
from rds_maint.model import Outcome
from rds_maint.progress import Progress, drive
from rds_maint.rds import make_rds_client

__all__ = [
    "DEMO_CLUSTER",
    "DEMO_REGION",
    "FAKE_CREDENTIALS",
    "SCENARIOS",
    "Scenario",
    "run_demo",
]

if TYPE_CHECKING:
    from rds_sim import SimulatedAurora

DEMO_CLUSTER = "demo-aurora-pg"
DEMO_REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": DEMO_REGION,
}


@dataclass(frozen=True)
class Scenario:
    """One demo: the simulated cluster to seed and the operation params to run on it."""

    op_type: str
    summary: str
    # --target (None: not given) -> the operation's params; raise BadInput if --target makes no sense here.
    params: Callable[[str | None], dict[str, Any]]
    target_help: str = "(not used)"
    cluster_id: str = DEMO_CLUSTER
    engine: str = "aurora-postgresql"
    engine_version: str = "15.4"
    instance_class: str = "db.r6g.large"
    # After seeding (instance ids, writer first): whatever else the scene needs (storage, parameters, proxies).
    prepare: Callable[[SimulatedAurora, str, list[str]], None] | None = None
    # Answer the plan's own pauses (pause_before, e.g. before a switchover) with continue, as a person
    # would with `rds-maint resume OP --action continue`; the demo says so each time.
    answer_pauses: bool = False


def _no_target(op_type: str, target: str | None) -> None:
    if target is not None:
        raise BadInput(f"--target does not apply to demo --type {op_type}")


def _static_parameter_changed(sim: SimulatedAurora, cluster_id: str, instance_ids: list[str]) -> None:
    for instance_id in instance_ids:  # as after a change of a static parameter in the cluster's groups
        sim.set_parameter_apply_status(instance_id, "pending-reboot")


def _blue_green_ready(sim: SimulatedAurora, cluster_id: str, instance_ids: list[str]) -> None:
    """Blue/Green prerequisites met (custom cluster group with logical replication, writer in sync),
    custom instance parameters to carry over, and an RDS Proxy in front of the cluster."""
    sim.parameter_groups.use_custom_groups(
        cluster_id,
        cluster_parameters={"rds.logical_replication": "1", "max_replication_slots": "30"},
        instance_parameters={"log_min_duration_statement": "500"},
    )
    sim.proxies.seed_proxy(f"{cluster_id}-proxy", cluster_id)


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
            prepare=_static_parameter_changed,
        ),
        Scenario(
            "engine_upgrade",
            "aurora-postgresql 15.4 to 16.4 through a Blue/Green deployment (custom parameter groups copied, an "
            "RDS Proxy in front); the demo answers the pauses before the switchover and the clean-up with continue",
            params=lambda target: {"target_engine_version": target or "16.4"},
            target_help="engine version (default 16.4)",
            prepare=_blue_green_ready,
            answer_pauses=True,
        ),
    )
}


def _show_cluster(title: str, cluster_id: str, view: Any) -> None:
    storage = f"; storage {view.storage_type}" if view.storage_type else ""
    click.echo(f"{title}: {cluster_id} ({view.engine} {view.engine_version}) is {view.status}{storage}")
    for instance_id, member in sorted(view.members.items()):
        role = "writer" if instance_id == view.writer else "reader"
        click.echo(
            f"    {instance_id:<32} {member.instance_class:<16} {member.status:<10} {role:<7} "
            f"tier {member.promotion_tier:<3} parameters {member.parameter_apply_status or '-'}"
        )


def _command(scenario: Scenario, params: dict[str, Any]) -> str:
    flags = " ".join(
        f"--param {key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in params.items()
    )
    return f"$ rds-maint run --type {scenario.op_type} --cluster {scenario.cluster_id} {flags}".rstrip()


def run_demo(*, op_type: str, readers: int, target: str | None, speed: float, options: Any) -> int:
    try:
        from moto import mock_aws

        from rds_sim import SimulatedAurora, VirtualClock
    except ImportError:
        raise BadInput("the demo needs moto: pip install 'rds-maint[sim]'") from None
    scenario = SCENARIOS.get(op_type)
    if scenario is None:
        raise BadInput(f"demo --type {op_type}: choose one of {', '.join(SCENARIOS)}")
    if not 0 <= readers <= 15:
        raise BadInput("--readers must be between 0 and 15")
    if speed <= 0:
        raise BadInput("--speed must be positive")
    params = scenario.params(target)
    config.isolate_from_aws(FAKE_CREDENTIALS)  # nothing in the demo may reach a real account
    workdir = tempfile.mkdtemp(prefix="rds-maint-demo-")
    store_url = options.store or f"file://{workdir}"
    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=DEMO_REGION) as sim:
            ids = sim.seed_cluster(
                scenario.cluster_id,
                engine=scenario.engine,
                engine_version=scenario.engine_version,
                instance_class=scenario.instance_class,
                readers=readers,
            )
            if scenario.prepare is not None:
                scenario.prepare(sim, scenario.cluster_id, ids)
            engine = wiring.build_engine(
                Settings(store_url=store_url), clock=clock, client_factory=sim.clients(make_rds_client)
            )
            click.echo(f"Simulated Aurora (virtual clock, {speed:g}x); state in {store_url}")
            click.echo(f"Demo: {scenario.op_type}: {scenario.summary}\n")
            _show_cluster("Before", scenario.cluster_id, sim.cluster_view(scenario.cluster_id))
            click.echo(f"\n{_command(scenario, params)}\n")
            op = engine.create(
                {"type": scenario.op_type, "cluster_id": scenario.cluster_id, "region": DEMO_REGION, "params": params}
            )

            def sleep(seconds: float) -> None:
                clock.sleep(seconds)
                time.sleep(min(seconds / speed, 0.5))

            progress = Progress(engine, op.id, json_output=options.output == "json", store_flag=f" --store {store_url}")
            engine.start(op.id)
            result = drive(engine, op.id, sleep, progress)
            while (
                scenario.answer_pauses
                and result.outcome is Outcome.INTERVENTION
                and (result.pause_reason or "").startswith("Paused before step")
            ):
                click.echo(
                    f"\n  demo: a person would check, then answer: rds-maint resume {op.id} --action continue"
                    f"\n  demo: answering the pause before '{result.step_name}' with continue\n"
                )
                engine.resume(op.id, "continue", comment="answered by the demo")
                result = drive(engine, op.id, sleep, progress)
            progress.finish(result)
            click.echo("")
            _show_cluster("After", scenario.cluster_id, sim.cluster_view(scenario.cluster_id))
            mutating = sorted({c.operation for c in sim.calls if c.applied and not c.operation.startswith("Describe")})
            click.echo(
                f"\nRDS calls: {len(sim.calls)} (changes: {', '.join(mutating) or 'none'}); "
                f"virtual time {clock.now():%H:%M:%S} UTC"
            )
    return 0 if result.outcome is Outcome.COMPLETED else (3 if result.outcome is Outcome.INTERVENTION else 1)
