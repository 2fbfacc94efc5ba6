"""Fixtures of the engine unit tests: a fake RDS world whose store lives in memory when the machine allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fake_rds import FakeWorld, store_root


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    with store_root(tmp_path) as path:
        yield path


@pytest.fixture
def world(root: Path) -> FakeWorld:
    return FakeWorld.make(root)
