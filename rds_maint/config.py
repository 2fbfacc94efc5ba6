"""Settings drivers share: where state lives, which region, which profile."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from rds_maint.clock import Clock, SystemClock
from rds_maint.engine import Engine
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import open_store


@dataclass(frozen=True)
class Settings:
    store_url: str | None = None
    region: str | None = None
    profile: str | None = None

    @classmethod
    def from_env(cls, store_url: str | None = None, region: str | None = None, profile: str | None = None) -> Settings:
        return cls(
            store_url=store_url or os.environ.get("RDS_MAINT_STORE"),
            region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            profile=profile or os.environ.get("AWS_PROFILE"),
        )


EngineFactory = Callable[[Settings], Engine]
_engine_factory: EngineFactory | None = None


def set_engine_factory(factory: EngineFactory | None) -> None:
    """Let the simulator and tests give every driver (CLI, Lambda) an engine on a virtual clock."""
    global _engine_factory
    _engine_factory = factory


def has_engine_factory() -> bool:
    return _engine_factory is not None


def build_engine(settings: Settings, clock: Clock | None = None) -> Engine:
    if _engine_factory is not None:
        return _engine_factory(settings)
    clock = clock or SystemClock()
    return Engine(
        open_store(settings.store_url, settings.region, settings.profile),
        lambda region: RdsGateway(make_rds_client(region, settings.profile), sleep=clock.sleep),
        clock,
    )
