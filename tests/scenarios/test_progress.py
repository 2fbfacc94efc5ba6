"""What a person watching `rds-maint run` sees: a live line that ticks and fits an 80-column terminal,
expected and remaining times, the end-of-run summary measured from what the simulator did, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
from typing import Any, cast

import pytest
from click.testing import CliRunner, Result

from rds_maint import wiring
from rds_maint.cli import Options, main
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.model import Event
from rds_maint.progress.summary import duration
from rds_maint.store import StateStore, open_store
from tests.helpers import upgrade
from tests.helpers.world import World

CLEAR = "\r\033[K"
PARAMS = {"target_instance_type": "db.r6g.xlarge"}


def run(world: World, op_id: str, *args: str, **kwargs: Any) -> Result:
    return world.cli(["run", op_id, *args, "--store", world.store_url], **kwargs)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout is an 80-column terminal (click's runner captures output, so it is told, not asked)."""
    monkeypatch.setattr("rds_maint.progress.display.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LINES", "24")


def screen(raw: str, columns: int = 80) -> list[str]:
    """The lines an 80-column terminal is left showing: `\\r` returns, `ESC[K` erases to the end of the
    line, text wraps at the last column (a wrapped live line could not be cleared any more)."""
    lines: list[str] = []
    line: list[str] = []
    cursor = 0
    i = 0
    while i < len(raw):
        if raw.startswith("\033[K", i):
            del line[cursor:]
            i += 3
            continue
        char = raw[i]
        i += 1
        if char == "\r":
            cursor = 0
        elif char == "\n":
            lines.append("".join(line))
            line, cursor = [], 0
        else:
            if cursor == columns:  # the terminal wraps
                lines.append("".join(line))
                line, cursor = [], 0
            line[cursor : cursor + 1] = [char]
            cursor += 1
    lines.append("".join(line))
    return lines


def redraws(raw: str) -> list[str]:
    """Each text the live line was redrawn with."""
    return [part for part in raw.split(CLEAR)[1:] if part and "\n" not in part]


def events_of(world: World, op_id: str, type_: str) -> list[Event]:
    return [e for e in world.store.events(op_id) if e.type == type_]


@pytest.mark.usefixtures("terminal")
def test_live_line_ticks_every_second_of_a_long_wait_and_leaves_no_fragments(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create(PARAMS)
    result = run(world, op.id)
    raw = result.stdout_bytes.decode()
    assert result.exit_code == 0, raw

    shown = redraws(raw)
    assert shown and all(len(text) < 80 for text in shown)  # cut to the width, never wrapped
    # the wait for the temp instance: a redraw for each virtual second, the countdown to the next look ticking
    creating = [text for text in shown if text.startswith("  2/9 ")]
    assert [re.search(r"^  2/9 (\S+) of", text).group(1) for text in creating[:3]] == ["0s", "1s", "2s"]  # type: ignore[union-attr]
    assert "look in 2m00s" in creating[0] and "look in 1m59s" in creating[1]
    assert len(creating) > 300  # minutes of waiting, redrawn each second
    # the expected duration and time left of the step and of the whole operation
    assert re.match(r"  2/9 1s of ~\d+m, ~\d+m left \| all 1s of ~\d+m, ~\d+m left \| look in", creating[1])

    lines = screen(raw)
    assert not [line for line in lines if "look in" in line]  # no live line left behind in the scroll-back
    assert all(not line.startswith(("  2/", "  4/")) for line in lines)
    assert "  failover to orders-prod-instance-1 at " in raw  # the summary follows, on lines of its own


def _drain(fd: int, into: list[bytes]) -> None:
    """Read what the terminal shows until its other end is closed."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the slave end is closed
            return
        if not chunk:
            return
        into.append(chunk)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_on_a_pseudo_terminal_of_80_columns_the_live_line_fits(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl
    import pty
    import struct
    import termios

    op = world.create(PARAMS)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    shown: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, shown), daemon=True)
    reader.start()
    terminal = open(slave, "w", encoding="utf-8", closefd=False)  # noqa: SIM115  (closed below, with the pty)
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "__stdout__", terminal)  # where shutil.get_terminal_size asks for the width
    with pytest.raises(SystemExit) as exited:
        main.main(["run", op.id, "--store", world.store_url], obj=world.cli_options())
    terminal.flush()
    monkeypatch.undo()
    os.close(slave)
    reader.join(timeout=30)
    os.close(master)

    assert exited.value.code == 0
    raw = b"".join(shown).decode().replace("\r\n", "\n")  # the terminal's line discipline sends \r\n
    texts = redraws(raw)
    assert len(texts) > 300 and all(len(text) < 80 for text in texts)
    assert not [line for line in screen(raw) if "look in" in line]
    assert "AWS API calls (RDS): " in raw


def test_off_a_terminal_each_look_is_a_line_of_its_own(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    result = run(world, op.id)
    raw = result.stdout_bytes.decode()
    assert result.exit_code == 0, raw
    assert "\r" not in raw and "\033" not in raw
    looks = [line for line in raw.splitlines() if " ... " in line]
    assert looks and all(re.match(r"  \d\d:\d\d:\d\d  \.\.\. \d/9 ", line) for line in looks)
    assert any("look in 2m00s | create_temp_instance: waiting for" in line for line in looks)


def test_summary_measures_each_failover_and_counts_the_rds_calls(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    calls_before = len(world.sim.calls)
    result = run(world, op.id)
    assert result.exit_code == 0, result.output

    starts = events_of(world, op.id, "disruption_starting")
    ends = events_of(world, op.id, "disruption_finished")
    assert len(starts) == len(ends) == 2
    assert "Write interruptions: 2" in result.output
    for start, end in zip(starts, ends, strict=True):
        seconds = int((end.timestamp - start.timestamp).total_seconds())
        assert 0 < seconds < 300
        target = start.data["target"]
        assert f"  failover to {target} at {start.timestamp:%H:%M:%S} UTC: {seconds}s" in result.output
    made = len(world.sim.calls) - calls_before
    assert f"AWS API calls (RDS): {made}\n" in result.output
    finished = world.store.load(op.id)
    assert finished.started_at is not None and finished.completed_at is not None
    took = int((finished.completed_at - finished.started_at).total_seconds())
    assert f"Took {took // 60}m{took % 60:02d}s, of which 0s paused for a person." in result.output


def test_summary_counts_the_time_paused_across_runs(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS, pause_before_steps=["failback"])
    assert run(world, op.id).exit_code == 3
    world.clock.advance(600)  # the person takes ten minutes to check
    assert world.cli(["resume", op.id, "--action", "continue", "--store", world.store_url]).exit_code == 0
    finished = run(world, op.id)
    assert finished.exit_code == 0, finished.output
    assert "of which 10m00s paused for a person." in finished.output


def test_json_run_prints_one_document_with_the_summary(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    calls_before = len(world.sim.calls)
    result = run(world, op.id, "--output", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["outcome"] == "completed"
    summary = document["summary"]
    assert [stop["kind"] for stop in summary["write_interruptions"]] == ["failover", "failover"]
    assert all(0 < stop["seconds"] < 300 for stop in summary["write_interruptions"])
    assert summary["aws_calls"] == len(world.sim.calls) - calls_before


class CountingStore:
    """The store, counting each call by who made it: the display (rds_maint/progress) or anyone else."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.by_display = 0
        self.by_others = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            caller = traceback.extract_stack(limit=2)[0].filename
            if "/rds_maint/progress/" in caller:
                self.by_display += 1
            else:
                self.by_others += 1
            return attribute(*args, **kwargs)

        return counted


def test_watching_costs_fewer_store_calls_than_the_engine_makes(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create(PARAMS)
    counting = CountingStore(open_store(world.store_url))

    def engine_for(settings: Settings) -> Engine:
        store = cast(StateStore, counting)
        return wiring.build_engine(settings, clock=world.clock, client_factory=world.client_factory, store=store)

    result = CliRunner().invoke(
        main, ["run", op.id, "--store", world.store_url], obj=Options(engine_factory=engine_for)
    )
    assert result.exit_code == 0, result.output
    assert counting.by_others > 50  # the engine loads and saves at every look
    assert counting.by_display == 1  # the display: the event log once, for the summary


def test_ctrl_c_mid_wait_prints_the_summary_and_the_command_that_carries_on(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = world.create(PARAMS)
    start = world.clock.now()
    advance = world.clock.sleep

    def sleep_until_ctrl_c(seconds: float) -> None:
        if (world.clock.now() - start).total_seconds() > 15 * 60:
            raise KeyboardInterrupt
        advance(seconds)

    monkeypatch.setattr(world.clock, "sleep", sleep_until_ctrl_c)
    interrupted = run(world, op.id)
    assert interrupted.exit_code == 130, interrupted.output
    assert "Interrupted." in interrupted.output
    assert f"Carry on with: rds-maint run {op.id} --store {world.store_url}\n" in interrupted.output
    assert "Write interruptions: 1" in interrupted.output  # the failover to the temp instance, done before
    assert re.search(r"AWS API calls \(RDS\): \d+", interrupted.output)
    assert world.store.load(op.id).state.value == "running"

    monkeypatch.setattr(world.clock, "sleep", advance)
    carried_on = world.cli(["run", op.id, "--store", world.store_url])
    assert carried_on.exit_code == 0, carried_on.output
    assert "Write interruptions: 2" in carried_on.output
    assert {m.instance_class for m in world.sim.cluster_view(op.cluster).members.values()} == {"db.r6g.xlarge"}


def test_ctrl_c_in_json_mode_is_one_document(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = world.create(PARAMS)

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(world.clock, "sleep", ctrl_c)
    result = run(world, op.id, "--output", "json")
    assert result.exit_code == 130
    document = json.loads(result.output)
    assert document["interrupted"] is True
    assert document["carry_on"] == f"rds-maint run {op.id} --store {world.store_url}"


def test_a_blue_green_upgrade_summarises_its_switchover_and_the_pauses_it_waited(world: World) -> None:
    upgrade.seed(world)
    op = upgrade.create(world)
    result = run(world, op.id)
    while result.exit_code == 3:  # the planned pauses (before the switchover, ...): answered after 5 minutes
        world.clock.advance(300)
        assert world.cli(["resume", op.id, "--action", "continue", "--store", world.store_url]).exit_code == 0
        result = run(world, op.id)
    assert result.exit_code == 0, result.output

    [announced] = events_of(world, op.id, "disruption_starting")
    [start] = events_of(world, op.id, "switchover_requested")  # AWS may refuse the first asks: writes go on
    [end] = events_of(world, op.id, "disruption_finished")
    assert announced.timestamp <= start.timestamp < end.timestamp
    seconds = int((end.timestamp - start.timestamp).total_seconds())
    shown = duration(seconds)
    assert f"Write interruptions: 1\n  switchover at {start.timestamp:%H:%M:%S} UTC: {shown}\n" in result.output
    pauses = len(events_of(world, op.id, "operation_paused"))
    assert pauses == 2  # before the switchover and before the old cluster's deletion
    assert "of which 10m00s paused for a person." in result.output
