"""One place for errors and one for the environment: what a newcomer looks up must be where it is said to be.

rds_maint.errors holds every exception type of the product; rds_maint.config is the only reader of the
process environment. The simulator (the rds_sim package) models AWS and is outside both rules.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import rds_maint
from rds_maint import config, errors
from rds_maint.actions.polling import EXPECTED_SECONDS, PollPolicy
from rds_maint.cli import main

PACKAGE = Path(rds_maint.__file__).parent
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:rds-maint-machine"


def product_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def product_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages([str(PACKAGE)], "rds_maint.")]


def test_every_exception_type_of_the_product_is_defined_in_errors_and_listed_in_its_all() -> None:
    defined: dict[str, str] = {}
    for name in product_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                defined[f"{name}.{attr}"] = name
    elsewhere = sorted(qualified for qualified, module in defined.items() if module != "rds_maint.errors")
    assert elsewhere == [], f"exception types outside rds_maint.errors: {elsewhere}"
    ours = {q.rsplit(".", 1)[1] for q in defined}
    assert {"NeedsPerson", "AnswerRefused", "BadInput", "StoreError"} <= ours
    assert sorted(errors.__all__) == sorted(ours)


def test_no_two_classes_of_the_product_share_a_name() -> None:
    owners: dict[str, set[str]] = {}
    for name in product_modules():
        for attr, value in vars(importlib.import_module(name)).items():
            if inspect.isclass(value) and value.__module__ == name:
                owners.setdefault(attr, set()).add(name)
    assert {attr: mods for attr, mods in owners.items() if len(mods) > 1} == {}
    assert not hasattr(importlib.import_module("rds_maint.actions.base"), "Outcome"), "Outcome is the StepResult enum"


def test_only_config_reads_the_environment() -> None:
    readers = []
    for path in product_sources():
        if path == PACKAGE / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno} os.{node.attr}")
            if isinstance(node, ast.keyword) and node.arg in ("envvar", "auto_envvar_prefix"):
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno} click {node.arg}=")
    assert readers == []


def test_the_state_machine_arn_comes_from_the_environment_unless_the_flag_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "state"
    runner = CliRunner()
    args = ["start-execution", "op-1", "--region", "us-east-1", "--store", f"file://{store}"]
    monkeypatch.setenv("RDS_MAINT_STATE_MACHINE_ARN", "not-an-arn")
    from_env = runner.invoke(main, args)
    assert from_env.exit_code == 2 and "--state-machine-arn 'not-an-arn' is not a state machine ARN" in from_env.output
    flag = runner.invoke(main, [*args, "--state-machine-arn", "flag-arn"])
    assert flag.exit_code == 2 and "'flag-arn' is not a state machine ARN" in flag.output
    monkeypatch.setenv("RDS_MAINT_STATE_MACHINE_ARN", "")
    empty = runner.invoke(main, args)
    assert empty.exit_code == 2 and "--state-machine-arn is required (or RDS_MAINT_STATE_MACHINE_ARN)" in empty.output
    assert not store.exists(), "a refused start writes nothing"
    monkeypatch.setenv("RDS_MAINT_STATE_MACHINE_ARN", MACHINE)
    assert config.state_machine_arn() == MACHINE


@pytest.mark.parametrize(
    ("interval", "overrides", "fixed", "failover"),
    [
        ("45", '{"failover": 12, "modify": "fast", "reboot": -3}', 45, 12.0),
        (" 7 ", "[1, 2]", 7, EXPECTED_SECONDS["failover"]),
        ("0", "not json", None, EXPECTED_SECONDS["failover"]),
        ("-5", "", None, EXPECTED_SECONDS["failover"]),
        ("soon", '{"failover": 0}', None, EXPECTED_SECONDS["failover"]),
    ],
)
def test_malformed_poll_settings_are_ignored_as_before(
    monkeypatch: pytest.MonkeyPatch, interval: str, overrides: str, fixed: int | None, failover: float
) -> None:
    monkeypatch.setenv("RDS_MAINT_POLL_INTERVAL", interval)
    monkeypatch.setenv("RDS_MAINT_EXPECTED_SECONDS", overrides)
    policy = PollPolicy.from_env()
    assert policy.fixed == fixed
    assert policy.expected["failover"] == failover
    assert policy.expected["modify"] == EXPECTED_SECONDS["modify"]
    assert policy.next_wait("modify", 0) == (fixed if fixed is not None else PollPolicy().next_wait("modify", 0))


def test_region_status_events_and_bus_keep_their_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert config.Settings.from_env().region == "eu-west-1"
    assert config.Settings.from_env(region="us-east-2").region == "us-east-2"
    for off in ("off", " FALSE ", "0", "No"):
        monkeypatch.setenv("RDS_MAINT_STATUS_EVENTS", off)
        assert config.status_events_enabled() is False
    monkeypatch.setenv("RDS_MAINT_STATUS_EVENTS", "disabled")  # not one of the words: still on
    assert config.status_events_enabled() is True
    monkeypatch.delenv("RDS_MAINT_STATUS_EVENTS")
    assert config.status_events_enabled() is True
    monkeypatch.setenv("RDS_MAINT_EVENT_BUS", "")
    assert config.event_bus() == "default"


def test_settings_resolve_region_and_endpoint_as_aws_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """--region > AWS_REGION > AWS_DEFAULT_REGION > the profile's region; --endpoint-url > AWS_ENDPOINT_URL."""
    asked: list[str | None] = []

    def profile_region(profile: str | None) -> str | None:
        asked.append(profile)
        return "ap-south-1"

    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    assert config.Settings.from_env(profile="p", profile_region=profile_region).region == "ap-south-1"
    monkeypatch.setenv("AWS_PROFILE", "env-profile")
    assert config.Settings.from_env(profile_region=profile_region).profile == "env-profile"
    assert asked == ["p", "env-profile"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert config.Settings.from_env(profile_region=profile_region).region == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    assert config.Settings.from_env(profile_region=profile_region).region == "eu-west-2"
    assert config.Settings.from_env(region="us-east-2", profile_region=profile_region).region == "us-east-2"
    assert asked == ["p", "env-profile"], "the profile is read only when nothing else named a region"

    assert config.Settings.from_env().endpoint_url is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert config.Settings.from_env().endpoint_url == "http://127.0.0.1:4566"
    assert config.Settings.from_env(endpoint_url="http://127.0.0.1:5000").endpoint_url == "http://127.0.0.1:5000"
