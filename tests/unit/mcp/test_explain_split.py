"""The split of a change in spend or cost per result, on plain figures: the parts add up to
the change, each factor moves the way it should, and an undefined ratio is said, not faked."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from metasync.mcp.explain import Figures, split


def _figures(spend: str, impressions: int, clicks: int, results: int) -> Figures:
    return Figures(Decimal(spend), impressions, clicks, Decimal(results), rows=7)


def test_a_dearer_price_of_impressions_explains_a_dearer_result() -> None:
    before = {"1": _figures("100.00", 10_000, 200, 10)}
    after = {"1": _figures("200.00", 10_000, 200, 10)}  # same volume and rates, CPM doubled
    result = split("cost_per_result", before, after)
    assert result["difference"] == "10.0000"
    parts = {f["factor"]: Decimal(f["contribution"]) for f in result["by_factor"]}
    assert parts == {
        "price of impressions (CPM)": Decimal("10.0000"),
        "click-through rate": Decimal(0),
        "conversion rate": Decimal(0),
    }
    assert result["by_entity"][0]["contribution"] == "10.0000"


def test_a_better_conversion_rate_lowers_the_cost_per_result() -> None:
    before = {"1": _figures("100.00", 10_000, 200, 10)}
    after = {"1": _figures("100.00", 10_000, 200, 20)}
    parts = {
        f["factor"]: Decimal(f["contribution"])
        for f in split("cost_per_result", before, after)["by_factor"]
    }
    assert parts["conversion rate"] == Decimal("-5.0000")


def test_no_results_in_a_period_says_why_instead_of_a_split() -> None:
    result = split(
        "cost_per_result",
        {"1": _figures("50.00", 1000, 10, 0)},
        {"1": _figures("60.00", 1000, 10, 3)},
    )
    assert result["by_factor"] is None and "undefined" in result["by_factor_note"]
    assert result["difference"] is None and result["by_entity_note"]


figures = st.builds(
    _figures,
    st.integers(1, 10**7).map(lambda cents: str(Decimal(cents) / 100)),
    st.integers(1, 10**7),
    st.integers(1, 10**5),
    st.integers(1, 10**4),
)


@given(
    st.dictionaries(st.sampled_from("abcdef"), figures, min_size=1),
    st.dictionaries(st.sampled_from("abcdef"), figures, min_size=1),
    st.sampled_from(["spend", "cost_per_result"]),
)
def test_the_parts_add_up_to_the_change(
    before: dict[str, Figures], after: dict[str, Figures], metric: str
) -> None:
    result = split(metric, before, after, top=3)  # type: ignore[arg-type]
    change = Decimal(result["difference"])
    by_entity = sum(Decimal(p["contribution"]) for p in result["by_entity"])
    rest = Decimal(result["others"]["contribution"])
    assert abs(by_entity + rest - change) <= Decimal("0.001") * len(set(before) | set(after))
    by_factor = sum(Decimal(f["contribution"]) for f in result["by_factor"])
    assert abs(by_factor - change) <= max(Decimal("0.001"), abs(change) * Decimal("1e-6"))
