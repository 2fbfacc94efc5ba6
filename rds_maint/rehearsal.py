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
    "MAX_REAL_WAIT_SECONDS",
    "ClusterSpec",
    "RehearsalClock",
    "add_cluster",
    "blue_green_ready",
    "cluster_summary",
    "default_version",
    "describe_account",
    "engine_on_account",
    "open_for_command",
    "pending_reboot",
    "simulate_flag",
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
    command = click.get_current_context().info_name
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
    from rds_sim.account import DEFAULT_SPEED, AccountBusy, AccountError, create_account, is_account, open_account

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
    if speed is not None and speed <= 0:
        raise BadInput("--speed must be positive")
    config.isolate_from_aws(FAKE_CREDENTIALS)
    try:
        if not is_account(directory):
            create_account(directory, speed=speed or DEFAULT_SPEED)
        with open_account(directory) as account:
            if spec.cluster_id in account.sim.cluster_ids():
                raise BadInput(f"the rehearsal account in {directory} already has a cluster {spec.cluster_id}")
            try:
                return _seed(account, spec, speed)
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
    )
    if spec.pending_reboot:
        pending_reboot(account.sim, spec.cluster_id, ids)
    if spec.blue_green_ready:
        blue_green_ready(account.sim, spec.cluster_id, ids)
    return ids


def default_version(engine: str) -> str:
    """15.4 for aurora-postgresql (what the demos upgrade from), else the engine's oldest known version: one
    with upgrades to rehearse."""
    from rds_sim import Catalogue

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
            }
    except AccountBusy as exc:
        raise RdsMaintError(str(exc)) from None
    except AccountError as exc:
        raise BadInput(str(exc)) from None


def cluster_summary(sim: SimulatedAurora, cluster_id: str) -> dict[str, Any]:
    """A cluster as `sim show` and the demo print it: engine, status, storage, each member."""
    view = sim.cluster_view(cluster_id)
    return {
        "cluster_id": cluster_id,
        "engine": view.engine,
        "engine_version": view.engine_version,
        "status": view.status,
        "storage_type": view.storage_type,
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
