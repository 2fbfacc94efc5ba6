"""Profiles, regions, endpoints and errors as aws-cli has them, seen through the CLI.

A temporary AWS config file (AWS_CONFIG_FILE) holds the profiles; the environment's region variables are
cleared so that the profile's region is the one that decides. The simulated account answers in REGION
only, and refuses a client of any other region, so a command that picked the wrong region fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rds_maint import credentials, log
from rds_maint.cli import main
from tests.helpers.world import CLUSTER, REGION, World

PROFILES = f"""\
[default]
region = eu-west-1

[profile ops]
region = {REGION}

[profile far]
region = ap-southeast-2
"""


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "aws-config"
    config.write_text(PROFILES)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    return config


@pytest.fixture
def client_regions(world: World) -> list[str]:
    """The region of every RDS client the command makes."""
    seen: list[str] = []
    world.recorders.append(lambda client: seen.append(client.meta.region_name))
    return seen


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """`--debug` turns on DEBUG lines for the process: put the quiet set-up back for the next test."""
    wire = logging.getLogger("botocore")
    level, handlers = wire.level, list(wire.handlers)
    yield
    wire.setLevel(level)
    wire.handlers[:] = handlers
    log.configure()


def create(world: World, *extra: str) -> Any:
    args = ["create", "--type", "instance_type_change", "--cluster", CLUSTER]
    return world.cli([*args, "--param", "target_instance_type=db.r6g.xlarge", *extra])


def created_region(world: World) -> str:
    (op,) = world.store.list_operations()
    return op.region


def one_line(output: str) -> str:
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_profile_flag_gives_the_request_and_the_clients_the_profiles_region(
    world: World, cluster_1w2r: list[str], profiles: Path, client_regions: list[str]
) -> None:
    result = create(world, "--profile", "ops")
    assert result.exit_code == 0, result.output
    assert created_region(world) == REGION
    assert client_regions and set(client_regions) == {REGION}


def test_aws_profile_picks_the_profile_and_its_region(
    world: World, cluster_1w2r: list[str], profiles: Path, client_regions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "ops")
    result = create(world)
    assert result.exit_code == 0, result.output
    assert created_region(world) == REGION and set(client_regions) == {REGION}


def test_without_a_profile_the_default_profiles_region_is_used(
    world: World, cluster_1w2r: list[str], profiles: Path
) -> None:
    """[default] says eu-west-1, where the cluster is not: the command goes there (and nothing is created)."""
    result = create(world)
    assert result.exit_code == 1, result.output
    assert "eu-west-1" in one_line(result.output)
    assert world.store.list_operations() == []


def test_aws_default_region_beats_the_profiles_region(
    world: World, cluster_1w2r: list[str], profiles: Path, client_regions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    result = create(world, "--profile", "far")
    assert result.exit_code == 0, result.output
    assert created_region(world) == REGION and set(client_regions) == {REGION}


def test_region_flag_beats_everything(
    world: World, cluster_1w2r: list[str], profiles: Path, client_regions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    result = create(world, "--profile", "far", "--region", REGION)
    assert result.exit_code == 0, result.output
    assert created_region(world) == REGION and set(client_regions) == {REGION}


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_an_unknown_profile_is_one_line_naming_it_and_where_profiles_live(
    world: World, profiles: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "variable":
        monkeypatch.setenv("AWS_PROFILE", "nope")
    result = create(world, *(["--profile", "nope"] if how == "flag" else []))
    assert result.exit_code == 2, result.output
    line = one_line(result.output)
    assert line.startswith("error: AWS profile 'nope' is not configured")
    assert "~/.aws/config" in line and "aws configure list-profiles" in line
    assert world.store.list_operations() == []


def test_no_credentials_is_one_line_with_the_fix_and_the_metadata_wait_is_bounded(
    tmp_path: Path, profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # this machine has no instance metadata to ask
    args = ["plan", "--type", "instance_type_change", "--cluster", CLUSTER, "--profile", "ops"]
    result = CliRunner().invoke(main, [*args, "--param", "target_instance_type=db.r6g.xlarge"])
    assert result.exit_code == 1, result.output
    line = one_line(result.output)
    assert "no AWS credentials found of profile 'ops'" in line
    assert "aws sso login --profile ops" in line and "aws configure" in line and "AWS_PROFILE" in line

    bounded = credentials.session("ops")._session  # the session every client of the tool is made from
    assert bounded.get_config_variable("metadata_service_timeout") == 1
    assert bounded.get_config_variable("metadata_service_num_attempts") == 1


def test_a_metadata_wait_the_person_chose_is_kept(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_METADATA_SERVICE_TIMEOUT", "4")
    chosen = credentials.session(None)._session
    assert chosen.get_config_variable("metadata_service_timeout") == 4
    assert chosen.get_config_variable("metadata_service_num_attempts") == 1


def test_an_unexpected_error_is_one_line_without_debug_and_a_traceback_with_it(
    world: World, cluster_1w2r: list[str], restored_logging: None
) -> None:
    """The simulator refuses a client of another region with a plain ValueError: no layer of ours knows it."""
    quiet = create(world, "--region", "eu-west-1")
    assert quiet.exit_code == 1
    line = one_line(quiet.output)
    assert line.startswith("error: unexpected ValueError") and "--debug" in line

    loud = create(world, "--region", "eu-west-1", "--debug")
    assert loud.exit_code == 1
    assert "Traceback (most recent call last)" in loud.output and "ValueError" in loud.output
    assert "botocore" in loud.output and "[DEBUG]" in loud.output, "the SDK's debug log on stderr"
    assert loud.output.rstrip().splitlines()[-1].startswith("error: unexpected ValueError")


class MetadataService(BaseHTTPRequestHandler):
    """An instance metadata service with no role: counts the token requests, answers 404 to everything."""

    token_requests: list[str] = []

    def do_PUT(self) -> None:
        self.token_requests.append(self.path)
        self.send_error(404)

    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def metadata_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Counting", (MetadataService,), {"token_requests": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_command_asks_the_metadata_service_once_for_all_its_clients(
    profiles: Path, metadata_service: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each ask may wait out the metadata timeouts: the S3 store's client and the RDS client share one."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing would leave even if signed
    args = ["plan", "--type", "instance_type_change", "--cluster", CLUSTER, "--profile", "ops"]
    result = CliRunner().invoke(
        main, [*args, "--param", "target_instance_type=db.r6g.xlarge", "--store", "s3://rds-maint-nowhere/x"]
    )
    assert result.exit_code == 1, result.output
    assert "no AWS credentials found of profile 'ops'" in one_line(result.output)
    assert len(metadata_service) == 1, metadata_service


def test_no_region_anywhere_says_the_three_ways_to_give_one(world: World, cluster_1w2r: list[str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    config = tmp_path / "aws-config"
    config.write_text("[default]\noutput = json\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    result = create(world)
    assert result.exit_code == 2, result.output
    said = one_line(result.output)
    assert "pass --region, set AWS_REGION, or give the profile one" in said
    assert "aws configure set region us-east-1 --profile PROFILE" in said
    assert world.store.list_operations() == []
