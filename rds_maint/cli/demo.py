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
    help="Operation to show: instance_type_change, storage_type_change, instance_cycle, engine_upgrade (each "
    "on every --target-kind).",
)
@click.option(
    "--target-kind",
    type=click.Choice(["aurora", "instance", "multi-az-cluster"]),
    default="aurora",
    show_default=True,
    help="What the operation runs on: an Aurora cluster, an RDS DB instance (Multi-AZ PostgreSQL or MySQL), "
    "or a Multi-AZ DB cluster.",
)
@click.option("--readers", default=None, type=int, help="Readers in the simulated Aurora cluster (default 2).")
@click.option(
    "--target",
    default=None,
    help="The operation's target value: instance class (db.r6g.xlarge), storage type (aurora-iopt1, gp3), engine "
    "version, ...",
)
@click.option("--speed", default=400.0, show_default=True, help="Virtual seconds per real second.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the rehearsal account here (default: a new temporary directory).",
)
def demo(
    op_type: str, target_kind: str, readers: int | None, target: str | None, speed: float, directory: Path | None
) -> None:
    """Run an operation on a simulated RDS account (no AWS account needed).

    \b
    Examples:
      rds-maint demo --type instance_cycle --readers 1
      rds-maint demo --type storage_type_change --target-kind instance
      rds-maint demo --type instance_cycle --target-kind multi-az-cluster
    """
    if readers is not None and target_kind != "aurora":
        raise click.UsageError(f"--readers is for an Aurora cluster, not --target-kind {target_kind}")

    def body() -> int:
        from rds_maint.demo import command, paused_before_a_step, prepare_demo, show_target, target_summary

        scenario, params, account_dir = prepare_demo(
            op_type=op_type,
            readers=2 if readers is None else readers,
            target=target,
            speed=speed,
            directory=directory,
            target_kind=target_kind,
        )
        options = common.opts()
        options.simulate = str(account_dir)
        text = options.output != "json"
        engine = common.engine()
        account = rehearsal.open_for_command(str(account_dir))
        if text:
            what = {"aurora": "Aurora", "instance": "RDS", "multi-az-cluster": "RDS"}[scenario.target_kind]
            click.echo(f"Rehearsal account {account_dir} (simulated {what}, {speed:g}x); nothing here reaches AWS")
            click.echo(f"Demo: {scenario.op_type}: {scenario.summary}\n")
            show_target("Before", scenario, target_summary(account.sim, scenario))
            click.echo(f"\n{command(scenario, params, common.store_flag())}\n")
        calls_before = len(account.sim.calls)
        request = {"type": scenario.op_type, scenario.request_key: scenario.cluster_id, "region": account.region}
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
            calls = account.sim.calls[calls_before:]  # before the view below, which asks the simulator too
            click.echo("")
            show_target("After", scenario, target_summary(account.sim, scenario))
            changes = sorted({c.operation for c in calls if c.applied and not c.operation.startswith("Describe")})
            click.echo(
                f"\nRDS calls: {len(calls)} (changes: {', '.join(changes) or 'none'}); "
                f"simulated time {account.clock.now():%H:%M:%S} UTC"
            )
            click.echo(f"Look at it: rds-maint status {op.id}{common.store_flag()}")
            click.echo(f"            rds-maint events {op.id}{common.store_flag()}")
        return code

    common.guard(body)
