"""`demo`: an operation on a rehearsal account the demo makes (no AWS account needed), driven as `run` drives
one, so Ctrl-C, the pauses and every command it prints behave as in a rehearsal."""

from __future__ import annotations

from pathlib import Path

import click

from rds_maint import rehearsal
from rds_maint.cli import common
from rds_maint.cli.driving import run_operation

__all__ = ["demo"]


@click.command()
@common.common_options
@click.option(
    "--type",
    "op_type",
    default="instance_type_change",
    show_default=True,
    help="Operation to show: instance_type_change, storage_type_change, instance_cycle, engine_upgrade.",
)
@click.option("--readers", default=2, show_default=True, help="Readers in the simulated cluster.")
@click.option(
    "--target",
    default=None,
    help="The operation's target: instance class (db.r6g.xlarge), storage type (aurora-iopt1), ...",
)
@click.option("--speed", default=400.0, show_default=True, help="Virtual seconds per real second.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the rehearsal account here (default: a new temporary directory).",
)
def demo(op_type: str, readers: int, target: str | None, speed: float, directory: Path | None) -> None:
    """Run an operation on a simulated Aurora account (no AWS account needed).

    \b
    Example:
      rds-maint demo --type instance_cycle --readers 1
    """

    def body() -> int:
        from rds_maint.demo import command, paused_before_a_step, prepare_demo, show_cluster

        scenario, params, account_dir = prepare_demo(
            op_type=op_type, readers=readers, target=target, speed=speed, directory=directory
        )
        options = common.opts()
        options.simulate = str(account_dir)
        text = options.output != "json"
        engine = common.engine()
        account = rehearsal.open_for_command(str(account_dir))
        if text:
            click.echo(f"Rehearsal account {account_dir} (simulated Aurora, {speed:g}x); nothing here reaches AWS")
            click.echo(f"Demo: {scenario.op_type}: {scenario.summary}\n")
            show_cluster("Before", rehearsal.cluster_summary(account.sim, scenario.cluster_id))
            click.echo(f"\n{command(scenario, params, common.store_flag())}\n")
        calls_before = len(account.sim.calls)
        request = {"type": scenario.op_type, "cluster_id": scenario.cluster_id, "region": account.region}
        op = engine.create({**request, "params": params})
        code = run_operation(engine, op.id, engine.clock.sleep)
        while scenario.answer_pauses and code == common.EXIT_PAUSED and paused_before_a_step(engine.store.load(op.id)):
            step = engine.store.load(op.id).current_step
            if text:
                click.echo(
                    f"\n  demo: a person would check, then answer: rds-maint resume {op.id} --action continue"
                    f"{common.store_flag()}\n  demo: answering the pause before "
                    f"'{step.name if step else '-'}' with continue\n"
                )
            engine.resume(op.id, "continue", comment="answered by the demo")
            code = run_operation(engine, op.id, engine.clock.sleep)
        if text:
            click.echo("")
            show_cluster("After", rehearsal.cluster_summary(account.sim, scenario.cluster_id))
            calls = account.sim.calls[calls_before:]
            changes = sorted({c.operation for c in calls if c.applied and not c.operation.startswith("Describe")})
            click.echo(
                f"\nRDS calls: {len(calls)} (changes: {', '.join(changes) or 'none'}); "
                f"simulated time {account.clock.now():%H:%M:%S} UTC"
            )
            click.echo(f"Look at it: rds-maint status {op.id}{common.store_flag()}")
            click.echo(f"            rds-maint events {op.id}{common.store_flag()}")
        return code

    common.guard(body)
