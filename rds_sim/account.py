"""A rehearsal account: a simulated Aurora account kept in a directory between processes.

`rds-maint sim create --dir DIR` makes one; every later command run with `--simulate DIR` opens it,
works on it and saves it, so a person can plan, run, interrupt, resume and inspect an operation one
command at a time, as against AWS, with the simulated clock moving only as the commands wait.

What is saved (one pickle, `DIR/account.pickle`): moto's RDS backend of the account's region (what
exists: clusters, instances, tags, parameter groups, proxies, Blue/Green deployments), the
simulator's own state (open transitions, parameter statuses, events, faults; `SimulatedAurora`
saves its state, never its handlers or the clients of the process) and the virtual clock.

Crash window: `open_account` saves after every RDS call the simulator answers (before the answer
reaches the caller), after every wait, and when the account is closed. A Ctrl-C or a crash therefore
loses at most the call in flight: its effect is gone as if AWS had never received it, and the caller
never saw its answer, so nothing the caller saved can depend on it. A save writes a new file and
renames it over the old one, so a crash during a save leaves the previous state whole. Loading a
pickle can run code: open only directories `sim create` made for you.

One command at a time: `DIR/account.lock` is held (an exclusive `flock`) while the account is open;
a second command waits up to `wait_seconds`, then gets `AccountBusy`.

It imports nothing from `rds_maint`: the drivers' side (`rds_maint.rehearsal`) builds an engine on it.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

from moto import mock_aws
from moto.rds.models import rds_backends

from rds_sim.aurora import SimulatedAurora
from rds_sim.clock import VirtualClock
from rds_sim.world import ACCOUNT

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_SPEED",
    "AccountBusy",
    "AccountError",
    "RehearsalAccount",
    "create_account",
    "is_account",
    "open_account",
]

STATE_FILE = "account.pickle"
LOCK_FILE = "account.lock"
FORMAT = 1
DEFAULT_REGION = "us-east-1"
DEFAULT_SPEED = 600.0  # virtual seconds per real second while a command waits
LOCK_POLL_SECONDS = 0.1


class AccountError(Exception):
    """The directory holds no usable rehearsal account (missing, another format, another moto)."""


class AccountBusy(AccountError):
    """Another command has the account open."""


@dataclass
class RehearsalAccount:
    """An open rehearsal account: the simulator (its clock inside), where it is saved, how fast waits go."""

    directory: Path
    sim: SimulatedAurora
    speed: float
    discarded: bool = False  # `discard()`: the block's changes are not saved when it ends

    @property
    def region(self) -> str:
        return self.sim.region

    @property
    def clock(self) -> VirtualClock:
        return self.sim.clock

    def discard(self) -> None:
        """Leave the saved account as it was when opened (a change refused half-way); only for changes made
        without a simulated call, which saves at once (setting the scene, `sim create`)."""
        self.discarded = True

    def save(self) -> None:
        """Write the whole account atomically (a new file renamed over the old one)."""
        if self.discarded:
            return
        state = {
            "format": FORMAT,
            "moto": version("moto"),
            "speed": self.speed,
            "sim": self.sim,
            "backend": rds_backends[ACCOUNT][self.region],
        }
        target = self.directory / STATE_FILE
        partial = target.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(state))
        os.replace(partial, target)


def is_account(directory: Path) -> bool:
    return (directory / STATE_FILE).is_file()


def create_account(directory: Path, *, region: str = DEFAULT_REGION, speed: float = DEFAULT_SPEED) -> None:
    """An empty account in `directory` (made if missing); refuses a directory that already holds one."""
    if speed <= 0:
        raise AccountError("the speed must be positive")
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory, wait_seconds=0):
        if is_account(directory):
            raise AccountError(f"{directory} already holds a rehearsal account")
        with mock_aws():
            RehearsalAccount(directory, SimulatedAurora(clock=VirtualClock(), region=region), speed).save()


@contextmanager
def open_account(directory: Path, *, wait_seconds: float = 5.0) -> Iterator[RehearsalAccount]:
    """The account in `directory`, locked, inside its own `moto.mock_aws()`; saved after every RDS call
    the simulator answers and when the block ends (whatever ends it)."""
    if not is_account(directory):
        raise AccountError(
            f"{directory} holds no rehearsal account; make one with: rds-maint sim create --dir {directory}"
        )
    with _locked(directory, wait_seconds=wait_seconds), mock_aws():
        account = _load(directory)
        account.sim.after_call = account.save
        try:
            with account.sim:
                yield account
        finally:
            account.save()


def _load(directory: Path) -> RehearsalAccount:
    try:
        state: dict[str, Any] = pickle.loads((directory / STATE_FILE).read_bytes())
    except (OSError, pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
        raise AccountError(f"the rehearsal account in {directory} cannot be read ({exc}); make a new one") from None
    if state.get("format") != FORMAT or state.get("moto") != version("moto"):
        raise AccountError(
            f"the rehearsal account in {directory} was saved by another version of the simulator "
            f"(moto {state.get('moto')}, this is moto {version('moto')}); make a new one"
        )
    sim: SimulatedAurora = state["sim"]
    rds_backends[ACCOUNT][sim.region] = state["backend"]
    return RehearsalAccount(directory, sim, float(state["speed"]))


@contextmanager
def _locked(directory: Path, *, wait_seconds: float) -> Iterator[None]:
    with open(directory / LOCK_FILE, "a+") as handle:
        _acquire(handle, directory, wait_seconds)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: IO[str], directory: Path, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise AccountBusy(
                    f"the rehearsal account in {directory} is in use by another command (process {holder}); "
                    "wait for it to end, or stop it with Ctrl-C"
                ) from None
            time.sleep(LOCK_POLL_SECONDS)
