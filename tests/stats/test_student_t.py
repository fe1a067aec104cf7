"""Student's t without scipy, against scipy and closed forms as oracles."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from reglab.errors import ConfigError
from reglab.stats.student_t import betainc, t_cdf, t_isf, t_pdf, t_ppf, t_sf

DFS = [1, 1.5, 2, 2.5, 3, 4, 5, 7.3, 10, 17.5, 29, 30, 99.5, 100, 250, 500, 999, 1000]
TS = [1e-3, 0.05, 0.3, 0.7, 1, 1.3, 2, 2.5, 3.5, 5, 8, 13, 20, 40, 100, 1e3, 1e6, 1e12]
PS = [1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45]
PS += [1 - p for p in PS] + [0.5]
REL = 1e-10


def _rel(got: float, ref: float) -> float:
    if got == ref:  # also ±inf where 1 − p rounds to 0
        return 0.0
    return abs(got - ref) / abs(ref) if ref != 0 else abs(got)


@pytest.mark.parametrize("df", DFS, ids=[f"df={d}" for d in DFS])
def test_sf_cdf_and_pdf_match_scipy(df: float) -> None:
    """Every t of the grid, both signs, including tails down to 1e-290."""
    worst = {"sf": 0.0, "cdf": 0.0, "pdf": 0.0}
    for t in [0.0] + [s * t for t in TS for s in (1, -1)]:
        for name, ours, ref in (
            ("sf", t_sf(t, df), stats.t.sf(t, df)),
            ("cdf", t_cdf(t, df), stats.t.cdf(t, df)),
            ("pdf", t_pdf(t, df), stats.t.pdf(t, df)),
        ):
            if ref > 1e-290:  # below, scipy underflows
                worst[name] = max(worst[name], _rel(ours, ref))
    assert max(worst.values()) < REL, worst


@pytest.mark.parametrize("df", DFS, ids=[f"df={d}" for d in DFS])
def test_ppf_and_isf_match_scipy(df: float) -> None:
    worst = 0.0
    for p in PS:
        worst = max(worst, _rel(t_ppf(p, df), stats.t.ppf(p, df)))
        worst = max(worst, _rel(t_isf(p, df), stats.t.isf(p, df)))
    assert worst < REL


def _cauchy_sf(t: float) -> float:
    """P(T₁ > t) = ½ − atan(t)/π = atan(1/t)/π for t > 0."""
    return 0.5 - math.atan(t) / math.pi if t < 1 else math.atan(1 / t) / math.pi


def _df2_sf(t: float) -> float:
    """P(T₂ > t) = ½ − t/(2s) = 1/(s·(s + t)) with s = √(2 + t²)."""
    s = math.sqrt(2 + t * t)
    return 0.5 - t / (2 * s) if t < 1 else 1 / (s * (s + t))


CLOSED_FORMS = {"cauchy": (1.0, _cauchy_sf), "df=2": (2.0, _df2_sf)}


@pytest.mark.parametrize(("df", "sf"), CLOSED_FORMS.values(), ids=CLOSED_FORMS.keys())
@pytest.mark.parametrize("t", [1e-300, 1e-12, 1e-8, 1e-3, 0.5, 1, 3, 1e4, 1e100, 1e200])
def test_closed_forms_where_scipy_loses_digits(df, sf, t: float) -> None:
    """scipy's sf is off by 3e-9 at t = 1e-8 for the Cauchy; these closed forms are exact."""
    assert t_sf(t, df) == pytest.approx(sf(t), rel=1e-13)
    assert t_cdf(-t, df) == pytest.approx(sf(t), rel=1e-13)
    assert t_sf(-t, df) == pytest.approx(1 - sf(t), rel=1e-15)
    if sf(t) > 0:  # 1e200 with df = 2: sf underflows
        assert t_isf(sf(t), df) == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize("df", [0.3, 1, 2.5, 3, 10, 1000, 1e5], ids=lambda d: f"df={d}")
@pytest.mark.parametrize("q", [1e-300, 1e-200, 1e-30, 1e-3, 0.3, 0.4999999, 0.5 - 1e-15])
def test_isf_inverts_sf_in_the_far_tails(df: float, q: float) -> None:
    """Where scipy's quantile breaks down (q = 1e-200 with df = 2.5 is off by a factor 2)."""
    t = t_isf(q, df)
    if math.isinf(t):  # the quantile exceeds the largest float: sf there is still above q
        assert t_sf(1.7e308, df) > q
    else:
        assert t > 0
        assert t_sf(t, df) == pytest.approx(q, rel=1e-12)
        assert t_ppf(q, df) == -t


@pytest.mark.parametrize(
    ("a", "b"), [(0.5, 0.5), (0.5, 3.0), (2.0, 3.0), (50.0, 0.5), (0.5, 500.0), (7.5, 120.0)]
)
def test_betainc_matches_scipy(a: float, b: float) -> None:
    xs = [0.0, 1e-30, 1e-8, 1e-3, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999, 1.0]
    for x in xs:
        ref = special.betainc(a, b, x)
        if ref > 1e-290:
            assert betainc(a, b, x) == pytest.approx(ref, rel=1e-11), x
        else:
            assert betainc(a, b, x) <= 1e-280


@pytest.mark.parametrize("x", [1e-300, 1e-12, 0.2, 0.5, 0.9, 1 - 1e-9, 1 - 1e-12])
def test_betainc_arcsine_law(x: float) -> None:
    """I_x(½, ½) = (2/π)·asin(√x) = 1 − (2/π)·asin(√(1−x)); scipy is off by 4e-11 at 1 − 1e-12."""
    exact = (
        2 / math.pi * math.asin(math.sqrt(x))
        if x < 0.5
        else 1 - 2 / math.pi * math.asin(math.sqrt(1 - x))
    )
    assert betainc(0.5, 0.5, x) == pytest.approx(exact, rel=1e-13)


def test_special_points() -> None:
    assert (t_sf(0.0, 5), t_cdf(0.0, 5), t_ppf(0.5, 5), t_isf(0.5, 5)) == (0.5, 0.5, 0.0, 0.0)
    assert (t_sf(math.inf, 3), t_sf(-math.inf, 3), t_pdf(math.inf, 3)) == (0.0, 1.0, 0.0)
    assert (t_ppf(0.0, 3), t_ppf(1.0, 3), t_isf(0.0, 3), t_isf(1.0, 3)) == (
        -math.inf,
        math.inf,
        math.inf,
        -math.inf,
    )
    assert math.isnan(t_sf(math.nan, 3)) and math.isnan(t_pdf(math.nan, 3))


dfs = st.one_of(
    st.integers(1, 1000).map(float), st.floats(0.2, 1000, allow_nan=False, allow_infinity=False)
)
ts = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(df=dfs, t1=ts, t2=ts)
def test_cdf_is_monotone(df: float, t1: float, t2: float) -> None:
    lo, hi = sorted((t1, t2))
    assert t_cdf(lo, df) <= t_cdf(hi, df)
    assert t_sf(lo, df) >= t_sf(hi, df)


@settings(max_examples=200, deadline=None)
@given(df=dfs, t=ts)
def test_symmetry_and_cdf_plus_sf_is_one(df: float, t: float) -> None:
    assert t_cdf(t, df) == t_sf(-t, df)
    assert t_cdf(t, df) + t_sf(t, df) == pytest.approx(1.0, abs=2e-16)
    assert t_cdf(-t, df) == pytest.approx(1.0 - t_cdf(t, df), abs=2e-16)
    assert t_pdf(t, df) == t_pdf(-t, df)


@settings(max_examples=200, deadline=None)
@given(df=dfs, p1=st.floats(1e-12, 1 - 1e-12), p2=st.floats(1e-12, 1 - 1e-12))
def test_ppf_is_monotone_and_inverts_cdf(df: float, p1: float, p2: float) -> None:
    lo, hi = sorted((p1, p2))
    assert t_ppf(lo, df) <= t_ppf(hi, df)
    if 1 - (1 - p1) == p1:  # p1 and 1 − p1 both exact
        assert t_ppf(p1, df) == -t_ppf(1 - p1, df)
    t = t_ppf(p1, df)
    # the quantile is as good as the CDF's slope allows: |Δp| ≤ tiny + pdf·|t|·1e-13
    assert abs(t_cdf(t, df) - p1) <= 1e-15 + 1e-13 * p1 + t_pdf(t, df) * abs(t) * 1e-13


@pytest.mark.parametrize(
    ("call", "pinned"),
    [
        (lambda: t_sf(1.0, 0), "t_sf: `df` must be a finite number > 0; got 0."),
        (lambda: t_sf(1.0, math.inf), "t_sf: `df` must be a finite number > 0; got inf."),
        (lambda: t_cdf("1", 3), "t_cdf: `t` must be a real number; got '1'."),
        (lambda: t_ppf(1.5, 3), "t_ppf: `p` must be a probability in [0, 1]; got 1.5."),
        (lambda: t_isf(-0.1, 3), "t_isf: `q` must be a probability in [0, 1]; got -0.1."),
        (lambda: t_isf(0.1, True), "t_isf: `df` must be a finite number > 0; got True."),
        (lambda: betainc(1.0, 2.0, 1.5), "betainc: `x` must be a number in [0, 1]; got 1.5."),
    ],
    ids=["df_zero", "df_inf", "t_text", "p_above_one", "q_negative", "df_bool", "x_above_one"],
)
def test_invalid_arguments_are_rejected(call, pinned: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(pinned)):
        call()


@pytest.mark.parametrize("module", ["reglab.stats", "reglab.cli.render"])
def test_statistics_and_the_terminal_table_import_no_heavy_library(module: str) -> None:
    """`reglab show` renders through these; scipy alone costs 0.7 s of start-up."""
    heavy = ("scipy", "torch", "matplotlib")
    code = f"import sys, {module}; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
