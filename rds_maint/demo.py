"""`rds-maint demo`: a real operation on the embedded simulated Aurora, through the same engine and
progress display a user gets from `rds-maint run`. Needs moto (the `sim` extra); reaches no AWS."""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import click

from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.model import Outcome
from rds_maint.progress import Progress, drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import open_store

DEMO_CLUSTER = "demo-aurora-pg"
DEMO_REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": DEMO_REGION,
}


def _show_cluster(title: str, view: Any) -> None:
    click.echo(f"{title}: {DEMO_CLUSTER} is {view.status}, writer {view.writer}")
    for instance_id, member in sorted(view.members.items()):
        role = "writer" if instance_id == view.writer else "reader"
        click.echo(f"    {instance_id:<32} {member.instance_class:<16} {member.status:<10} {role}")


def run_demo(*, op_type: str, readers: int, target: str, speed: float, options: Any) -> int:
    try:
        from moto import mock_aws

        from rds_maint.sim import SimulatedAurora, VirtualClock
    except ImportError:
        raise BadInput("the demo needs moto: pip install 'rds-maint[sim]'") from None
    if op_type != "instance_type_change":
        raise BadInput(f"demo --type {op_type}: this version demonstrates instance_type_change")
    if not 0 <= readers <= 15:
        raise BadInput("--readers must be between 0 and 15")
    if speed <= 0:
        raise BadInput("--speed must be positive")
    os.environ.update(FAKE_CREDENTIALS)  # nothing in the demo may reach a real account
    os.environ.pop("AWS_PROFILE", None)
    workdir = tempfile.mkdtemp(prefix="rds-maint-demo-")
    store_url = options.store or f"file://{workdir}"
    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=DEMO_REGION) as sim:
            sim.seed_cluster(
                DEMO_CLUSTER,
                engine="aurora-postgresql",
                engine_version="15.4",
                instance_class="db.r6g.large",
                readers=readers,
            )
            engine = Engine(
                open_store(store_url),
                lambda region: RdsGateway(make_rds_client(region), sleep=clock.sleep),
                clock,
            )
            click.echo(f"Simulated Aurora (virtual clock, {speed:g}x); state in {store_url}\n")
            _show_cluster("Before", sim.cluster_view(DEMO_CLUSTER))
            click.echo(
                f"\n$ rds-maint run --type instance_type_change --cluster {DEMO_CLUSTER} "
                f"--param target_instance_type={target}\n"
            )
            op = engine.create(
                {
                    "type": op_type,
                    "cluster_id": DEMO_CLUSTER,
                    "region": DEMO_REGION,
                    "params": {"target_instance_type": target},
                }
            )

            def sleep(seconds: float) -> None:
                clock.sleep(seconds)
                time.sleep(min(seconds / speed, 0.5))

            progress = Progress(engine, op.id, json_output=options.output == "json", store_flag=f" --store {store_url}")
            engine.start(op.id)
            result = drive(engine, op.id, sleep, progress)
            progress.finish(result)
            click.echo("")
            _show_cluster("After", sim.cluster_view(DEMO_CLUSTER))
            created = len(sim.successful_calls("CreateDBInstance"))
            click.echo(
                f"\nRDS calls: {len(sim.calls)} ({created} temp instance created); "
                f"virtual time {clock.now():%H:%M:%S} UTC"
            )
    return 0 if result.outcome is Outcome.COMPLETED else (3 if result.outcome is Outcome.INTERVENTION else 1)
