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


def _unlock_target(cluster_id: str | None, cluster: str | None, instance: str | None) -> tuple[str, str]:
    """The one target `unlock` names: (id, "cluster" or "instance"); a usage error (exit 2) otherwise."""
    named = ((cluster_id, "cluster"), (cluster, "cluster"), (instance, "instance"))
    given = [(name, kind) for name, kind in named if name]
    if not given:
        raise click.UsageError("name the target: rds-maint unlock CLUSTER_ID, --cluster ID or --instance ID")
    if len(given) > 1:
        both = " and ".join(f"{kind} {name}" for name, kind in given)
        raise click.UsageError(f"name one target, not {both}: CLUSTER_ID (or --cluster ID) or --instance ID")
    return given[0]


@click.command()
@common.common_options
@click.argument("cluster_id", required=False)
@click.option("--cluster", help="The cluster (Aurora or Multi-AZ DB cluster), as CLUSTER_ID.")
@click.option("--instance", help="A DB instance instead of a cluster.")
@click.option("--force", is_flag=True, help="Release the lock whatever operation holds it.")
@click.option("--comment", help="Why; kept in the holding operation's event log.")
def unlock(cluster_id: str | None, cluster: str | None, instance: str | None, force: bool, comment: str | None) -> None:
    """Release a cluster's or DB instance's lock and its mark in AWS (an operator's last resort: the holder
    is not stopped).

    Without --force it only says which operation holds the lock.

    \b
    Examples:
      rds-maint unlock orders-prod --region us-east-1
      rds-maint unlock orders-prod --region us-east-1 --force --comment "runner died, checked the cluster"
      rds-maint unlock --instance orders-db --region us-east-1
    """
    target, kind = _unlock_target(cluster_id, cluster, instance)
    label = f"{kind} {target}"

    def body() -> int:
        # On a rehearsal account the engine comes first: the account gives the region.
        engine = common.engine() if common.simulate_dir() else None
        region = common.opts().settings().region
        if not region:
            raise BadInput(
                f"--region is required (the {kind}'s region): pass it, set AWS_REGION, or give the profile one "
                "(aws configure set region us-east-1 --profile PROFILE)"
            )
        engine = engine or common.engine()
        # A cluster keeps the call of old; a DB instance says its kind (the engine's lock and AWS-side mark
        # of an instance: helper E's `kind` keyword).
        if kind == "instance":
            holder = engine.lock_holder(target, region, kind="instance")
        else:
            holder = engine.lock_holder(target, region)
        if holder is None:
            click.echo(f"{label[0].upper()}{label[1:]} in {region} is not locked.")
            return common.EXIT_OK
        if not force:
            raise BadInput(
                f"{label} in {region} is locked by operation '{holder}'. Releasing it lets another "
                f"operation start while that one may still be changing the {kind}; if you are sure, pass --force"
            )
        if kind == "instance":
            released = engine.force_unlock(target, region, comment, kind="instance")
        else:
            released = engine.force_unlock(target, region, comment)
        if released is None:
            click.echo(f"{label[0].upper()}{label[1:]} in {region} is not locked (it was released meanwhile).")
            return common.EXIT_OK
        mark = " and its mark in AWS" if released.mark_removed else ""
        recorded = (
            f"recorded on {released.recorded_on}" if released.recorded_on else "not in this store: nothing recorded"
        )
        click.echo(f"Released the lock of {target}{mark} in {region} held by {released.holder}; {recorded}.")
        return common.EXIT_OK

    common.guard(body)
