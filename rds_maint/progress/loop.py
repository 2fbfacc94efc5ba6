"""The in-process loop that drives the engine: advance, then sleep as long as the engine asks.

While a display watches on a terminal the sleep is cut into one-second slices with a redraw after
each, so the clock on the live line ticks through waits of minutes. The slices sleep on the sleep the
caller gives (the engine's clock: virtual in tests and rehearsals), so the ticks are the clock's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rds_maint.engine import Engine
from rds_maint.model import Outcome, StepResult
from rds_maint.progress.display import Progress

__all__ = ["MAX_CONFLICT_RETRIES", "TICK_SECONDS", "drive", "listening"]

MAX_CONFLICT_RETRIES = 5
TICK_SECONDS = 1.0


@contextmanager
def listening(engine: Engine, progress: Progress | None) -> Iterator[None]:
    """`progress` hears of each save of `engine` while inside (once, however deeply nested)."""
    if progress is None or progress.listen in engine.listeners:
        yield
        return
    engine.listeners.append(progress.listen)
    try:
        yield
    finally:
        engine.listeners.remove(progress.listen)


def drive(
    engine: Engine,
    op_id: str,
    sleep: Callable[[float], None],
    progress: Progress | None = None,
    max_calls: int | None = None,
) -> StepResult:
    """Call `advance` until the operation completes, fails or needs a person, honouring wait_seconds."""
    calls = 0
    conflicts = 0
    with listening(engine, progress):
        while True:
            result = engine.advance(op_id)
            calls += 1
            if progress:
                progress.update(result)
            if result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
                return result
            if result.error and result.error.startswith("conflict"):
                conflicts += 1
                if conflicts > MAX_CONFLICT_RETRIES:
                    return result
                sleep(1)
                continue
            conflicts = 0
            if max_calls is not None and calls >= max_calls:
                return result
            if result.outcome is Outcome.WAIT:
                _wait(sleep, result.wait_seconds, progress)


def _wait(sleep: Callable[[float], None], seconds: float, progress: Progress | None) -> None:
    if progress is None or not progress.live.on_terminal:
        sleep(seconds)
        return
    left = float(seconds)
    while left > 0:
        step = min(TICK_SECONDS, left)
        sleep(step)
        left -= step
        progress.tick()
