"""Campaign records on every store: create once, load, conditional save, list oldest first, damage named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from rds_maint.campaign_model import Campaign, CampaignRequest, CampaignTarget, TargetState, target_operation_id
from rds_maint.errors import BadInput, CampaignNotFound, Conflict
from rds_maint.model import OperationType
from rds_maint.store import StateStore, init_store, open_store
from tests.helpers.world import REGION, STORE_KINDS, store_url_for

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    with mock_aws():
        url = store_url_for(str(request.param), tmp_path)
        if request.param != "file":
            init_store(url)
        yield open_store(url)


def campaign(campaign_id: str = "c-1", targets: int = 3, minutes: int = 0) -> Campaign:
    at = NOW + timedelta(minutes=minutes)
    ids = [f"db-{i}" for i in range(targets)]
    request = CampaignRequest(type=OperationType.INSTANCE_CYCLE, target_ids=ids, region=REGION, max_concurrency=2)
    return Campaign(
        id=campaign_id,
        request=request,
        targets=[
            CampaignTarget(index=i, target_id=t, wave=0, operation_id=target_operation_id(campaign_id, i), params={})
            for i, t in enumerate(ids)
        ],
        created_at=at,
        updated_at=at,
    )


def test_a_campaign_is_created_once_and_loaded_as_it_was(store: StateStore) -> None:
    stored = store.create_campaign(campaign())
    assert stored.version == 1
    loaded = store.load_campaign("c-1")
    assert loaded == stored
    assert [t.operation_id for t in loaded.targets] == ["c-1-0001", "c-1-0002", "c-1-0003"]
    with pytest.raises(BadInput, match="already exists"):
        store.create_campaign(campaign())
    assert store.load_campaign("c-1").version == 1


def test_a_stale_campaign_save_is_refused_and_changes_nothing(store: StateStore) -> None:
    first = store.create_campaign(campaign())
    first.targets[0].state = TargetState.RUNNING
    saved = store.save_campaign(first)
    assert saved.version == 2
    stale = first.model_copy(deep=True)
    stale.targets[1].state = TargetState.FAILED
    with pytest.raises(Conflict):
        store.save_campaign(stale)
    loaded = store.load_campaign("c-1")
    assert loaded.version == 2
    assert [t.state for t in loaded.targets] == [TargetState.RUNNING, TargetState.PENDING, TargetState.PENDING]


def test_unknown_campaigns_and_bad_ids_are_refused(store: StateStore) -> None:
    with pytest.raises(CampaignNotFound):
        store.load_campaign("c-none")
    with pytest.raises(CampaignNotFound):
        store.save_campaign(campaign("c-none").model_copy(update={"version": 1}))
    with pytest.raises(BadInput, match="invalid campaign id"):
        store.load_campaign("../escape")


def test_campaigns_are_listed_oldest_first_and_apart_from_operations(store: StateStore) -> None:
    assert store.campaigns() == []
    store.create_campaign(campaign("c-late", minutes=5))
    store.create_campaign(campaign("c-early", minutes=1))
    assert [c.id for c in store.campaigns()] == ["c-early", "c-late"]
    assert store.summaries() == []  # a campaign is no operation
