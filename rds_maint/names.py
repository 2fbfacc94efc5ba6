"""The names rds-maint gives what it creates, derived from the cluster and the operation id.

RDS has no client token on CreateDBInstance, CreateBlueGreenDeployment or the parameter-group and
snapshot calls: a deterministic name is what makes a retried create find the first one instead of
making a second. Plans name what they will create; actions name what only exists once AWS has acted
(the old cluster's final snapshot). Every name fits RDS's identifier rules: it starts with a letter and
holds letters, digits and single hyphens.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

__all__ = [
    "TEMP_MARKER",
    "deployment_name",
    "final_snapshot_name",
    "parameter_group_copy_name",
    "temp_instance_id",
]

TEMP_MARKER = "rdsm"


def temp_instance_id(cluster_id: str, operation_id: str) -> str:
    """A valid, deterministic RDS identifier: the same operation always names the same instance.

    RDS identifiers: 1-63 chars, start with a letter, letters/digits/hyphens, no double or
    trailing hyphen. RDS has no client token on CreateDBInstance, so this name is what makes
    a retried create find the first one instead of making a second.
    """
    digest = hashlib.sha256(f"{cluster_id}/{operation_id}".encode()).hexdigest()[:8]
    suffix = f"-{TEMP_MARKER}-{digest}"
    base = re.sub(r"[^a-zA-Z0-9-]", "-", cluster_id)
    base = re.sub(r"-{2,}", "-", base).strip("-")[: 63 - len(suffix)].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("c" + base)[: 63 - len(suffix)].rstrip("-")
    return f"{base}{suffix}"


def _slug(text: str) -> str:
    """Letters, digits and single hyphens: what RDS accepts in every identifier."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-zA-Z0-9-]", "-", text)).strip("-")


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]


def _fit(base: str, suffix: str, limit: int) -> str:
    base = _slug(base)[: max(1, limit - len(suffix))].rstrip("-")
    if not base or not base[0].isalpha():
        base = ("c" + base)[: max(1, limit - len(suffix))].rstrip("-")
    return f"{base}{suffix}"


def deployment_name(cluster_id: str, operation_id: str) -> str:
    """BlueGreenDeploymentName: at most 60 characters, unique per operation."""
    return _fit(f"rdsm-{cluster_id}", f"-{_digest(cluster_id, operation_id)}", 60)


def parameter_group_copy_name(cluster_id: str, target_version: str, kind: Literal["cluster", "instance"]) -> str:
    """The group a custom group is copied into: the same name for the same cluster and target version,
    so a second operation (after an abort) finds and reuses it."""
    return _fit(cluster_id, f"-{_slug(target_version)}-{kind}-params", 255)


def final_snapshot_name(old_cluster_id: str, operation_id: str) -> str:
    return _fit(f"{old_cluster_id}-final", f"-{_digest(old_cluster_id, operation_id)}", 255)
