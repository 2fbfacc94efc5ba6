"""Rehearsal: every command on a simulated account kept in a directory (`--simulate DIR`), never AWS.

`rds-maint sim create --dir DIR --cluster NAME` makes the account (`rds_sim.account`) and adds
clusters to it; with `--simulate DIR` (or `RDS_MAINT_SIMULATE=DIR`) any command gets an engine on it
from `engine_on_account`: RDS through the account's simulator, the operations in `file://DIR/store`
(or a file:// `--store`), and a clock whose waits move the simulated time and save the account.

Why nothing can reach AWS: the account runs inside `moto.mock_aws()` for the whole command, the
process gets fake credentials and no profile (`config.isolate_from_aws`), a store that would live in
AWS (s3://, dynamodb://) is refused, status events are off, and the commands that only talk to Step
Functions (`respond`, `start-execution`) refuse with the command to use instead.

The account stays open (locked) until the command ends: it is closed on the root click context.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rds_maint import config, wiring
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.rds import make_rds_client

if TYPE_CHECKING:
    from rds_sim import SimulatedAurora
    from rds_sim.account import RehearsalAccount

__all__ = [
    "FAKE_CREDENTIALS",
    "INSTANCE_ENGINES",
    "INSTANCE_STORAGE_TYPES",
    "MAX_REAL_WAIT_SECONDS",
    "MULTI_AZ_CLUSTER_ENGINES",
    "MULTI_AZ_CLUSTER_STORAGE_TYPES",
    "ClusterSpec",
    "InstanceSpec",
    "MultiAzClusterSpec",
    "RehearsalClock",
    "add_cluster",
    "add_db_instance",
    "add_multi_az_cluster",
    "blue_green_ready",
    "check_tags",
    "cluster_lines",
    "cluster_summary",
    "default_version",
    "describe_account",
    "engine_on_account",
    "instance_line",
    "instance_summary",
    "open_for_command",
    "pending_reboot",
    "simulate_flag",
    "standalone_instance_ids",
    "storage_text",
]

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}
MAX_REAL_WAIT_SECONDS = 0.2  # a wait of any length costs at most this much real time
DEFAULT_POSTGRES_VERSION = "15.4"
STEP_FUNCTIONS_ONLY = ("respond", "start-execution")
_OPEN = "rds_maint.rehearsal.accounts"


class RehearsalClock:
    """The account's virtual clock as the engine's clock: a wait moves simulated time, sleeps a little for
    real (so a person can follow the progress) and saves the account (its clock included)."""

    def __init__(self, account: RehearsalAccount) -> None:
        self._account = account

    def now(self) -> datetime:
        return self._account.clock.now()

    def sleep(self, seconds: float) -> None:
        self._account.clock.advance(seconds)
        self._account.save()
        time.sleep(min(max(seconds, 0) / self._account.speed, MAX_REAL_WAIT_SECONDS))


def simulate_flag(directory: str | None) -> str:
    """The flag a printed "carry on with" command needs to reach the same account (empty: AWS)."""
    return f" --simulate {shlex.quote(directory)}" if directory else ""


def engine_on_account(directory: str, settings: Settings, *, store_flag_given: str | None) -> Engine:
    """An engine on the rehearsal account in `directory`, open until the running command ends."""
    context = click.get_current_context()
    command = context.info_name
    if command == "start-execution" and context.parent is not None and context.parent.info_name == "campaign":
        raise BadInput(
            "campaign start-execution talks to Step Functions, which a rehearsal account does not have; "
            f"drive the campaign here with: rds-maint campaign run ...{simulate_flag(directory)}"
        )
    if command in STEP_FUNCTIONS_ONLY:
        raise BadInput(
            f"{command} talks to Step Functions, which a rehearsal account does not have; "
            f"answer a pause with: rds-maint resume OPERATION_ID --action ACTION{simulate_flag(directory)}"
        )
    store_url = _store_url(Path(directory), store_flag_given)
    account = open_for_command(directory)
    if settings.region and settings.region != account.region:
        raise BadInput(f"the rehearsal account in {directory} is in {account.region}, not {settings.region}")
    # The request the command builds next takes its region from the environment: the account's.
    config.isolate_from_aws({**FAKE_CREDENTIALS, "AWS_REGION": account.region, "AWS_DEFAULT_REGION": account.region})
    settings = replace(settings, store_url=store_url, region=account.region, profile=None)
    return wiring.build_engine(
        settings,
        clock=RehearsalClock(account),
        client_factory=account.sim.clients(make_rds_client),
    )


def _store_url(directory: Path, given: str | None) -> str:
    if given is None:
        return f"file://{directory.resolve() / 'store'}"
    if not given.startswith("file://"):
        raise BadInput(f"--store {given} would be in AWS; with --simulate use a file:// store or none")
    return given


def open_for_command(directory: str) -> RehearsalAccount:
    """The account, opened once per command (a second engine in the same command shares it) and closed
    (saved, unlocked) when the command ends."""
    from rds_sim.account import AccountBusy, AccountError, open_account

    root = click.get_current_context().find_root()
    opened: dict[Path, RehearsalAccount] = root.meta.setdefault(_OPEN, {})
    key = Path(directory).resolve()
    if key not in opened:
        config.isolate_from_aws(FAKE_CREDENTIALS)
        stack = ExitStack()
        try:
            opened[key] = stack.enter_context(open_account(key))
        except AccountBusy as exc:
            raise RdsMaintError(str(exc)) from None
        except AccountError as exc:
            raise BadInput(str(exc)) from None
        root.call_on_close(stack.close)
    return opened[key]


# -- making the account (`rds-maint sim create`) -------------------------------------------------


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster to add: what `sim create` takes."""

    cluster_id: str
    readers: int = 2
    engine: str = "aurora-postgresql"
    engine_version: str | None = None  # None: `default_version(engine)`
    instance_class: str = "db.r6g.large"
    pending_reboot: bool = False
    blue_green_ready: bool = False
    # Tags on the cluster (`--tag KEY=VALUE`), e.g. to rehearse a campaign by tag filter.
    tags: tuple[tuple[str, str], ...] = ()


def pending_reboot(sim: SimulatedAurora, cluster_id: str, instance_ids: list[str]) -> None:
    """As after a change of a static parameter in the cluster's groups: every instance waits for a reboot."""
    for instance_id in instance_ids:
        sim.set_parameter_apply_status(instance_id, "pending-reboot")


def blue_green_ready(sim: SimulatedAurora, cluster_id: str, instance_ids: list[str]) -> None:
    """Blue/Green prerequisites met (custom cluster group with logical replication, writer in sync),
    custom instance parameters to carry over, and an RDS Proxy in front of the cluster."""
    sim.parameter_groups.use_custom_groups(
        cluster_id,
        cluster_parameters={"rds.logical_replication": "1", "max_replication_slots": "30"},
        instance_parameters={"log_min_duration_statement": "500"},
    )
    sim.proxies.seed_proxy(f"{cluster_id}-proxy", cluster_id)


def add_cluster(directory: Path, spec: ClusterSpec, *, speed: float | None = None) -> list[str]:
    """Add a cluster to the account in `directory` (made first if there is none); its instance ids,
    writer first. Refuses, changing nothing, a name already used, a readers count or an engine/version
    the simulator does not offer."""
    from rds_sim import Catalogue, valid_identifier

    catalogue = Catalogue()
    if not 0 <= spec.readers <= 15:
        raise BadInput(f"--readers {spec.readers}: an Aurora cluster has 0 to 15 readers")
    if spec.engine not in catalogue.engines():
        raise BadInput(f"--engine {spec.engine}: choose one of {', '.join(catalogue.engines())}")
    if spec.engine_version is not None and not catalogue.has_version(spec.engine, spec.engine_version):
        raise BadInput(
            f"--version {spec.engine_version} of {spec.engine}: choose one of "
            f"{', '.join(catalogue.versions(spec.engine))}"
        )
    longest_instance = f"{spec.cluster_id}-instance-{spec.readers + 1}"
    if not valid_identifier(spec.cluster_id) or not valid_identifier(longest_instance):
        raise BadInput(
            f"--cluster {spec.cluster_id!r}: a cluster name starts with a letter, has only letters, digits and "
            "single hyphens, does not end with a hyphen, and leaves room for its instances' names (at most "
            f"{63 - len(longest_instance) + len(spec.cluster_id)} characters here)"
        )
    check_tags(spec.tags)
    return _adding(directory, speed, spec.cluster_id, lambda account: _seed(account, spec, speed))


def _adding(
    directory: Path, speed: float | None, name: str, seed: Callable[[RehearsalAccount], list[str]]
) -> list[str]:
    """Open (or make) the account and run `seed` on it, saved only whole; refused, changing nothing, when
    `name` is already a cluster or a DB instance of the account (AWS keeps the two name spaces apart, but a
    rehearsal where `--cluster x` and `--instance x` both exist is a trap for the person typing)."""
    from rds_sim.account import DEFAULT_SPEED, AccountBusy, AccountError, create_account, is_account, open_account

    if speed is not None and speed <= 0:
        raise BadInput("--speed must be positive")
    config.isolate_from_aws(FAKE_CREDENTIALS)
    try:
        if not is_account(directory):
            create_account(directory, speed=speed or DEFAULT_SPEED)
        with open_account(directory) as account:
            if name in account.sim.cluster_ids():
                raise BadInput(f"the rehearsal account in {directory} already has a cluster {name}")
            if account.sim.instance_exists(name):
                raise BadInput(f"the rehearsal account in {directory} already has a DB instance {name}")
            try:
                return seed(account)
            except Exception:
                account.discard()  # half a cluster is never saved
                raise
    except AccountBusy as exc:
        raise RdsMaintError(str(exc)) from None
    except AccountError as exc:
        raise BadInput(str(exc)) from None
    except ValueError as exc:  # the simulator's refusal of a setting (a class the engine version does not offer)
        raise BadInput(str(exc)) from None


def _seed(account: RehearsalAccount, spec: ClusterSpec, speed: float | None) -> list[str]:
    if speed is not None:
        account.speed = speed
    ids = account.sim.seed_cluster(
        spec.cluster_id,
        engine=spec.engine,
        engine_version=spec.engine_version or default_version(spec.engine),
        instance_class=spec.instance_class,
        readers=spec.readers,
        tags=dict(spec.tags),
    )
    if spec.pending_reboot:
        pending_reboot(account.sim, spec.cluster_id, ids)
    if spec.blue_green_ready:
        blue_green_ready(account.sim, spec.cluster_id, ids)
    return ids


# -- DB instances and Multi-AZ DB clusters (issue 13) --------------------------------------------

# CreateDBInstance StorageType (botocore model): "gp2 | gp3 | io1 | io2 | standard"; the engines of a DB
# instance of its own that rds-maint plans for (DESIGN section 10).
INSTANCE_ENGINES = ("postgres", "mysql", "mariadb")
INSTANCE_STORAGE_TYPES = ("gp2", "gp3", "io1", "io2", "standard")
# CreateDBCluster (botocore model): a Multi-AZ DB cluster runs mysql or postgres, StorageType "io1 | io2 |
# gp3" (default io1), and Iops "is required to create a Multi-AZ DB cluster".
MULTI_AZ_CLUSTER_ENGINES = ("postgres", "mysql")
MULTI_AZ_CLUSTER_STORAGE_TYPES = ("io1", "io2", "gp3")
# What a rehearsal starts from when no --version is given: a version with upgrades to rehearse.
DEFAULT_INSTANCE_VERSIONS = {"postgres": "15.7", "mysql": "8.0.36", "mariadb": "10.6.18"}


@dataclass(frozen=True)
class InstanceSpec:
    """A DB instance of its own to add (`sim create --instance`)."""

    instance_id: str
    engine: str = "postgres"
    engine_version: str | None = None  # None: DEFAULT_INSTANCE_VERSIONS[engine]
    instance_class: str = "db.m6g.large"
    multi_az: bool = True
    storage_type: str = "gp2"
    allocated_storage: int = 100
    iops: int | None = None
    storage_throughput: int | None = None
    tags: tuple[tuple[str, str], ...] = ()  # on the instance (`--tag KEY=VALUE`)


@dataclass(frozen=True)
class MultiAzClusterSpec:
    """A Multi-AZ DB cluster to add (`sim create --multi-az-cluster`): a writer and two readable standbys."""

    cluster_id: str
    engine: str = "postgres"
    engine_version: str | None = None
    instance_class: str = "db.m6gd.large"
    storage_type: str = "io1"
    allocated_storage: int = 100
    iops: int | None = 1000
    tags: tuple[tuple[str, str], ...] = ()  # on the cluster (`--tag KEY=VALUE`)


def check_tags(tags: tuple[tuple[str, str], ...]) -> None:
    """Tags AWS would take (botocore's RDS model, shape `Tag`: a key of 1 to 128 characters, a value of at most
    256, neither starting with `aws:` or `rds:`), each key once: refused before anything is made."""
    seen: set[str] = set()
    for key, value in tags:
        if not key or len(key) > 128:
            raise BadInput(f"--tag {key}={value}: a tag key has 1 to 128 characters")
        if key.lower().startswith(("aws:", "rds:")) or value.lower().startswith(("aws:", "rds:")):
            raise BadInput(f"--tag {key}={value}: keys and values starting with aws: or rds: are AWS's own")
        if len(value) > 256:
            raise BadInput(f"--tag {key}=...: a tag value has at most 256 characters")
        if key in seen:
            raise BadInput(f"--tag {key} given twice: a resource has one value per tag key")
        seen.add(key)


def _tag_cluster(account: RehearsalAccount, cluster_id: str, tags: tuple[tuple[str, str], ...]) -> None:
    """Tag a cluster through the account's own RDS (AddTagsToResource), as a person would after creating it."""
    if not tags:
        return
    client = account.sim.clients(make_rds_client)(account.region)
    arn = client.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]["DBClusterArn"]
    client.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in tags])


def _check_name(flag: str, name: str, longest: str) -> None:
    from rds_sim import valid_identifier

    if not valid_identifier(name) or not valid_identifier(longest):
        raise BadInput(
            f"{flag} {name!r}: a name starts with a letter, has only letters, digits and single hyphens, does "
            f"not end with a hyphen and has at most {63 - len(longest) + len(name)} characters here"
        )


def _check_storage(storage_type: str, allowed: tuple[str, ...], allocated: int, iops: int | None, what: str) -> None:
    if storage_type not in allowed:
        raise BadInput(f"--storage-type {storage_type}: {what} takes one of {', '.join(allowed)}")
    if allocated <= 0:
        raise BadInput(f"--allocated-storage {allocated}: a size in GiB, above 0")
    if storage_type in ("io1", "io2") and iops is None:
        raise BadInput(f"--storage-type {storage_type} needs --iops (Provisioned IOPS storage is bought by the IOPS)")


def add_db_instance(directory: Path, spec: InstanceSpec, *, speed: float | None = None) -> list[str]:
    """Add a DB instance of its own to the account in `directory` (made first if there is none); `[its id]`.
    Refuses, changing nothing, a name already used, an engine it cannot run or storage AWS would refuse."""
    if spec.engine not in INSTANCE_ENGINES:
        raise BadInput(f"--engine {spec.engine}: a DB instance here runs one of {', '.join(INSTANCE_ENGINES)}")
    _check_name("--instance", spec.instance_id, spec.instance_id + "-old1")  # Blue/Green renames it so
    _check_storage(spec.storage_type, INSTANCE_STORAGE_TYPES, spec.allocated_storage, spec.iops, "a DB instance")
    check_tags(spec.tags)

    def seed(account: RehearsalAccount) -> list[str]:
        if speed is not None:
            account.speed = speed
        seeded = account.sim.seed_db_instance(
            spec.instance_id,
            engine=spec.engine,
            engine_version=spec.engine_version or DEFAULT_INSTANCE_VERSIONS[spec.engine],
            instance_class=spec.instance_class,
            multi_az=spec.multi_az,
            storage_type=spec.storage_type,
            allocated_storage=spec.allocated_storage,
            iops=spec.iops,
            storage_throughput=spec.storage_throughput,
            tags=dict(spec.tags),
        )
        return [seeded]

    return _adding(directory, speed, spec.instance_id, seed)


def add_multi_az_cluster(directory: Path, spec: MultiAzClusterSpec, *, speed: float | None = None) -> list[str]:
    """Add a Multi-AZ DB cluster to the account in `directory`; its instance ids, writer first."""
    if spec.engine not in MULTI_AZ_CLUSTER_ENGINES:
        raise BadInput(
            f"--engine {spec.engine}: a Multi-AZ DB cluster runs one of {', '.join(MULTI_AZ_CLUSTER_ENGINES)}"
        )
    _check_name("--multi-az-cluster", spec.cluster_id, spec.cluster_id + "-instance-3")
    what = "a Multi-AZ DB cluster"
    _check_storage(spec.storage_type, MULTI_AZ_CLUSTER_STORAGE_TYPES, spec.allocated_storage, spec.iops, what)
    if spec.iops is None:
        raise BadInput("--iops is required: CreateDBCluster needs Iops for a Multi-AZ DB cluster")

    check_tags(spec.tags)

    def seed(account: RehearsalAccount) -> list[str]:
        if speed is not None:
            account.speed = speed
        ids = account.sim.seed_multi_az_cluster(
            spec.cluster_id,
            engine=spec.engine,
            engine_version=spec.engine_version or DEFAULT_INSTANCE_VERSIONS[spec.engine],
            instance_class=spec.instance_class,
            storage_type=spec.storage_type,
            allocated_storage=spec.allocated_storage,
            iops=spec.iops,
        )
        _tag_cluster(account, spec.cluster_id, spec.tags)
        return ids

    return _adding(directory, speed, spec.cluster_id, seed)


def default_version(engine: str) -> str:
    """15.4 for aurora-postgresql (what the demos upgrade from), else the engine's oldest known version: one
    with upgrades to rehearse."""
    from rds_sim import Catalogue

    if engine in DEFAULT_INSTANCE_VERSIONS:
        return DEFAULT_INSTANCE_VERSIONS[engine]
    return DEFAULT_POSTGRES_VERSION if engine == "aurora-postgresql" else Catalogue().versions(engine)[0]


def describe_account(directory: Path) -> dict[str, Any]:
    """What `sim show` prints: the virtual time, the region and each cluster with its members."""
    from rds_sim.account import AccountBusy, AccountError, open_account

    config.isolate_from_aws(FAKE_CREDENTIALS)
    try:
        with open_account(directory) as account:
            return {
                "directory": str(directory),
                "region": account.region,
                "virtual_time": account.clock.now().isoformat(),
                "speed": account.speed,
                "clusters": [cluster_summary(account.sim, cid) for cid in account.sim.cluster_ids()],
                "instances": [instance_summary(account.sim, iid) for iid in standalone_instance_ids(account)],
            }
    except AccountBusy as exc:
        raise RdsMaintError(str(exc)) from None
    except AccountError as exc:
        raise BadInput(str(exc)) from None


def cluster_summary(sim: SimulatedAurora, cluster_id: str) -> dict[str, Any]:
    """A cluster as `sim show` and the demo print it: engine, status, storage, each member (a Multi-AZ DB
    cluster also its class, size and IOPS, which belong to the cluster)."""
    view = sim.cluster_view(cluster_id)
    multi_az: dict[str, Any] = {}
    if not view.engine.startswith("aurora"):
        # The class and storage belong to a Multi-AZ DB cluster (DescribeDBClusters shows them).
        client = sim.clients(make_rds_client)(sim.region)
        raw = client.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        multi_az = {
            "instance_class": raw.get("DBClusterInstanceClass"),
            "allocated_storage": raw.get("AllocatedStorage"),
            "iops": raw.get("Iops"),
            "storage_throughput": raw.get("StorageThroughput"),
        }
    return {
        "cluster_id": cluster_id,
        "kind": "aurora_cluster" if view.engine.startswith("aurora") else "multi_az_cluster",
        "engine": view.engine,
        "engine_version": view.engine_version,
        "status": view.status,
        "storage_type": view.storage_type,
        **multi_az,
        "writer": view.writer,
        "members": [
            {
                "instance_id": instance_id,
                "role": "writer" if instance_id == view.writer else "reader",
                "instance_class": member.instance_class,
                "status": member.status,
                "parameters": member.parameter_apply_status,
                "temporary": "rds-maint:operation-id" in member.tags,
            }
            for instance_id, member in sorted(view.members.items())
        ],
    }


def standalone_instance_ids(account: RehearsalAccount) -> list[str]:
    """The account's DB instances of their own (in no cluster), by name, as DescribeDBInstances lists them."""
    client = account.sim.clients(make_rds_client)(account.region)
    pages = client.get_paginator("describe_db_instances").paginate()
    found = [i for page in pages for i in page["DBInstances"] if not i.get("DBClusterIdentifier")]
    return sorted(str(i["DBInstanceIdentifier"]) for i in found)


def instance_summary(sim: SimulatedAurora, instance_id: str) -> dict[str, Any]:
    """A DB instance of its own as `sim show` and the demo print it: class, status, zones, storage."""
    raw = sim.instance_description(instance_id)
    pending = raw.get("PendingModifiedValues") or {}
    return {
        "instance_id": instance_id,
        "kind": "db_instance",
        "engine": raw.get("Engine"),
        "engine_version": raw.get("EngineVersion"),
        "instance_class": raw.get("DBInstanceClass"),
        "status": raw.get("DBInstanceStatus"),
        "multi_az": bool(raw.get("MultiAZ")),
        "availability_zone": raw.get("AvailabilityZone"),
        "secondary_availability_zone": raw.get("SecondaryAvailabilityZone"),
        "storage_type": raw.get("StorageType"),
        "allocated_storage": raw.get("AllocatedStorage"),
        "iops": raw.get("Iops"),
        "storage_throughput": raw.get("StorageThroughput"),
        "pending": {str(k): v for k, v in pending.items()},
    }


# -- what `sim show` and the demo print ---------------------------------------------------------


def storage_text(item: dict[str, Any]) -> str:
    """`gp3 500 GiB, 12000 IOPS, 500 MiB/s`."""
    text = f"{item.get('storage_type') or '-'}"
    if item.get("allocated_storage"):
        text += f" {item['allocated_storage']} GiB"
    if item.get("iops"):
        text += f", {item['iops']} IOPS"
    if item.get("storage_throughput"):
        text += f", {item['storage_throughput']} MiB/s"
    return text


def cluster_lines(cluster: dict[str, Any]) -> list[str]:
    """A cluster as `sim show` and the demo print it: a headline, then one line per member."""
    head = f"{cluster['cluster_id']} ({cluster['engine']} {cluster['engine_version']}) is {cluster['status']}; "
    if cluster.get("kind") == "multi_az_cluster":
        head = f"Multi-AZ DB cluster {head}class {cluster.get('instance_class')}, storage {storage_text(cluster)}"
    else:
        head += f"storage {cluster['storage_type']}"
    lines = [head]
    for member in cluster["members"]:
        temporary = " (temporary)" if member["temporary"] else ""
        lines.append(
            f"    {member['instance_id']:<32} {member['instance_class']:<16} {member['status']:<10} "
            f"{member['role']:<7} parameters {member['parameters'] or '-'}{temporary}"
        )
    return lines


def instance_line(instance: dict[str, Any]) -> str:
    """A DB instance of its own: engine, class, status, zones (the standby's too), storage, what is pending."""
    if instance["multi_az"]:
        zones = f"Multi-AZ {instance['availability_zone']} (standby {instance['secondary_availability_zone'] or '-'})"
    else:
        zones = f"Single-AZ {instance['availability_zone']}"
    pending = instance.get("pending") or {}
    waits = f"; pending {', '.join(f'{k}={v}' for k, v in sorted(pending.items()))}" if pending else ""
    return (
        f"DB instance {instance['instance_id']} ({instance['engine']} {instance['engine_version']}) is "
        f"{instance['status']}; {instance['instance_class']}, {zones}, storage {storage_text(instance)}{waits}"
    )
