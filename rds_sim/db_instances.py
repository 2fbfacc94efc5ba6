"""RDS DB instances outside any cluster (Single-AZ and Multi-AZ): their own statuses over moto's resources.

`world.AuroraWorld` hands this module every call on a DB instance that belongs to no cluster (`owns_instance`):
ModifyDBInstance, RebootDBInstance, and the overlay of DescribeDBInstances. A change AWS accepts becomes a
`DbInstanceChange` (db_instance_timing): a lag in which the instance still reads `available`, a status
(`modifying`, `rebooting`, `upgrading`) with PendingModifiedValues, outages and failovers inside it, RDS events
at their instants, and at its end the effect on moto. After a storage change the instance reads
`storage-optimization` for hours, and the next storage change waits (docs/aws-behaviour.md, "DB instances", for
every rule and its source). Everything is settled lazily on the virtual clock, like the world's timeline.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from rds_sim.catalogue import UpgradeTarget, version_key
from rds_sim.db_instance_catalogue import FALLBACK_VERSIONS, major_of
from rds_sim.db_instance_storage import SimulatedStorage, next_storage, storage_of
from rds_sim.db_instance_timing import STORAGE_COOLDOWN, DbInstanceChange, DbInstanceDurations, ScheduledEvent, span
from rds_sim.errors import ApiError, instance_not_found, instance_state, not_orderable
from rds_sim.world_protocol import World

__all__ = ["DbInstanceSim"]

Response = dict[str, Any]
AVAILABLE = "available"
OPTIMIZING = "storage-optimization"
ACCOUNT = "123456789012"
_STORAGE_KEYS = ("StorageType", "AllocatedStorage", "Iops", "StorageThroughput")
_OWN_KEYS = (
    *_STORAGE_KEYS,
    "DBInstanceClass",
    "EngineVersion",
    "AllowMajorVersionUpgrade",
    "ApplyImmediately",
    "DBInstanceIdentifier",
)
_OPTIMIZED = (
    "You can't currently modify the storage of this DB instance because the previous storage change is being optimized."
)
# RDS events (RDS user guide, "Amazon RDS event categories and event messages", DB instance events).
_EV = {
    "0004": ("availability", "DB instance shutdown."),
    "0006": ("availability", "DB instance restarted."),
    "0012": ("configuration change", "Applying modification to database instance class."),
    "0013": ("failover", "Multi-AZ instance failover started."),
    "0014": ("configuration change", "Finished applying modification to DB instance class."),
    "0017": ("configuration change", "Finished applying modification to allocated storage."),
    "0018": ("configuration change", "Applying modification to allocated storage."),
    "0049": ("failover", "Multi-AZ instance failover completed."),
    "0264": ("maintenance", "The pre-check started for the DB engine version upgrade."),
    "0265": ("maintenance", "The pre-check finished for the DB engine version upgrade."),
    "0266": ("maintenance", "The downtime started for the DB instance."),
    "0267": ("maintenance", "The engine version upgrade started."),
    "0268": ("maintenance", "The engine version upgrade finished."),
    "0269": ("maintenance", "The post-upgrade tasks are in progress."),
}
# Seen in DescribeEvents after RebootDBInstance ForceFailover (public reports); no event id documented.
_USER_FAILOVER = ("failover", "The user requested a failover of the DB instance.")


class DbInstanceSim:
    """The DB instances of one simulated region: their changes under way, storage, zones and cooldowns."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.durations = DbInstanceDurations()
        self.changes: list[DbInstanceChange] = []
        # By resource identity (`_rid`), not by name:
        self._storage: dict[str, SimulatedStorage] = {}  # the truth (moto keeps Iops on gp2, for one)
        self._zones: dict[str, tuple[str, str]] = {}  # (primary, standby) once a failover moved them
        self._storage_changed_at: dict[str, datetime] = {}  # end of the last storage modification
        self._optimizing_until: dict[str, datetime] = {}
        # Changes left for a maintenance window (none comes): shown pending, applied by a later ApplyImmediately.
        self._held_target: dict[str, dict[str, Any]] = {}
        self._held_storage: dict[str, SimulatedStorage] = {}

    def handlers(self) -> dict[str, Any]:
        """API calls this module answers whole (none: see `owns_instance` for the shared ones)."""
        return {}

    def owns_instance(self, instance_id: str) -> bool:
        """A DB instance of its own: no DBClusterIdentifier."""
        data = self.world.moto.instance(instance_id)
        return data is not None and self.owns(data)

    @staticmethod
    def owns(data: dict[str, Any]) -> bool:
        """`owns_instance` judged from the instance's own description (no further moto call)."""
        return not data.get("DBClusterIdentifier")

    # -- controls (SimulatedAurora) ----------------------------------------------------------

    def set_last_storage_change(self, instance_id: str, at: datetime, optimizing_until: datetime | None = None) -> None:
        """Seed the end of the last storage modification (the 6-hour rule) and, if given, optimization's end."""
        self._data(instance_id)
        self._storage_changed_at[self._rid(instance_id)] = at
        if optimizing_until is not None:
            self._optimizing_until[self._rid(instance_id)] = optimizing_until

    def storage_allowed_at(self, instance_id: str) -> datetime | None:
        """When AWS next takes a storage change (None: now, as far as past changes go)."""
        times = []
        rid = self._rid(instance_id)
        if rid in self._storage_changed_at:
            times.append(self._storage_changed_at[rid] + STORAGE_COOLDOWN)
        if rid in self._optimizing_until:
            times.append(self._optimizing_until[rid])
        allowed = max(times) if times else None
        return allowed if allowed is not None and allowed > self.world.now() else None

    def changes_of(self, instance_id: str) -> list[DbInstanceChange]:
        return [c for c in self.changes if c.instance_id == instance_id]

    def outages(self, instance_id: str) -> list[tuple[datetime, datetime]]:
        """Spans in which the instance took no connections, begun by now (an open one ends at its planned end)."""
        now = self.world.now()
        return [c.outage for c in self.changes_of(instance_id) if c.outage is not None and c.outage[0] <= now]

    # -- calls -----------------------------------------------------------------------------

    def modify_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        data = self._data(instance_id)
        storage_asked = any(params.get(k) is not None for k in _STORAGE_KEYS)
        new_class = params.get("DBInstanceClass")
        new_version = params.get("EngineVersion")
        class_change = new_class is not None and new_class != data["DBInstanceClass"]
        upgrade = new_version is not None and new_version != data.get("EngineVersion")
        group = params.get("DBParameterGroupName") if upgrade else None
        if storage_asked or class_change or upgrade:
            self._refuse_if_busy(instance_id)
        storage = self._next_storage(instance_id, data, params) if storage_asked else None
        if class_change or upgrade:
            version = str(new_version) if upgrade else str(data.get("EngineVersion"))
            if class_change and not self._orderable(str(data["Engine"]), version, str(new_class)):
                raise not_orderable(str(new_class), str(data["Engine"]), version, str(data.get("LicenseModel")))
        if upgrade:
            self._check_upgrade(data, str(new_version), bool(params.get("AllowMajorVersionUpgrade")), group)
        rest = {k: v for k, v in params.items() if k not in _OWN_KEYS and not (upgrade and k == "DBParameterGroupName")}
        if rest:
            self.world.moto.call("ModifyDBInstance", {"DBInstanceIdentifier": instance_id, **rest})
            instance_id = str(rest.get("NewDBInstanceIdentifier") or instance_id)  # a rename, applied at once
        target: dict[str, Any] = {}
        if class_change:
            target["DBInstanceClass"] = new_class
        if upgrade:
            target["EngineVersion"] = new_version
            if group:
                target["DBParameterGroupName"] = group
        if params.get("ApplyImmediately"):
            # "the modifications in this request and any pending modifications" are applied (ModifyDBInstance
            # reference, ApplyImmediately): what an earlier call left for the maintenance window goes too.
            target = {**self._held_target.pop(self._rid(instance_id), {}), **target}
            held_storage = self._held_storage.pop(self._rid(instance_id), None)
            storage = storage or held_storage
            if storage is not None or target:
                self._refuse_if_busy(instance_id)
                self._schedule_modify(instance_id, data, target, storage)
        else:
            self._held_target.setdefault(self._rid(instance_id), {}).update(target)
            if storage is not None:
                self._held_storage[self._rid(instance_id)] = storage
        return {"DBInstance": self.world_view(instance_id)}

    def reboot_db_instance(self, params: dict[str, Any]) -> Response:
        instance_id = str(params["DBInstanceIdentifier"])
        data = self._data(instance_id)
        force = bool(params.get("ForceFailover"))
        if force and not data.get("MultiAZ"):
            # RebootDBInstance reference, ForceFailover: "You can't enable force failover if the instance isn't
            # configured for Multi-AZ." (the code and wording of the answer are the simulator's).
            raise ApiError(
                "InvalidParameterCombination",
                f"You can't reboot DB instance {instance_id} with force failover: it isn't a Multi-AZ DB instance.",
            )
        self._refuse_if_busy(instance_id)
        now = self.world.now()
        key = self._key(instance_id, "reboot")
        visible = now + self._span("reboot_lag", key)
        if force:
            end = visible + self._span("failover", key)
            change = self._new(instance_id, "reboot", "rebooting", now, visible, end)
            change.failover = (visible, end)
            change.event(visible, "0013", *_EV["0013"])
            change.events.append(ScheduledEvent(visible, "", *_USER_FAILOVER))
            change.event(visible + (end - visible) / 2, "0006", *_EV["0006"])
            change.event(end, "0049", *_EV["0049"])
        else:
            end = visible + self._span("reboot", key)
            change = self._new(instance_id, "reboot", "rebooting", now, visible, end)
            change.event(visible, "0004", *_EV["0004"])
            change.event(end, "0006", *_EV["0006"])
        change.outage = (visible, end)
        return {"DBInstance": self.world_view(instance_id)}

    # -- views -----------------------------------------------------------------------------

    def world_view(self, instance_id: str) -> dict[str, Any]:
        """The instance as DescribeDBInstances shows it now (the world's overlay and this one)."""
        return self.world.overlay_instance(self._data(instance_id))

    def overlay_instance(self, data: dict[str, Any]) -> dict[str, Any]:
        """moto's DBInstance as AWS would show it now (the world's overlay already applied)."""
        out = copy.deepcopy(data)
        instance_id = str(out["DBInstanceIdentifier"])
        out["DBInstanceStatus"] = self.status_over(instance_id, str(out.get("DBInstanceStatus", AVAILABLE)))
        change = self._open(instance_id)
        for key in ("Iops", "StorageThroughput"):
            out.pop(key, None)
        out |= self._storage_now(instance_id, data).fields()
        pending = dict(out.get("PendingModifiedValues") or {})
        rid = _rid_of(data)
        pending.update({k: v for k, v in self._held_target.get(rid, {}).items() if k != "DBParameterGroupName"})
        if rid in self._held_storage:
            pending.update(self._held_storage[rid].fields())
        if change is not None:
            pending.update(change.pending)
        out["PendingModifiedValues"] = pending
        primary, standby = self._zones_of(instance_id, data)
        out["AvailabilityZone"] = primary
        if out.get("MultiAZ"):
            out["SecondaryAvailabilityZone"] = standby
        else:
            out.pop("SecondaryAvailabilityZone", None)
        return out

    def status_in_world(self, instance_id: str, status: str) -> str:
        """`status_over` for any instance the world asks about; cheap (no moto call) while this module has no state
        that could change the answer, as in every Aurora-only account."""
        if status != AVAILABLE or (not self._optimizing_until and self._open(instance_id) is None):
            return status
        return self.status_over(instance_id, status) if self.owns_instance(instance_id) else status

    def status_over(self, instance_id: str, status: str) -> str:
        """The status now: a stuck, failed or green instance keeps what the world says; else this module's."""
        if status != AVAILABLE:
            return status
        now = self.world.now()
        change = self._open(instance_id)
        if change is not None and not change.in_lag(now):
            return change.status
        if self._optimizing_until.get(self._rid(instance_id), now) > now:
            return OPTIMIZING
        return status

    def settle(self) -> None:
        """Write the events that are due, swap zones at failover ends, apply the changes that ended."""
        now = self.world.clock.now()
        due = sorted(
            ((e.at, i, e, c) for i, c in enumerate(self.changes) for e in c.events if not e.recorded and e.at <= now),
            key=lambda item: (item[0], item[1]),
        )
        for _, _, event, change in due:
            event.recorded = True
            self.world.record_event(
                {
                    "SourceIdentifier": change.instance_id,
                    "SourceType": "db-instance",
                    "Message": event.message,
                    "EventCategories": [event.category],
                    "Date": event.at,
                    "SourceArn": f"arn:aws:rds:{self.world.moto.region}:{ACCOUNT}:db:{change.instance_id}",
                }
            )
        for change in self.changes:
            if change.ended:
                continue
            if change.failover is not None and not change.swapped and change.failover[1] <= now:
                change.swapped = True
                if self.world.moto.instance(change.instance_id) is not None:
                    primary, standby = self._zones_of(change.instance_id, self._data(change.instance_id))
                    self._zones[self._rid(change.instance_id)] = (standby, primary)
            if change.ends_at <= now:
                self._finish(change)

    # -- scheduling ------------------------------------------------------------------------

    def _schedule_modify(
        self, instance_id: str, data: dict[str, Any], target: dict[str, Any], storage: SimulatedStorage | None
    ) -> None:
        now = self.world.now()
        kind = "upgrade" if "EngineVersion" in target else "class" if "DBInstanceClass" in target else "storage"
        key = self._key(instance_id, kind)
        lag = "upgrade_lag" if kind == "upgrade" else "modify_lag"
        visible = now + self._span(lag, key)
        pending = {k: v for k, v in target.items() if k != "DBInstanceClass" or kind != "upgrade"}
        pending.pop("DBParameterGroupName", None)
        if storage is not None:
            pending.update(storage.fields())
        if kind == "upgrade":
            end = visible + self._span("upgrade", key)
            change = self._new(instance_id, kind, "upgrading", now, visible, end)
            down = visible + (end - visible) * 0.1
            up = end - (end - visible) * 0.1
            change.outage = (down, up)
            change.event(visible, "0264", *_EV["0264"])
            change.event(down, "0265", *_EV["0265"])
            change.event(down, "0266", *_EV["0266"])
            change.event(down, "0267", *_EV["0267"])
            change.event(up, "0268", *_EV["0268"])
            change.event(up, "0269", *_EV["0269"])
        elif kind == "class":
            end = visible + self._span("class_modify", key)
            change = self._new(instance_id, kind, "modifying", now, visible, end)
            change.event(visible, "0012", *_EV["0012"])
            if data.get("MultiAZ"):
                # The standby is changed first, then RDS fails over to it; the old primary is changed last.
                start = visible + (end - visible) / 2
                stop = start + self._span("failover", key)
                change.failover = change.outage = (start, stop)
                change.event(start, "0013", *_EV["0013"])
                change.event(stop, "0049", *_EV["0049"])
            else:
                change.outage = (visible, end)
                change.event(visible, "0004", *_EV["0004"])
                change.event(end, "0006", *_EV["0006"])
            change.event(end, "0014", *_EV["0014"])
        else:
            end = visible + self._span("storage_modify", key)
            change = self._new(instance_id, kind, "modifying", now, visible, end)
        if storage is not None:
            change.event(visible, "0018", *_EV["0018"])
            change.event(end, "0017", *_EV["0017"])
        change.pending = pending
        change.target = target
        change.storage = storage

    def _new(
        self, instance_id: str, kind: Any, status: str, called: datetime, visible: datetime, end: datetime
    ) -> DbInstanceChange:
        change = DbInstanceChange(instance_id, kind, status, called, visible, end)
        self.changes.append(change)
        return change

    def _finish(self, change: DbInstanceChange) -> None:
        change.ended = True
        instance_id = change.instance_id
        if self.world.moto.instance(instance_id) is None:
            return
        moto_params: dict[str, Any] = dict(change.target)
        if change.storage is not None:
            self._storage[self._rid(instance_id)] = change.storage
            moto_params |= {
                "StorageType": change.storage.storage_type,
                "AllocatedStorage": change.storage.allocated_storage,
            }
            if change.storage.iops is not None:
                moto_params["Iops"] = change.storage.iops
            self._storage_changed_at[self._rid(instance_id)] = change.ends_at
            optimize = span(
                self.durations,
                "optimization_base",
                self._key(instance_id, "optimization"),
                self.world.timeline.time_scale,
                self.world.timeline.seed,
                extra=self.durations.optimization_per_gib * change.storage.allocated_storage,
            )
            self._optimizing_until[self._rid(instance_id)] = change.ends_at + optimize
        if moto_params:
            self.world.moto.call(
                "ModifyDBInstance", {"DBInstanceIdentifier": instance_id, "ApplyImmediately": True, **moto_params}
            )
        if change.kind in ("reboot", "upgrade"):
            self.world.set_parameter_apply_status(instance_id, "in-sync")

    # -- rules -----------------------------------------------------------------------------

    def _refuse_if_busy(self, instance_id: str) -> None:
        status = self.world.instance_status(instance_id)
        change = self._open(instance_id)
        if change is not None:
            # In its lag the instance still reads `available`, but AWS has accepted the change.
            shown = AVAILABLE if change.in_lag(self.world.now()) else change.status
            raise instance_state(
                f"DB instance {instance_id} is not in available state (it is {shown}; a change is under way)."
            )
        if status not in (AVAILABLE, OPTIMIZING):  # storage-optimization takes other changes (see the docs)
            raise instance_state(f"DB instance {instance_id} is not in available state (it is {status}).")

    def refuse_delete_if_busy(self, instance_id: str) -> None:
        """DeleteDBInstance during a storage change: refused ("No other Amazon RDS operations can take place for the
        instance, including ... deleting the instance": ModifyDBInstance reference, StorageType and Iops)."""
        change = self._open(instance_id)
        if change is not None and change.storage is not None:
            raise instance_state(
                f"DB instance {instance_id} is not in available state (a storage change is under way); "
                "it can't be deleted until the change ends."
            )

    def _next_storage(self, instance_id: str, data: dict[str, Any], params: dict[str, Any]) -> SimulatedStorage | None:
        current = self._storage_now(instance_id, data)
        target = next_storage(str(data["Engine"]), current, params)
        if target == current:
            return None
        if self.storage_allowed_at(instance_id) is not None:
            raise ApiError("InvalidParameterCombination", _OPTIMIZED)
        return target

    def _orderable(self, engine: str, version: str, instance_class: str) -> bool:
        return self.world.catalogue.is_orderable(engine, version, instance_class)

    def _upgrade_targets(self, engine: str, version: str) -> list[UpgradeTarget]:
        catalogue = self.world.catalogue
        if catalogue.versions(engine):
            return catalogue.upgrade_targets(engine, version)
        known = FALLBACK_VERSIONS.get(engine, ())
        if version not in known:
            return []
        return [
            UpgradeTarget(engine, v, major_of(engine, v) != major_of(engine, version), f"{engine} {v}")
            for v in known
            if version_key(v) > version_key(version)
        ]

    def _check_upgrade(self, data: dict[str, Any], version: str, allow_major: bool, group: Any) -> None:
        engine = str(data["Engine"])
        current = str(data.get("EngineVersion"))
        target = next((t for t in self._upgrade_targets(engine, current) if t.engine_version == version), None)
        if target is None:
            raise ApiError("InvalidParameterCombination", f"Cannot upgrade {engine} from {current} to {version}")
        major = major_of(engine, version) != major_of(engine, current)  # 8.0 -> 8.4 is a major one for MySQL
        if (major or target.is_major_version_upgrade) and not allow_major:
            raise ApiError(
                "InvalidParameterCombination",
                "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
            )
        family = f"{engine}{major_of(engine, version)}"
        if group:
            found = self.world.parameter_groups.group("instance", str(group))
            if found is None:
                raise ApiError("DBParameterGroupNotFound", f"DBParameterGroup not found: {group}", 404)
            if found.get("DBParameterGroupFamily") not in (None, family):
                raise ApiError(
                    "InvalidParameterCombination",
                    f"The parameter group {group} is in family {found.get('DBParameterGroupFamily')}; "
                    f"{engine} {version} needs one of family {family}.",
                )
        elif major or target.is_major_version_upgrade:
            groups = data.get("DBParameterGroups") or [{}]
            current_group = str(groups[0].get("DBParameterGroupName") or "")
            if current_group and not current_group.startswith("default."):
                # ModifyDBInstance reference, EngineVersion: a major upgrade from a non-default group must name
                # a group of the new family.
                raise ApiError(
                    "InvalidParameterCombination",
                    f"The DB instance uses the non-default parameter group {current_group}: a major version upgrade "
                    f"must specify a DB parameter group of family {family} (DBParameterGroupName).",
                )

    # -- helpers ---------------------------------------------------------------------------

    def _open(self, instance_id: str) -> DbInstanceChange | None:
        return next((c for c in self.changes if c.instance_id == instance_id and not c.ended), None)

    def _storage_now(self, instance_id: str, data: dict[str, Any]) -> SimulatedStorage:
        return self._storage.get(_rid_of(data)) or storage_of(data)

    def _zones_of(self, instance_id: str, data: dict[str, Any]) -> tuple[str, str]:
        if _rid_of(data) in self._zones:
            return self._zones[_rid_of(data)]
        primary = str(data.get("AvailabilityZone") or f"{self.world.moto.region}a")
        region = self.world.moto.region
        standby = f"{region}b" if primary != f"{region}b" else f"{region}a"
        return primary, standby

    def _key(self, instance_id: str, kind: str) -> str:
        occurrence = sum(1 for c in self.changes if c.instance_id == instance_id and c.kind == kind)
        return f"{instance_id}|{kind}|{occurrence}"

    def _span(self, name: str, key: str) -> timedelta:
        return span(self.durations, name, key, self.world.timeline.time_scale, self.world.timeline.seed)

    def _rid(self, instance_id: str) -> str:
        """The instance's resource identity (`_rid_of`): state follows the resource, not its name (a Blue/Green
        switchover renames instances: the new `NAME` is another resource, with its own storage and zones)."""
        data = self.world.moto.instance(instance_id)
        return _rid_of(data) if data is not None else instance_id

    def _data(self, instance_id: str) -> dict[str, Any]:
        data = self.world.moto.instance(instance_id)
        if data is None:
            raise instance_not_found(instance_id)
        return data


def _rid_of(data: dict[str, Any]) -> str:
    """The resource's identity: DbiResourceId, with the creation time (moto gives every instance the same
    DbiResourceId; both survive a rename)."""
    return f"{data.get('DbiResourceId')}|{data.get('InstanceCreateTime')}"
