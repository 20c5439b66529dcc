"""Lead tests run against a world with lead forms (each user manages a page)."""

from __future__ import annotations

import pytest

from metasync.sandbox.world import WorldSize


@pytest.fixture
def world_size() -> WorldSize:
    return WorldSize(
        users=2,
        accounts_per_user=1,
        campaigns_per_account=2,
        adsets_per_campaign=1,
        ads_per_adset=2,
        days=10,
        lead_forms_per_page=2,
        leads_per_form=60,
    )
