"""A CLI process whose waits are steered: time passes on the world's clock and something happens meanwhile.

`status --watch` and a `run` stopped with Ctrl-C are tested through the real CLI; what happens while they
wait (another process drives the operation, the person presses Ctrl-C) is `SleepHook.between`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from click.testing import CliRunner, Result

from rds_maint import wiring
from rds_maint.cli import Options, main
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.store import StateStore, open_store
from rds_sim import VirtualClock
from tests.helpers.world import World

__all__ = ["SleepHook", "cli_with", "ctrl_c"]


class SleepHook:
    """A process's clock: each wait moves the virtual clock, then `between` happens (bounded by `limit`)."""

    def __init__(self, clock: VirtualClock, between: Callable[[], None], limit: int = 2000) -> None:
        self.clock, self.between, self.limit, self.sleeps = clock, between, limit, 0

    def now(self) -> datetime:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        assert self.sleeps <= self.limit, "waited for too long"
        self.clock.sleep(seconds)
        self.between()


def ctrl_c() -> None:
    """The person presses Ctrl-C while the process waits."""
    raise KeyboardInterrupt


def cli_with(world: World, clock: SleepHook, *args: str, store: StateStore | None = None) -> Result:
    """`rds-maint ARGS --store <the world's>` in a process whose clock is `clock` (and store `store`, if given)."""

    def engine_for(settings: Settings) -> Engine:
        opened = store or open_store(settings.store_url or world.store_url)
        return wiring.build_engine(settings, clock=clock, client_factory=world.client_factory, store=opened)

    return CliRunner().invoke(main, [*args, "--store", world.store_url], obj=Options(engine_factory=engine_for))
