"""The study report: one self-contained HTML page, a pure function of stored results.

>>> from reglab.report import render_report, write_report
"""

from reglab.report.digest import StudyLike
from reglab.report.html import render_report, write_report

__all__ = ["StudyLike", "render_report", "write_report"]
