"""`sim create` and `sim show`: a rehearsal account (a simulated Aurora account in a directory) to run
every command against with `--simulate DIR`, no AWS account needed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from rds_maint.cli import common

__all__ = ["sim"]


@click.group()
def sim() -> None:
    """A rehearsal account: a simulated Aurora account kept in a directory.

    \b
    Example:
      rds-maint sim create --dir ./rehearsal --cluster prod-pg --readers 2
      rds-maint plan --type instance_cycle --cluster prod-pg --simulate ./rehearsal
    """


@sim.command()
@common.common_options
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where.")
@click.option("--cluster", required=True, help="Name of the Aurora cluster to add.")
@click.option("--readers", default=2, show_default=True, help="Readers besides the writer (0 to 15).")
@click.option("--engine", default="aurora-postgresql", show_default=True, help="aurora-postgresql or aurora-mysql.")
@click.option(
    "--version",
    "engine_version",
    default=None,
    help="Engine version (default: 15.4 for aurora-postgresql, the oldest the simulator knows for aurora-mysql).",
)
@click.option("--instance-class", default="db.r6g.large", show_default=True, help="Class of every instance.")
@click.option("--pending-reboot", is_flag=True, help="Every instance waits for a reboot (a static parameter changed).")
@click.option(
    "--blue-green-ready",
    is_flag=True,
    help="Custom parameter groups with logical replication and an RDS Proxy, as an engine upgrade needs.",
)
@click.option("--speed", type=float, default=None, help="Simulated seconds per real second while commands wait.")
def create(
    directory: Path,
    cluster: str,
    readers: int,
    engine: str,
    engine_version: str | None,
    instance_class: str,
    pending_reboot: bool,
    blue_green_ready: bool,
    speed: float | None,
) -> None:
    """Make a rehearsal account in DIR with a cluster, or add a cluster to the account there.

    \b
    Example:
      rds-maint sim create --dir ./rehearsal --cluster prod-pg --readers 2 --pending-reboot
    """
    from rds_maint.rehearsal import ClusterSpec, add_cluster, default_version, simulate_flag

    def body() -> int:
        spec = ClusterSpec(
            cluster_id=cluster,
            readers=readers,
            engine=engine,
            engine_version=engine_version,
            instance_class=instance_class,
            pending_reboot=pending_reboot,
            blue_green_ready=blue_green_ready,
        )
        ids = add_cluster(directory, spec, speed=speed)
        if common.opts().output == "json":
            click.echo(json.dumps({"directory": str(directory), "cluster_id": cluster, "instances": ids}, indent=2))
        else:
            click.echo(
                f"Rehearsal account {directory}: added {cluster} ({engine} "
                f"{engine_version or default_version(engine)}): {', '.join(ids)}"
            )
            click.echo(
                f"Try: rds-maint plan --type instance_type_change --cluster {cluster} "
                f"--param target_instance_type=db.r6g.xlarge{simulate_flag(str(directory))}"
            )
        return common.EXIT_OK

    common.guard(body)


@sim.command()
@common.common_options
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where.")
def show(directory: Path) -> None:
    """Show the rehearsal account in DIR: its clusters, their instances, and the simulated time.

    \b
    Example:
      rds-maint sim show --dir ./rehearsal
    """
    from rds_maint.rehearsal import describe_account

    def body() -> int:
        account = describe_account(directory)
        if common.opts().output == "json":
            click.echo(json.dumps(account, indent=2))
            return common.EXIT_OK
        click.echo(
            f"Rehearsal account {account['directory']} ({account['region']}), simulated time {account['virtual_time']}"
        )
        for cluster in account["clusters"]:
            click.echo(
                f"{cluster['cluster_id']} ({cluster['engine']} {cluster['engine_version']}) is {cluster['status']}; "
                f"storage {cluster['storage_type']}"
            )
            for member in cluster["members"]:
                temporary = " (temporary)" if member["temporary"] else ""
                click.echo(
                    f"    {member['instance_id']:<32} {member['instance_class']:<16} {member['status']:<10} "
                    f"{member['role']:<7} parameters {member['parameters'] or '-'}{temporary}"
                )
        return common.EXIT_OK

    common.guard(body)
