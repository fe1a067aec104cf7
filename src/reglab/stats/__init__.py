"""Statistics over resampled scores: corrected intervals, paired tests, Holm, verdicts.

>>> from reglab.stats import compare, summarize, holm, combination_verdicts
"""

from reglab.stats.compare import (
    OUTCOMES,
    Comparison,
    Ranked,
    Verdict,
    combination_verdicts,
    compare,
    format_p,
    holm,
    rank,
    strategy_parts,
    summarize_all,
)
from reglab.stats.ttest import (
    StrategySummary,
    TTestResult,
    corrected_resampled_ttest,
    summarize,
)

__all__ = [
    "OUTCOMES",
    "Comparison",
    "Ranked",
    "StrategySummary",
    "TTestResult",
    "Verdict",
    "combination_verdicts",
    "compare",
    "corrected_resampled_ttest",
    "format_p",
    "holm",
    "rank",
    "strategy_parts",
    "summarize",
    "summarize_all",
]
