"""Which targets a campaign names: the ids as a person listed them, or every target carrying a tag.

A tag filter is read from AWS when the campaign is planned, never again: the plan a person accepts is the
list of targets the campaign runs, so a cluster tagged while the campaign runs does not join it halfway,
and one untagged meanwhile is still run (its plan was shown). RDS cannot filter a describe by tag (its
`Filters` take identifiers, engines, domains: docs/aws-behaviour.md "Campaign targets"), so the port lists
every cluster or DB instance of the region and reads each row's tags: one request per 100 rows.

An instance campaign names DB instances of their own only: a member of an Aurora or Multi-AZ DB cluster is
changed through its cluster (the planner refuses it by id; here it is simply not a match).
"""

from __future__ import annotations

from rds_maint.campaign_model import CampaignRequest
from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.ports import TargetKindName

__all__ = ["resolve_targets", "tag_text"]

_WHAT = {"cluster": "cluster", "instance": "DB instance"}
_OTHER: dict[str, TargetKindName] = {"cluster": "instance", "instance": "cluster"}
_WHAT_PLURAL = {"cluster": "DB clusters", "instance": "DB instances of their own"}


def tag_text(tag: tuple[str, str]) -> str:
    return f"{tag[0]}={tag[1]}"


def resolve_targets(engine: Engine, request: CampaignRequest) -> list[str]:
    """The target ids in campaign order: as named, or every target of the kind with the tag, by identifier.

    BadInput when the tag matches nothing (saying so when targets of the other kind carry it)."""
    if request.target_ids is not None:
        return list(request.target_ids)
    if request.tag is None:  # the request model refuses this; kept for the type checker
        raise BadInput("a campaign names its targets by id or by a tag filter")
    key, value = request.tag
    if not key.strip():
        raise BadInput("a tag filter needs a key: KEY=VALUE, e.g. team=orders")
    rds = engine.rds(request.region)
    found = rds.tagged_targets(request.kind, key, value)
    if found:
        return found
    message = f"no {_WHAT[request.kind]} has tag {tag_text(request.tag)} in {request.region}"
    other = _OTHER[request.kind]
    elsewhere = rds.tagged_targets(other, key, value)
    if elsewhere:
        shown = ", ".join(elsewhere[:5]) + (", ..." if len(elsewhere) > 5 else "")
        message += f"; {_WHAT_PLURAL[other]} carrying it: {shown} (a campaign of kind {other} runs those)"
    raise BadInput(message)
