"""`reset`, `init` and `unlock`: an operator moves a paused operation, prepares a store, frees a lock."""

from __future__ import annotations

import click

from rds_maint.cli import common
from rds_maint.cli.answers import answering_actor
from rds_maint.errors import BadInput

__all__ = ["init", "reset", "unlock"]


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--step", "step_ref", required=True, help="Step id or name to go back (or forward) to.")
def reset(operation_id: str, step_ref: str) -> None:
    """Move a paused operation to a step; answer continue to run from there.

    The step is its id (s04: the 4th step `status` lists) or its name. Only a paused operation moves;
    nothing in AWS changes until it runs again.

    \b
    Example: go back to step s04 of a paused operation, then run from there
      rds-maint reset orders-prod-20260105-020000-dfc9b9 --step s04
      rds-maint resume orders-prod-20260105-020000-dfc9b9 --action continue --run
    """

    def body() -> int:
        engine = common.engine()
        result = engine.reset(operation_id, step_ref, actor=answering_actor())
        common.print_result(result)
        if common.opts().output == "text":
            click.echo(f"Answer with: rds-maint resume {operation_id} --action continue{common.store_flag()}")
        return common.exit_code(result)

    common.guard(body)


@click.command()
@common.common_options
def init() -> None:
    """Create the store's bucket or table (or directory) with the layout it needs.

    Run once per store, by someone allowed to create it; other commands never create storage.

    \b
    Examples:
      rds-maint init --store s3://my-bucket/rds-maint --region us-east-1
      rds-maint init --store dynamodb://rds-maint-state --region us-east-1
      rds-maint init --store file://./.rds-maint
    """

    def body() -> int:
        from rds_maint.store import init_store

        settings = common.opts().settings()
        for line in init_store(settings.store_url, settings.region, settings.profile):
            click.echo(line)
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@click.argument("cluster_id")
@click.option("--force", is_flag=True, help="Release the lock whatever operation holds it.")
@click.option("--comment", help="Why; kept in the holding operation's event log.")
def unlock(cluster_id: str, force: bool, comment: str | None) -> None:
    """Release a cluster's lock and its mark in AWS (an operator's last resort: the holder is not stopped).

    Without --force it only says which operation holds the lock.

    \b
    Examples:
      rds-maint unlock orders-prod --region us-east-1
      rds-maint unlock orders-prod --region us-east-1 --force --comment "runner died, checked the cluster"
    """

    def body() -> int:
        region = common.opts().settings().region
        if not region:
            raise BadInput(
                "--region is required (the cluster's region): pass it, set AWS_REGION, or give the profile one "
                "(aws configure set region us-east-1 --profile PROFILE)"
            )
        engine = common.engine()
        holder = engine.lock_holder(cluster_id, region)
        if holder is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked.")
            return common.EXIT_OK
        if not force:
            raise BadInput(
                f"cluster {cluster_id} in {region} is locked by operation '{holder}'. Releasing it lets another "
                "operation start while that one may still be changing the cluster; if you are sure, pass --force"
            )
        released = engine.force_unlock(cluster_id, region, comment)
        if released is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked (it was released meanwhile).")
            return common.EXIT_OK
        mark = " and its mark in AWS" if released.mark_removed else ""
        recorded = (
            f"recorded on {released.recorded_on}" if released.recorded_on else "not in this store: nothing recorded"
        )
        click.echo(f"Released the lock of {cluster_id}{mark} in {region} held by {released.holder}; {recorded}.")
        return common.EXIT_OK

    common.guard(body)
