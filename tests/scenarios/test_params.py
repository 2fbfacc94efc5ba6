"""Parameters and words as a person meets them in the CLI: refusals that list what is valid and guess what was
meant, one list syntax, a key given once, `--pause-before` by id, name or action, and output that never shows
the engine's internal action identifiers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from rds_maint.actions import ACTIONS
from rds_maint.model import OperationType
from rds_maint.planning import parse_request
from rds_maint.stepfunctions import start_input
from tests.helpers.upgrade import seed as seed_for_upgrade
from tests.helpers.world import CLUSTER, REGION, World

WRITER, READER_2, READER_3 = (f"{CLUSTER}-instance-{n}" for n in (1, 2, 3))
TYPE_CHANGE = ["--type", "instance_type_change", "--cluster", CLUSTER, "--region", REGION]
TARGET = "target_instance_type=db.r6g.xlarge"


def yes(command: str) -> list[str]:
    """`run` creates an operation only when confirmed; these tests are not at a terminal."""
    return ["--yes"] if command == "run" else []


def cli(world: World, *args: str) -> Result:
    return world.cli([*args, "--store", world.store_url])


def assert_refused_and_nothing_done(world: World, result: Result) -> str:
    """Exit 2 with one line, no operation stored, nothing changed in AWS; the message."""
    assert result.exit_code == 2, result.output
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []
    return result.output


def plan_json(world: World, *args: str) -> dict[str, Any]:
    result = cli(world, "plan", *args, "--output", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


# -- unknown keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op_type", "params", "meant", "valid"),
    [
        (
            "instance_type_change",
            ["target_instanse_type=db.r6g.xlarge"],
            "target_instance_type",
            "exclude_instances, skip_temp_instance, target_instance_type",
        ),
        ("instance_cycle", ["exclude_instance=x"], "exclude_instances", "only_pending_reboot"),
        ("storage_type_change", ["target_storage_type=aurora-iopt1", "iop=3000"], "iops", "storage_throughput"),
        ("engine_upgrade", ["target_engine_version=16.4", "swichover_timeout=60"], "switchover_timeout", "skip_"),
    ],
)
def test_an_unknown_param_is_refused_with_the_valid_keys_and_a_guess(
    world: World, cluster_1w2r: list[str], op_type: str, params: list[str], meant: str, valid: str
) -> None:
    flags = [arg for p in params for arg in ("--param", p)]
    for command in ("plan", "create", "run"):
        output = assert_refused_and_nothing_done(
            world,
            cli(world, command, *yes(command), "--type", op_type, "--cluster", CLUSTER, "--region", REGION, *flags),
        )
        assert f"unknown parameter (did you mean '{meant}'?)" in output
        assert f"the parameters of {op_type}: " in output and valid in output


def test_an_unknown_request_key_in_the_input_file_is_refused_with_a_guess(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    request: dict[str, Any] = {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION}
    request |= {"params": {"target_instance_type": "db.r6g.xlarge"}, "pause_before": ["failback"]}
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    output = assert_refused_and_nothing_done(world, cli(world, "run", "--yes", "--input", str(path)))
    assert "unknown request key 'pause_before' (did you mean 'pause_before_steps'?)" in output
    assert "a request takes cluster_id, instance_id, params, pause_before_steps, region, type, wait_timeout" in output

    answer = world.handler({"action": "create", "params": request}, None)
    assert answer["error"] is not None and "did you mean 'pause_before_steps'?" in answer["error"]
    assert world.store.list_operations() == []


def test_a_start_input_with_keys_input_does_not_read_is_refused(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    request = {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION, "params": {}}
    path = tmp_path / "start.json"
    path.write_text(json.dumps({"params": request, "max_iterations": 10}))
    output = assert_refused_and_nothing_done(world, cli(world, "plan", "--input", str(path)))
    assert "is a start-execution input" in output and "not max_iterations" in output


def test_unknown_type_in_a_file_gets_a_guess(world: World, cluster_1w2r: list[str], tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"type": "instance_cycles", "cluster_id": CLUSTER, "region": REGION}))
    output = assert_refused_and_nothing_done(world, cli(world, "plan", "--input", str(path)))
    assert "unknown operation type 'instance_cycles' (did you mean 'instance_cycle'?)" in output


# -- --type is a choice -----------------------------------------------------------------------------


def test_type_choices_are_in_the_help_and_a_wrong_one_is_refused(world: World, cluster_1w2r: list[str]) -> None:
    choices = "|".join(t.value for t in OperationType)
    for command in ("plan", "create", "run", "start-execution"):
        shown = cli(world, command, "--help")
        assert shown.exit_code == 0 and f"[{choices}]" in shown.output, shown.output
    output = assert_refused_and_nothing_done(
        world, cli(world, "plan", "--type", "instance_resize", "--cluster", CLUSTER)
    )
    assert "'instance_resize' is not one of" in output and "'instance_type_change'" in output


# -- one list syntax, one value per key -----------------------------------------------------------------


@pytest.mark.parametrize(
    "excluded", [f"exclude_instances={READER_2},{READER_3}", f'exclude_instances=["{READER_2}", "{READER_3}"]']
)
def test_a_list_param_takes_commas_or_a_json_list(world: World, cluster_1w2r: list[str], excluded: str) -> None:
    plan = plan_json(world, *TYPE_CHANGE, "--param", TARGET, "--param", excluded)
    changed = [s["name"] for s in plan["steps"] if s["name"].startswith("modify_class:")]
    assert changed == [f"modify_class:{WRITER}"]


def test_a_broken_json_list_is_refused_with_the_syntax(world: World, cluster_1w2r: list[str]) -> None:
    output = assert_refused_and_nothing_done(
        world, cli(world, "plan", *TYPE_CHANGE, "--param", TARGET, "--param", f'exclude_instances=["{READER_2}"')
    )
    assert "not a JSON list" in output and "exclude_instances=a,b" in output


@pytest.mark.parametrize(
    ("first", "second"),
    [("target_instance_type=db.r6g.xlarge", "target_instance_type=db.r6g.2xlarge"), (TARGET, TARGET)],
)
def test_a_param_given_twice_is_refused_with_both_values(
    world: World, cluster_1w2r: list[str], first: str, second: str
) -> None:
    output = assert_refused_and_nothing_done(
        world, cli(world, "run", "--yes", *TYPE_CHANGE, "--param", first, "--param", second)
    )
    assert "--param target_instance_type is given twice" in output
    assert f"'{first.split('=')[1]}' and '{second.split('=')[1]}'" in output


def test_param_flags_override_the_input_file(world: World, cluster_1w2r: list[str], tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    params = {"target_instance_type": "db.r6g.xlarge", "exclude_instances": [READER_2]}
    path.write_text(json.dumps({"type": "instance_type_change", "cluster_id": CLUSTER, "params": params}))
    from_file = plan_json(world, "--input", str(path), "--region", REGION)
    overridden = plan_json(world, "--input", str(path), "--region", REGION, "--param", f"exclude_instances={READER_3}")
    assert f"modify_class:{READER_2}" not in [s["name"] for s in from_file["steps"]]
    names = [s["name"] for s in overridden["steps"]]
    assert f"modify_class:{READER_2}" in names and f"modify_class:{READER_3}" not in names


# -- --pause-before ------------------------------------------------------------------------------------


def test_pause_before_reboot_pauses_before_the_first_reboot(world: World, cluster_1w2r: list[str]) -> None:
    run = cli(
        world,
        "run",
        "--yes",
        "--type",
        "instance_cycle",
        "--cluster",
        CLUSTER,
        "--region",
        REGION,
        "--pause-before",
        "reboot",
    )
    assert run.exit_code == 3, run.output
    [op] = world.store.list_operations()
    first_reboot = next(s for s in op.steps if s.name.startswith("reboot:"))
    assert op.current_step_index == op.steps.index(first_reboot)
    assert f"Paused before step '{first_reboot.name}'" in run.output
    assert "RebootDBInstance" not in world.mutating_calls()

    carried_on = cli(world, "resume", op.id, "--action", "continue", "--run")
    assert carried_on.exit_code == 3, carried_on.output  # the next reboot pauses too: the word names every reboot
    assert world.mutating_calls().count("RebootDBInstance") == 1


@pytest.mark.parametrize(
    ("ref", "paused_at"),
    [
        ("s07", "failback"),
        ("FAILBACK", "failback"),
        ("failover", "failover_to_temp"),
        ("modify-class", f"modify_class:{WRITER}"),
        (f"MODIFY-CLASS:{READER_2}", f"modify_class:{READER_2}"),
        ("create-temp-instance", "create_temp_instance"),
    ],
)
def test_pause_before_takes_an_id_a_name_in_any_case_or_an_action(
    world: World, cluster_1w2r: list[str], ref: str, paused_at: str
) -> None:
    run = cli(world, "run", "--yes", *TYPE_CHANGE, "--param", TARGET, "--pause-before", ref)
    assert run.exit_code == 3, run.output
    [op] = world.store.list_operations()
    assert op.current_step is not None and op.current_step.name == paused_at
    assert f"Paused before step '{paused_at}'" in run.output


@pytest.mark.parametrize(
    ("ref", "guess"),
    [("reboot", None), ("failbak", "failback"), ("s99", None), ("create-temp", "create_temp_instance")],
)
def test_pause_before_nothing_in_the_plan_is_refused_with_the_choices(
    world: World, cluster_1w2r: list[str], ref: str, guess: str | None
) -> None:
    output = assert_refused_and_nothing_done(
        world, cli(world, "run", "--yes", *TYPE_CHANGE, "--param", TARGET, "--pause-before", ref)
    )
    assert f"cannot pause before '{ref}': no step of this plan matches it" in output
    assert "by id (s01-s09)" in output and "failover_to_temp" in output
    assert "by action (check, create-temp-instance, failover, modify-class, delete-temp-instance, verify)" in output
    if guess:
        assert f"(did you mean '{guess}'?)" in output
    else:
        assert "did you mean" not in output


def test_the_pause_before_help_lists_the_action_words(world: World) -> None:
    shown = cli(world, "run", "--help")
    flat = re.sub(r"-\s+", "-", " ".join(shown.output.split()))  # click wraps at hyphens
    assert "reboot, delete-temp-instance" in flat and "switchover" in flat and "create-temp-instance" in flat


@pytest.mark.parametrize("command", ["reset", "init", "unlock"])
def test_admin_commands_show_an_example(world: World, command: str) -> None:
    shown = cli(world, command, "--help")
    assert shown.exit_code == 0 and re.search(rf"^\s+rds-maint {command} \S", shown.output, re.MULTILINE), shown.output


# -- no internal names in what a person reads -----------------------------------------------------------


def internal_names(op_step_names: set[str]) -> re.Pattern[str]:
    """The step actions a person never types (identifiers with an underscore that are no step's name in
    this plan: a name is a word the plan prints on purpose), and the request key `pause_before_steps`."""
    hidden = sorted(a for a in ACTIONS if "_" in a and a not in op_step_names)
    return re.compile(r"\b(" + "|".join(hidden) + r"|pause_before_steps)\b", re.IGNORECASE)


def full_session(world: World, args: list[str], *, answer: str = "continue") -> str:
    """plan, run, every pause answered with `answer` and run on, then status and events: all the text."""
    outputs = [cli(world, "plan", *args).output]
    run = cli(world, "run", "--yes", *args)
    outputs.append(run.output)
    [op] = world.store.list_operations()
    for _ in range(6):
        if run.exit_code != 3:
            break
        run = cli(world, "resume", op.id, "--action", answer, "--run")
        outputs.append(run.output)
    assert run.exit_code in (0, 1), run.output
    outputs += [cli(world, "status", op.id).output, cli(world, "events", op.id).output]
    text = "\n".join(outputs)
    hidden = internal_names({s.name for s in world.store.load(op.id).steps})
    leaks = [line for line in text.splitlines() if hidden.search(line)]
    assert leaks == [], "\n".join(leaks)
    return text


@pytest.mark.parametrize(
    ("op_type", "params"),
    [
        ("instance_type_change", [TARGET]),
        ("storage_type_change", ["target_storage_type=aurora-iopt1"]),
        ("instance_cycle", []),
    ],
)
def test_a_full_run_shows_no_internal_name(
    world: World, cluster_1w2r: list[str], op_type: str, params: list[str]
) -> None:
    flags = [arg for p in params for arg in ("--param", p)]
    text = full_session(
        world, ["--type", op_type, "--cluster", CLUSTER, "--region", REGION, *flags, "--pause-before", "verify"]
    )
    assert "as planned at creation (--pause-before" in text


def test_an_engine_upgrade_shows_no_internal_name(world: World) -> None:
    seed_for_upgrade(world, proxy=True)
    args = [
        "--type",
        "engine_upgrade",
        "--cluster",
        CLUSTER,
        "--region",
        REGION,
        "--param",
        "target_engine_version=16.4",
    ]
    text = full_session(world, args)
    assert f"Blue/Green switchover of cluster {CLUSTER} is about to start" in text


def test_a_rollback_shows_no_internal_name(world: World, cluster_1w2r: list[str]) -> None:
    text = full_session(world, [*TYPE_CHANGE, "--param", TARGET, "--pause-before", "failback"], answer="rollback")
    assert f"Failover of cluster {CLUSTER} to {WRITER} is about to start" in text


# -- the start input documented for `aws stepfunctions start-execution` ---------------------------------


def test_the_readme_start_input_is_one_the_machine_and_the_engine_take() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"cat > start.json <<'JSON'\n(.*?)\nJSON\n", readme, re.DOTALL)
    assert block is not None, "README lacks the start.json example"
    start = json.loads(block.group(1))
    request = parse_request(start["params"])
    assert request.pause_before_steps == ["reboot", "failback"] and request.wait_timeout == 3600
    assert start == start_input(start["params"], intervention_timeout=start["intervention_timeout"])
