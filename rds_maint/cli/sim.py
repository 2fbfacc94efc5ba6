"""`sim create` and `sim show`: a rehearsal account (a simulated RDS account in a directory) to run every
command against with `--simulate DIR`, no AWS account needed. It holds Aurora clusters (`--cluster`), DB
instances of their own (`--instance`, Multi-AZ unless `--single-az`) and Multi-AZ DB clusters
(`--multi-az-cluster`), each added by one `sim create`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from rds_maint.cli import common

__all__ = ["sim"]

# The flags that shape one kind of target only: given with another kind, refused rather than ignored.
_AURORA_ONLY = ("readers", "pending_reboot", "blue_green_ready")
_STORAGE = ("storage_type", "allocated_storage", "iops", "storage_throughput")
_WHAT = {"cluster": "an Aurora cluster", "instance": "a DB instance", "multi-az-cluster": "a Multi-AZ DB cluster"}


@click.group()
def sim() -> None:
    """A rehearsal account: a simulated RDS account (Aurora clusters, DB instances, Multi-AZ DB clusters)
    kept in a directory.

    \b
    Example:
      rds-maint sim create --dir ./rehearsal --cluster prod-pg --readers 2
      rds-maint sim create --dir ./rehearsal --instance orders-db --storage-type gp2 --allocated-storage 500
      rds-maint plan --type instance_cycle --cluster prod-pg --simulate ./rehearsal
    """


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kind(cluster: str | None, instance: str | None, multi_az_cluster: str | None) -> tuple[str, str]:
    """(kind, name) of the one target `sim create` adds; a usage error (exit 2) otherwise."""
    given = [
        (k, n) for k, n in (("cluster", cluster), ("instance", instance), ("multi-az-cluster", multi_az_cluster)) if n
    ]
    if len(given) != 1:
        named = " and ".join(f"--{k} {n}" for k, n in given) or "none"
        raise click.UsageError(f"give one of --cluster NAME, --instance NAME or --multi-az-cluster NAME (got {named})")
    return given[0]


def _refuse_foreign_flags(kind: str, given: dict[str, Any]) -> None:
    """Flags that do not shape this kind of target (they would be silently ignored): refused, nothing made."""
    foreign = [name for name in _AURORA_ONLY if kind != "cluster" and given[name] not in (None, False)]
    foreign += [name for name in _STORAGE if kind == "cluster" and given[name] is not None]
    if kind != "instance" and given["single_az"]:
        foreign.append("single_az")
    if kind == "multi-az-cluster" and given["storage_throughput"] is not None:
        foreign.append("storage_throughput")
    if foreign:
        raise click.UsageError(f"{', '.join(_flag(f) for f in foreign)} does not apply to {_WHAT[kind]} (--{kind})")


@sim.command()
@common.common_options
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where.")
@click.option("--cluster", help="Name of an Aurora cluster to add.")
@click.option("--instance", help="Name of a DB instance of its own to add (Multi-AZ unless --single-az).")
@click.option("--multi-az-cluster", help="Name of a Multi-AZ DB cluster (writer and two readable standbys) to add.")
@click.option("--readers", type=int, default=None, help="Aurora: readers besides the writer (0 to 15, default 2).")
@click.option(
    "--engine",
    default=None,
    help="aurora-postgresql (default) or aurora-mysql for --cluster; postgres (default), mysql or mariadb for "
    "--instance; postgres (default) or mysql for --multi-az-cluster.",
)
@click.option(
    "--version",
    "engine_version",
    default=None,
    help="Engine version (default: 15.4 for aurora-postgresql, the oldest the simulator knows for aurora-mysql, "
    "15.7 for postgres, 8.0.36 for mysql, 10.6.18 for mariadb).",
)
@click.option(
    "--instance-class",
    "--class",
    "instance_class",
    default=None,
    help="Class of every instance (default db.r6g.large for Aurora, db.m6g.large for a DB instance, "
    "db.m6gd.large for a Multi-AZ DB cluster).",
)
@click.option("--single-az", is_flag=True, help="--instance: a Single-AZ instance (no standby).")
@click.option("--storage-type", default=None, help="gp2 (default), gp3, io1, io2 or standard; io1 (default), io2 "
              "or gp3 for a Multi-AZ DB cluster.")  # fmt: skip
@click.option("--allocated-storage", type=int, default=None, help="Storage in GiB (default 100).")
@click.option("--iops", type=int, default=None, help="Provisioned IOPS (io1/io2; a Multi-AZ DB cluster: default 1000).")
@click.option("--storage-throughput", type=int, default=None, help="gp3 throughput in MiB/s (--instance).")
@click.option("--pending-reboot", is_flag=True, help="Every instance waits for a reboot (a static parameter changed).")
@click.option(
    "--blue-green-ready",
    is_flag=True,
    help="Custom parameter groups with logical replication and an RDS Proxy, as an engine upgrade needs.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="A tag on the cluster or DB instance (repeat for more), e.g. to rehearse a campaign by tag filter.",
)
@click.option("--speed", type=float, default=None, help="Simulated seconds per real second while commands wait.")
def create(directory: Path, speed: float | None, tags: tuple[str, ...], **given: Any) -> None:
    """Make a rehearsal account in DIR with a cluster or DB instance, or add one to the account there.

    \b
    Examples:
      rds-maint sim create --dir ./rehearsal --cluster prod-pg --readers 2 --pending-reboot
      rds-maint sim create --dir ./rehearsal --instance orders-db --storage-type gp2 --allocated-storage 500
      rds-maint sim create --dir ./rehearsal --instance small-db --single-az --engine mysql
      rds-maint sim create --dir ./rehearsal --multi-az-cluster ledger --storage-type io1 --iops 3000
      rds-maint sim create --dir ./rehearsal --cluster orders-a --tag team=orders --tag env=prod
    """
    kind, name = _kind(given["cluster"], given["instance"], given["multi_az_cluster"])
    _refuse_foreign_flags(kind, given)
    given["tags"] = _tag_pairs(tags)

    def body() -> int:
        ids, what = _add(directory, speed, kind, name, given)
        if common.opts().output == "json":
            key = "instance_id" if kind == "instance" else "cluster_id"
            data: dict[str, Any] = {"directory": str(directory), key: name, "kind": kind, "instances": ids}
            data["tags"] = dict(given["tags"])
            click.echo(json.dumps(data, indent=2))
        else:
            tagged = f", tagged {', '.join(f'{k}={v}' for k, v in given['tags'])}" if given["tags"] else ""
            click.echo(f"Rehearsal account {directory}: added {what}{tagged}: {', '.join(ids)}")
            click.echo(f"Try: {_try(kind, name)}{_simulate(directory)}")
        return common.EXIT_OK

    common.guard(body)


def _tag_pairs(tags: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`KEY=VALUE` flags as pairs (the value may be empty, the key may not); a usage error (exit 2) otherwise."""
    pairs = []
    for text in tags:
        key, equals, value = text.partition("=")
        if not equals or not key:
            raise click.UsageError(f"--tag {text!r}: give KEY=VALUE, e.g. --tag team=orders")
        pairs.append((key, value))
    return tuple(pairs)


def _simulate(directory: Path) -> str:
    from rds_maint.rehearsal import simulate_flag

    return simulate_flag(str(directory))


def _try(kind: str, name: str) -> str:
    if kind == "instance":
        return f"rds-maint plan --type storage_type_change --instance {name} --param target_storage_type=gp3"
    if kind == "multi-az-cluster":
        return f"rds-maint plan --type instance_cycle --cluster {name}"
    return f"rds-maint plan --type instance_type_change --cluster {name} --param target_instance_type=db.r6g.xlarge"


def _add(directory: Path, speed: float | None, kind: str, name: str, given: dict[str, Any]) -> tuple[list[str], str]:
    """The ids added and how to name what was added."""
    from rds_maint import rehearsal

    options = {k: given[k] for k in ("engine", "engine_version", "instance_class") if given[k] is not None}
    if kind == "instance":
        spec = rehearsal.InstanceSpec(
            instance_id=name,
            multi_az=not given["single_az"],
            tags=given["tags"],
            **options,
            **{k: given[k] for k in _STORAGE if given[k] is not None},
        )
        ids = rehearsal.add_db_instance(directory, spec, speed=speed)
        zones = "Multi-AZ" if spec.multi_az else "Single-AZ"
        version = spec.engine_version or rehearsal.default_version(spec.engine)
        storage = f"{spec.storage_type} {spec.allocated_storage} GiB"
        return ids, f"DB instance {name} ({spec.engine} {version}, {spec.instance_class}, {zones}, {storage})"
    if kind == "multi-az-cluster":
        az_spec = rehearsal.MultiAzClusterSpec(
            cluster_id=name,
            tags=given["tags"],
            **options,
            **{k: given[k] for k in _STORAGE[:3] if given[k] is not None},
        )
        ids = rehearsal.add_multi_az_cluster(directory, az_spec, speed=speed)
        version = az_spec.engine_version or rehearsal.default_version(az_spec.engine)
        storage = f"{az_spec.storage_type} {az_spec.allocated_storage} GiB, {az_spec.iops} IOPS"
        return ids, f"Multi-AZ DB cluster {name} ({az_spec.engine} {version}, {az_spec.instance_class}, {storage})"
    cluster_spec = rehearsal.ClusterSpec(
        cluster_id=name,
        readers=2 if given["readers"] is None else given["readers"],
        pending_reboot=given["pending_reboot"],
        blue_green_ready=given["blue_green_ready"],
        tags=given["tags"],
        **options,
    )
    ids = rehearsal.add_cluster(directory, cluster_spec, speed=speed)
    version = cluster_spec.engine_version or rehearsal.default_version(cluster_spec.engine)
    return ids, f"{name} ({cluster_spec.engine} {version})"


@sim.command()
@common.common_options
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path), help="Where.")
def show(directory: Path) -> None:
    """Show the rehearsal account in DIR: its clusters and their instances, its DB instances, the simulated time.

    \b
    Example:
      rds-maint sim show --dir ./rehearsal
    """
    from rds_maint.rehearsal import cluster_lines, describe_account, instance_line

    def body() -> int:
        account = describe_account(directory)
        if common.opts().output == "json":
            click.echo(json.dumps(account, indent=2))
            return common.EXIT_OK
        click.echo(
            f"Rehearsal account {account['directory']} ({account['region']}), simulated time {account['virtual_time']}"
        )
        for cluster in account["clusters"]:
            for line in cluster_lines(cluster):
                click.echo(line)
        for instance in account["instances"]:
            click.echo(instance_line(instance))
        return common.EXIT_OK

    common.guard(body)
