"""The corrected resampled t-test and corrected intervals against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reglab.errors import ConfigError
from reglab.stats import corrected_resampled_ttest, summarize


def reference_ttest(a: list[float], b: list[float], n_train: int, n_test: int):
    """Nadeau & Bengio (2003), eq. for the corrected resampled t: written with plain loops."""
    J = len(a)
    d = [a[j] - b[j] for j in range(J)]
    mean = 0.0
    for x in d:
        mean += x
    mean /= J
    ss = 0.0
    for x in d:
        ss += (x - mean) ** 2
    var = ss / (J - 1)
    t = mean / math.sqrt((1.0 / J + n_test / n_train) * var)
    p = 2.0 * stats.t.sf(abs(t), J - 1)
    return mean, t, p


CASES = {
    "5fold": (5, 800, 200, 0),
    "10fold": (10, 900, 100, 1),
    "5x2cv": (10, 500, 500, 2),
    "holdout-30": (30, 700, 300, 3),
}


@pytest.mark.parametrize(("J", "n_train", "n_test", "seed"), CASES.values(), ids=CASES.keys())
def test_matches_reference_formula(J: int, n_train: int, n_test: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = (0.8 + 0.03 * rng.standard_normal(J)).tolist()
    b = (0.79 + 0.03 * rng.standard_normal(J)).tolist()
    mean, t, p = reference_ttest(a, b, n_train, n_test)
    r = corrected_resampled_ttest(a, b, n_train, n_test)
    assert r.mean_diff == pytest.approx(mean, rel=1e-12)
    assert r.t == pytest.approx(t, rel=1e-10)
    assert r.p_value == pytest.approx(p, rel=1e-10)
    assert r.df == J - 1
    assert r.n == J
    half = stats.t.ppf(0.975, J - 1) * abs(mean / t)
    assert r.ci == pytest.approx((mean - half, mean + half), rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(0, 1), min_size=2, max_size=12),
    shift=st.lists(st.floats(-0.2, 0.2), min_size=12, max_size=12),
    n_train=st.integers(10, 10_000),
    n_test=st.integers(1, 5_000),
)
def test_property_matches_reference(a, shift, n_train, n_test) -> None:
    b = [x + s for x, s in zip(a, shift, strict=False)]
    d = np.subtract(a, b)
    if np.ptp(d) <= 1e-9:  # degenerate: covered by the zero-variance tests
        return
    _, t, p = reference_ttest(a, b, n_train, n_test)
    r = corrected_resampled_ttest(a, b, n_train, n_test)
    assert r.t == pytest.approx(t, rel=1e-8)
    assert r.p_value == pytest.approx(p, rel=1e-7, abs=1e-300)
    back = corrected_resampled_ttest(b, a, n_train, n_test)
    assert back.t == pytest.approx(-r.t, rel=1e-12)
    assert back.p_value == pytest.approx(r.p_value, rel=1e-12)


def test_hand_computed_example() -> None:
    # d = (0.02, 0.01, 0.03, 0.00, 0.04): mean 0.02, sample variance 2.5e-4.
    # corrected variance factor 1/5 + 200/800 = 0.45 -> se^2 = 1.125e-4, t = 2/sqrt(1.125).
    a = [0.82, 0.81, 0.83, 0.80, 0.84]
    b = [0.80] * 5
    r = corrected_resampled_ttest(a, b, n_train=800, n_test=200)
    assert r.mean_diff == pytest.approx(0.02)
    assert r.se == pytest.approx(math.sqrt(1.125e-4))
    assert r.t == pytest.approx(1.8856180831641267)
    assert r.p_value == pytest.approx(0.13242, abs=1e-5)
    # The naive paired t-test (scipy) calls the same data significant: t = 2*sqrt(2).
    naive = stats.ttest_rel(a, b)
    assert naive.statistic == pytest.approx(2 * math.sqrt(2))
    assert naive.pvalue < 0.05 < r.p_value


@pytest.mark.parametrize("J,ratio", [(5, 0.25), (10, 1 / 9), (30, 3 / 7)], ids=str)
def test_correction_shrinks_naive_t_by_known_factor(J: int, ratio: float) -> None:
    rng = np.random.default_rng(J)
    a, b = rng.normal(0.8, 0.02, J), rng.normal(0.8, 0.02, J)
    n_train = 700 if ratio == 3 / 7 else (800 if ratio == 0.25 else 900)
    n_test = round(n_train * ratio)
    r = corrected_resampled_ttest(a.tolist(), b.tolist(), n_train, n_test)
    naive = stats.ttest_rel(a, b).statistic
    assert r.t == pytest.approx(naive / math.sqrt(1 + J * ratio), rel=1e-10)


def test_corrected_interval_is_wider_by_sqrt_of_variance_factor() -> None:
    scores = {0: 0.80, 1: 0.84, 2: 0.82, 3: 0.86, 4: 0.78}
    s = summarize(scores, n_train=800, n_test=200)
    x = np.array(list(scores.values()))
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    J = len(x)
    factor = math.sqrt((1 / J + 200 / 800) / (1 / J))
    assert (s.ci_high - s.ci_low) / (hi - lo) == pytest.approx(factor)
    assert s.mean == pytest.approx(x.mean())
    assert s.std == pytest.approx(x.std(ddof=1))
    assert (s.ci_low + s.ci_high) / 2 == pytest.approx(s.mean)


def test_summary_confidence_level_changes_width() -> None:
    scores = [0.7, 0.75, 0.72, 0.71]
    narrow = summarize(scores, 300, 100, confidence=0.8)
    wide = summarize(scores, 300, 100, confidence=0.99)
    ratio = stats.t.ppf(0.995, 3) / stats.t.ppf(0.9, 3)
    assert (wide.ci_high - wide.ci_low) / (narrow.ci_high - narrow.ci_low) == pytest.approx(ratio)


def test_summary_of_one_split_has_no_interval() -> None:
    s = summarize({"only": 0.9}, 90, 10)
    assert s.mean == 0.9 and s.n == 1
    assert math.isnan(s.std) and math.isnan(s.ci_low) and math.isnan(s.ci_high)


def test_per_split_sizes_use_the_mean_ratio() -> None:
    a = {0: 0.81, 1: 0.83, 2: 0.80}
    b = {0: 0.80, 1: 0.80, 2: 0.80}
    n_train = {0: 67, 1: 67, 2: 66}
    n_test = {0: 33, 1: 33, 2: 34}
    ratio = np.mean([33 / 67, 33 / 67, 34 / 66])
    r = corrected_resampled_ttest(a, b, n_train, n_test)
    d = np.array([0.01, 0.03, 0.0])
    assert r.se == pytest.approx(d.std(ddof=1) * math.sqrt(1 / 3 + ratio))


def test_pairs_by_split_id_not_by_order() -> None:
    a = {0: 0.9, 1: 0.8, 2: 0.85, 3: 0.7}
    b = {3: 0.69, 2: 0.8, 1: 0.75, 0: 0.88, 9: 0.1}  # extra split 9 is unpaired
    r = corrected_resampled_ttest(a, b, 90, 10)
    expected = corrected_resampled_ttest([0.9, 0.8, 0.85, 0.7], [0.88, 0.75, 0.8, 0.69], 90, 10)
    assert r.n == 4
    assert r.t == pytest.approx(expected.t)
    assert r.p_value == pytest.approx(expected.p_value)


def test_identical_scores_give_p_one() -> None:
    r = corrected_resampled_ttest([0.8, 0.9, 0.7], [0.8, 0.9, 0.7], 80, 20)
    assert (r.t, r.p_value, r.mean_diff, r.ci) == (0.0, 1.0, 0.0, (0.0, 0.0))
    assert r.note == "identical scores on every split"


@pytest.mark.parametrize("delta,sign", [(0.05, 1.0), (-0.05, -1.0)], ids=["above", "below"])
def test_constant_difference_gives_the_sign_tests_p(delta: float, sign: float) -> None:
    b = [0.5, 0.25, 0.75, 0.125]
    a = [x + delta for x in b]
    r = corrected_resampled_ttest(a, b, 80, 20)
    assert r.p_value == 2 * 0.5**4  # four splits on one side: not significant, however constant
    # one more correct row of 230 on each of 3 folds is not significant; so is 1, 1, 2 rows
    one = corrected_resampled_ttest([0.8 + 1 / 230] * 3, [0.8] * 3, 460, 230)
    uneven = corrected_resampled_ttest([0.8 + 1 / 230] * 2 + [0.8 + 2 / 230], [0.8] * 3, 460, 230)
    assert one.p_value == 0.25 and uneven.p_value > 0.05
    assert corrected_resampled_ttest([0.9] * 10, [0.8] * 10, 80, 20).p_value < 0.05
    assert r.t == sign * math.inf
    assert r.mean_diff == pytest.approx(delta)
    assert "zero variance" in r.note


def test_the_same_rows_on_folds_of_unequal_size_are_a_constant_difference() -> None:
    # W1's 2,000 rows in 3 folds: 667, 667, 666. Two more correct rows on each fold differ in
    # the sixth digit as scores; that is no variance to divide by, and no evidence.
    sizes = {0: 667, 1: 667, 2: 666}
    train = {k: 2000 - v for k, v in sizes.items()}
    b = {0: 376 / 667, 1: 356 / 667, 2: 339 / 666}
    a = {0: 378 / 667, 1: 358 / 667, 2: 341 / 666}
    r = corrected_resampled_ttest(a, b, train, sizes)
    assert r.p_value == 0.25 and "zero variance" in r.note
    # one fold with three rows: a real (if small) variance, the t-test as usual
    c = {**a, 2: 342 / 666}
    assert not corrected_resampled_ttest(c, b, train, sizes).note


ERRORS = {
    "one-common-split": (
        ({0: 0.8, 1: 0.7}, {1: 0.6, 2: 0.5}, 80, 20, {}),
        r"corrected_resampled_ttest: `b` must be scored on at least 2 of the splits of `a`; "
        r"got 1\.",
    ),
    "nan-score": (
        ([0.8, float("nan")], [0.7, 0.6], 80, 20, {}),
        r"corrected_resampled_ttest: `a` must be finite scores; got \{1: nan\}\.",
    ),
    "unequal-lengths": (
        ([0.8, 0.7, 0.6], [0.7, 0.6], 80, 20, {}),
        r"`b` must be as many scores as `a` \(3\); got 2\.",
    ),
    "zero-train": (
        ([0.8, 0.7], [0.7, 0.6], 0, 20, {}),
        r"`n_train` must be a positive integer per split; got 0\.",
    ),
    "missing-split-size": (
        ([0.8, 0.7], [0.7, 0.6], {0: 80}, 20, {}),
        r"`n_train` must be a size for every split \(missing 1\); got \{0: 80\}\.",
    ),
    "confidence": (
        ([0.8, 0.7], [0.7, 0.6], 80, 20, {"confidence": 95}),
        r"corrected_resampled_ttest: `confidence` must be a float in \(0, 1\); got 95\.",
    ),
}


@pytest.mark.parametrize(("args", "match"), ERRORS.values(), ids=ERRORS.keys())
def test_errors(args, match: str) -> None:
    *positional, kwargs = args
    with pytest.raises(ConfigError, match=match):
        corrected_resampled_ttest(*positional, **kwargs)


def test_summarize_rejects_empty_scores() -> None:
    with pytest.raises(ConfigError, match=r"summarize: `scores` must be at least one score"):
        summarize({}, 80, 20)


def test_results_serialize() -> None:
    r = corrected_resampled_ttest([0.8, 0.9, 0.85], [0.7, 0.8, 0.8], 80, 20)
    d = r.to_dict()
    assert d["df"] == 2 and d["ci"] == r.ci and d["p_value"] == r.p_value
    s = summarize([0.8, 0.9], 80, 20, higher_is_better=False).to_dict()
    assert s["higher_is_better"] is False and s["n"] == 2
