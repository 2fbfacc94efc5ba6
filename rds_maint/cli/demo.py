"""`demo`: an operation on the embedded simulated Aurora (no AWS account needed)."""

from __future__ import annotations

import click

from rds_maint.cli import common

__all__ = ["demo"]


@click.command()
@common.common_options
@click.option(
    "--type",
    "op_type",
    default="instance_type_change",
    show_default=True,
    help="Operation to show: instance_type_change, storage_type_change, instance_cycle, ...",
)
@click.option("--readers", default=2, show_default=True, help="Readers in the simulated cluster.")
@click.option(
    "--target",
    default=None,
    help="The operation's target: instance class (db.r6g.xlarge), storage type (aurora-iopt1), ...",
)
@click.option("--speed", default=400.0, show_default=True, help="Virtual seconds per real second.")
def demo(op_type: str, readers: int, target: str | None, speed: float) -> None:
    """Run an operation on the embedded simulated Aurora (no AWS account needed)."""
    from rds_maint.demo import run_demo

    common.guard(lambda: run_demo(op_type=op_type, readers=readers, target=target, speed=speed, options=common.opts()))
