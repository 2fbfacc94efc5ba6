"""Shared fixtures: fake credentials, moto, the simulated Aurora on a virtual clock, an engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest

from sfn_harness.machine import serialise_aws
from tests.helpers.world import CLUSTER, REGION, World, simulated_world


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader() -> Iterator[None]:
    """Speed only: every boto3 session parses the service models again (~0.1 s); share one loader."""
    loader = botocore.loaders.Loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *_args: loader)
        yield


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any call that escapes moto fails to authenticate instead of touching a real account."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("RDS_MAINT_STORE", raising=False)


@pytest.fixture
def store_kind() -> str:
    """The store `world` uses: "file" unless a test is parametrized over STORE_KINDS."""
    return "file"


@pytest.fixture
def world(tmp_path: Path, store_kind: str) -> Iterator[World]:
    with simulated_world(tmp_path, store_kind) as made:
        yield made


@pytest.fixture
def cluster_1w2r(world: World) -> list[str]:
    return world.sim.seed_cluster(
        CLUSTER, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large", readers=2
    )


@pytest.fixture
def serialised_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """One AWS request at a time, for tests whose threads share moto and the simulator.

    moto's backends are plain Python objects: a conditional write (S3 If-Match, DynamoDB
    ConditionExpression) is a check and then a write, not atomic across threads; the
    simulator's timeline is not thread-safe either. AWS applies each request atomically, so
    the harness does the same: each moto request and each simulated RDS call holds one lock
    (`sfn_harness.machine.serialise_aws`, which bench/sfn_history.py uses too).
    The engine and the stores are not serialised: their requests still interleave freely.
    """
    serialise_aws(monkeypatch)
