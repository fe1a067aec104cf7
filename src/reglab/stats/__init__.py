"""Statistics over resampled scores: corrected intervals, paired tests, Holm, verdicts, and
the answer rule.

>>> from reglab.stats import compare, summarize, holm, combination_verdicts, answer
"""

from reglab.stats.answer import ANSWER_CASES, Answer, answer, compare_with, verdicts_with
from reglab.stats.compare import (
    OUTCOMES,
    Comparison,
    ComparisonList,
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
    "ANSWER_CASES",
    "OUTCOMES",
    "Answer",
    "Comparison",
    "ComparisonList",
    "Ranked",
    "StrategySummary",
    "TTestResult",
    "Verdict",
    "answer",
    "combination_verdicts",
    "compare",
    "compare_with",
    "corrected_resampled_ttest",
    "format_p",
    "holm",
    "rank",
    "strategy_parts",
    "summarize",
    "summarize_all",
    "verdicts_with",
]
