"""One world, one count of leads: the sandbox's Lead Ads (Meta's "Retrieving Leads": each lead
names its ``ad_id``) and its insights (Meta's Ads Action Stats: instant-form leads as
``onsite_conversion.lead_grouped``) say the same number of leads per ad and day, so the ground
truth's count per ad holds for both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from metasync.sandbox.server import start_sandbox
from tests.integration.sandbox.test_breakdowns import read_all, window
from tests.integration.sandbox.test_leads import LEAD_WORLD
from tests.support.sandbox import Sandbox

ONSITE = "onsite_conversion.lead_grouped"


@pytest.fixture
def lead_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    service, info = start_sandbox(tmp_path_factory.mktemp("lead-counts"), seed=11, size=LEAD_WORLD)
    yield Sandbox(service.url, info)
    service.stop()


def _insights_leads(sandbox: Sandbox) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """(ad -> day -> the insights' instant-form leads over its account's window, ad -> its
    account), over every user's accounts."""
    leads: dict[str, dict[str, int]] = {}
    account_of: dict[str, str] = {}
    for number in range(len(sandbox.info["users"])):
        user = sandbox.user(number)
        for account in user["ad_account_ids"]:
            params = {"level": "ad", "time_increment": 1, "fields": "ad_id,actions"}
            rows = read_all(
                sandbox, account, token=user["token"], **params, **window(sandbox, account)
            )
            for row in rows:
                account_of[row["ad_id"]] = account.removeprefix("act_")
                actions = {a["action_type"]: int(a["value"]) for a in row.get("actions", [])}
                if actions.get(ONSITE):
                    leads.setdefault(row["ad_id"], {})[row["date_start"]] = actions[ONSITE]
                    assert actions["lead"] >= actions[ONSITE]  # every lead counts as lead
    return leads, account_of


def test_the_insights_count_the_lead_ads_leads_per_ad_and_day(lead_world: Sandbox) -> None:
    truth = lead_world.control("GET", "ground-truth/leads")
    windows = lead_world.truth()["windows"]
    from_insights, account_of = _insights_leads(lead_world)
    assert truth["by_ad"] and sum(truth["by_ad"].values()) > 60  # most leads came from ads
    assert set(truth["by_ad"]) <= set(account_of)  # every lead's ad delivered in the window

    from_leads: dict[str, dict[str, int]] = {}
    for ad, days in truth["by_ad_day"].items():
        first, last = windows[account_of[ad]]
        assert sum(days.values()) == truth["by_ad"][ad]
        # a lead falls on a day the insights serve, or on today (served once the day is added)
        assert all(d <= (date.fromisoformat(last) + timedelta(days=1)).isoformat() for d in days)
        served = {day: n for day, n in days.items() if first <= day <= last}
        if served:
            from_leads[ad] = served
    assert from_insights == from_leads
    assert sum(map(sum, (d.values() for d in from_leads.values()))) > 60
