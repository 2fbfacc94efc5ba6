"""What the area simulators (`blue_green`, `proxies`, `parameter_groups`, `maintenance`) need of the world.

Why a protocol: `world.AuroraWorld` builds the area simulators and answers through them, and each of
them reads the region back (moto's resources, the clock, the timeline, statuses with the overlays on)
and, for a switchover, a sibling (parameter groups, proxies). Typed against `AuroraWorld` itself, each
area module and `world` would import each other. Typed against this module, the imports run one way:
`world` -> area simulators -> `world_protocol` -> leaf modules (`clock`, `moto_backend`, `timeline`,
`catalogue`). mypy checks that `AuroraWorld` has all of it where `world` passes itself in.

Read-only properties, so an implementation may hold a subtype (mypy treats settable protocol
attributes as invariant).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from rds_sim.catalogue import Catalogue
from rds_sim.clock import VirtualClock
from rds_sim.moto_backend import MotoRds
from rds_sim.timeline import Timeline

Kind = Literal["cluster", "instance"]  # the two kinds of parameter group: DB cluster and DB (instance)


class ParameterGroups(Protocol):
    """What a Blue/Green deployment reads of the parameter groups (`parameter_groups.ParameterGroupSim`)."""

    def is_young(self, kind: Kind, name: str) -> bool: ...

    def ensure_defaults(self) -> None: ...

    def group(self, kind: Kind, name: str) -> dict[str, Any] | None: ...

    def value(self, kind: Kind, name: str, parameter: str) -> str | None: ...


class ProxyTargets(Protocol):
    """What a switchover tells RDS Proxy (`proxies.ProxySim`)."""

    def on_switchover(self, cluster_id: str, old_cluster_id: str, at: datetime) -> None: ...


class BlueGreenSources(Protocol):
    """What RDS Proxy asks of Blue/Green (`blue_green.BlueGreenSim`)."""

    def is_active_source(self, cluster_id: str) -> bool: ...


class World(Protocol):
    """One region of one simulated account, as the area simulators see it (`world.AuroraWorld`)."""

    @property
    def clock(self) -> VirtualClock: ...

    @property
    def moto(self) -> MotoRds: ...

    @property
    def timeline(self) -> Timeline: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def parameter_groups(self) -> ParameterGroups: ...

    @property
    def proxies(self) -> ProxyTargets: ...

    @property
    def blue_green(self) -> BlueGreenSources: ...

    def now(self) -> datetime: ...

    def settle(self) -> None: ...

    def instance_status(self, instance_id: str, moto_status: str = ...) -> str: ...

    def cluster_status(self, cluster_id: str, moto_status: str = ...) -> str: ...

    def overlay_cluster(self, data: dict[str, Any]) -> dict[str, Any]: ...

    # DB instances (db_instances): the whole instance view, and the events an area simulator writes.
    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]: ...

    def record_event(self, row: dict[str, Any]) -> None: ...

    def set_parameter_apply_status(self, instance_id: str, status: str) -> None: ...

    def rename_parameter_status(self, old_instance_id: str, new_instance_id: str) -> None: ...
