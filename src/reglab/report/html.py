"""The study report: one self-contained HTML page, a pure function of stored results.

:func:`render_report` turns a study and its member records into an HTML string: inline CSS,
figures as inline PNG data URIs, no script, no external resource (a Content-Security-Policy
meta tag forbids any). :func:`write_report` reads a study from a :class:`~reglab.store.Store`
and writes the page. The report never imports training code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reglab._outputs import check_output, write_atomic
from reglab._validation import message
from reglab.data._layout import describe_shape
from reglab.errors import ConfigError
from reglab.report import diagnostics as diag
from reglab.report import sections as sec
from reglab.report.digest import Digest, StudyLike, digest
from reglab.report.markup import esc
from reglab.report.path import is_path, path_section
from reglab.store import MemberRecord, Store
from reglab.study.results import StudyResult, analyze_study, load_result

__all__ = ["StudyLike", "render_report", "write_report"]


_CSS = """
:root{--ink:#111827;--muted:#6b7280;--line:#e5e7eb;--zebra:#f9fafb;--accent:#2563eb;
--good:#15803d;--bad:#b91c1c;--warn:#b45309;--bg:#fff}
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:var(--ink);font:15px/1.55 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 64px}
header{padding:8px 0 12px}
.eyebrow{margin:0;color:var(--muted);font-size:12px;letter-spacing:.08em;text-transform:uppercase}
h1{margin:4px 0 6px;font-size:28px;line-height:1.2}
h2{margin:0 0 12px;font-size:20px}
h3{margin:22px 0 8px;font-size:16px}
.sub{margin:0;color:var(--muted)}
nav{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;gap:4px 14px;padding:8px 12px;
margin:12px 0 18px;background:rgba(255,255,255,.94);border:1px solid var(--line);border-radius:10px}
nav a{color:var(--accent);text-decoration:none;font-size:14px}
nav a:hover{text-decoration:underline}
section{background:var(--bg);border:1px solid var(--line);border-radius:12px;padding:20px 22px;
margin:0 0 18px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
p{margin:8px 0}
.muted{color:var(--muted)}
.callout{font-size:15px;margin:4px 0 10px;padding:12px 16px;border-left:5px solid var(--accent);
background:#eff6ff;border-radius:6px}
.callout.headline{font-size:18px;font-weight:600;line-height:1.4}
.callout.warn{border-left-color:var(--warn);background:#fffbeb}
.notices{margin:0 0 10px;padding:0;list-style:none}
.notice{margin:4px 0;padding:6px 12px;border-left:3px solid var(--warn);background:#fffbeb;
border-radius:4px;font-size:14px}
.facts li{margin:4px 0}
.good{color:var(--good)}.bad{color:var(--bad)}.ns{color:var(--muted)}.mixed{color:var(--warn)}
.base{color:var(--muted);font-style:italic}
.sw{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;
vertical-align:baseline}
.st{font-weight:600;word-break:break-word}
td .st,th .st{white-space:nowrap}
td{white-space:nowrap}td.err{white-space:normal}
.scroll{overflow-x:auto}
table.rank th,table.rank td{white-space:normal}
td .st.wrap{white-space:normal}
table.rank tbody tr{background:none}
table.rank tbody:nth-of-type(even) tr{background:var(--zebra)}
table.rank tbody:hover tr{background:#eef2ff}
table.rank tbody tr:not(:last-child) td{border-bottom:0}
table.rank tr.more td{padding-top:0;font-size:12px}
.metric{white-space:nowrap}
.scroll.tall{max-height:520px;overflow-y:auto}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:6px 9px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{position:sticky;top:0;background:#f9fafb;font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:var(--zebra)}
tbody tr:hover{background:#eef2ff}
.ci{color:var(--muted);font-size:12px;white-space:nowrap}
.bar{display:inline-block;width:60px;height:8px;background:#e5e7eb;border-radius:4px;
vertical-align:middle;overflow:hidden}
.bar span{display:block;height:100%;background:#60a5fa}
figure{margin:12px 0}
img{max-width:100%;height:auto;display:block}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;
padding:1px 4px;border-radius:4px}
dl{display:grid;grid-template-columns:minmax(140px,max-content) 1fr;gap:4px 16px;margin:6px 0}
dt{color:var(--muted)}dd{margin:0;min-width:0;word-break:break-word}
dd dl{margin:0}
.verdicts>li{margin:8px 0}
.err{font-family:ui-monospace,monospace;font-size:12.5px;color:var(--bad)}
footer{color:var(--muted);font-size:12px;text-align:center}
@media print{nav{display:none}section{break-inside:avoid;box-shadow:none}body{background:#fff}}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("reglab")
    except Exception:  # the footer must never break the page
        return "unknown"


def _subtitle(d: Digest) -> str:
    data = d.info.config.get("data") if isinstance(d.info.config, Mapping) else None
    bits = []
    if isinstance(data, Mapping):
        name = data.get("name")
        task = data.get("task")
        if name:
            bits.append(f"data set <b>{esc(name)}</b>")
        kind, shape = data.get("kind"), data.get("shape")
        rows, columns = int(data.get("rows", 0) or 0), int(data.get("columns", 0) or 0)
        if kind in ("images", "sequences") and isinstance(shape, list):
            bits.append(esc(describe_shape(str(kind), [int(v) for v in shape], rows, columns)))
        elif rows and columns:  # a table: as read, and the network's inputs after encoding
            inputs = int(data.get("inputs", 0) or 0)
            encoded = f" ({inputs} inputs after encoding)" if inputs and inputs != columns else ""
            bits.append(f"{rows:,} rows × {columns} columns{encoded}")
        if task:
            bits.append(esc(task))
    n_done = sum(len(ms) for ms in d.members.values())
    if not d.strategies:
        bits.append("no members stored")
        return " · ".join(bits)
    bits.append(f"{len(d.strategies)} strateg{'ies' if len(d.strategies) != 1 else 'y'}")
    protocol = d.info.metadata.get("protocol") if isinstance(d.info.metadata, Mapping) else None
    grouped = protocol.get("groups") if isinstance(protocol, Mapping) else None
    bits.append(f"{len(d.splits)} split{'s' if len(d.splits) != 1 else ''}"
                + (f" {esc(str(grouped))}" if grouped else ""))  # fmt: skip
    bits.append(
        f"{n_done + len(d.chance) + len(d.failed)} members"
        + (f", {len(d.chance)} learned nothing" if d.chance else "")
        + (f", {len(d.failed)} failed" if d.failed else "")
    )
    if d.result.tuning:
        t = d.result.tuning[0]
        bits.append(f"nested: tuned by {t.trials} trials on {t.inner_folds} inner folds per split")
    better = "higher" if d.metric.higher_is_better else "lower"
    bits.append(f"ranked by test {esc(d.metric.label)} ({better} is better)")
    return " · ".join(bits)


def _page(d: Digest) -> str:
    parts: list[tuple[str, str, str]] = [
        ("answer", "Answer", sec.answer(d)),
        ("ranking", "Ranking", sec.ranking(d)),
        ("splits", "Per-split scores", sec.splits(d)),
        ("curves", "Training curves", sec.curves(d)),
        ("weights", "Weight distributions", diag.weights(d)),
        ("sparsity", "Sparsity & features", diag.sparsity(d)),
    ]
    if d.result.tuning:  # a nested study: the strengths each outer split chose
        from reglab.report.nested import tuning_section

        parts.insert(2, ("tuning", "Tuned strengths", tuning_section(d)))
    if is_path(d):  # a study made by `reglab path`: its curve and choice come first
        parts.insert(0, ("path", "Strength path", path_section(d)))
    if d.failed or d.chance:
        title = (
            "Failed members" if not d.chance
            else "Members that learned nothing" if not d.failed
            else "Failed members, and those that learned nothing"
        )  # fmt: skip
        parts.append(("failures", title, diag.failures(d)))
    parts.append(("metadata", "Run metadata", diag.metadata(d)))
    nav = "".join(f'<a href="#{sid}">{title}</a>' for sid, title, _ in parts)
    body = "\n".join(
        f'<section id="{sid}"><h2>{title}</h2>\n{html}\n</section>' for sid, title, html in parts
    )
    title = esc(f"{d.name} — reglab report")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="reglab {esc(_version())}">
<title>{title}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<p class="eyebrow">reglab study report</p>
<h1>Which regularization? <span class="muted">Study</span> {esc(d.name)}</h1>
<p class="sub">{_subtitle(d)}</p>
</header>
<nav>{nav}</nav>
{body}
<footer>Generated by reglab {esc(_version())} on {datetime.now().strftime("%Y-%m-%d %H:%M")}
from stored results; every interval and test is the Nadeau–Bengio corrected one.</footer>
</main>
</body>
</html>
"""


def _check_study(who: str, study: Any) -> None:
    missing = [a for a in ("name", "config", "metadata") if not hasattr(study, a)]
    if missing:
        raise ConfigError(
            message(
                who,
                "study_info",
                "a StudyInfo (with name, config and metadata)",
                type(study).__name__,
            )
        )


def _feature_names(who: str, study: Any, given: Sequence[str] | None) -> tuple[str, ...] | None:
    if given is not None:
        if isinstance(given, str | bytes) or not all(isinstance(n, str) for n in given):
            raise ConfigError(message(who, "feature_names", "a sequence of strings", given))
        return tuple(given)
    stored = getattr(study, "feature_names", None)
    if not stored and isinstance(study.metadata, Mapping):
        stored = study.metadata.get("feature_names")
    return tuple(str(n) for n in stored) if stored else None


def render_report(
    study_info: StudyLike | StudyResult,
    members: Sequence[MemberRecord] | None = None,
    *,
    feature_names: Sequence[str] | None = None,
) -> str:
    """The study's report as one self-contained HTML page.

    The page presents the study's one analysis (:func:`reglab.study.results.analyze`), the
    same the terminal table and ``--json`` show. Sections, in order: the answer (its first
    line and notices, as in the terminal, the details, the tests it rests on and the
    combined-versus-separate verdicts); the ranked table; per-split strip plots; training
    curves with the overfitting onset of ``none``; weight distributions (with a CNN study's
    first-layer filters); sparsity and selected features; failed members; run metadata.

    Args:
        study_info: the stored study (:class:`~reglab.store.StudyInfo`), or an analyzed
            :class:`~reglab.study.results.StudyResult` (then ``members`` must be omitted).
        members: its member records, finished and failed (default: ``study_info.members``
            when the object carries them).
        feature_names: input feature names; default: those stored with the study, else
            ``x0, x1, …``.

    Returns:
        The HTML text. Every study-provided string is escaped; the page holds no script.

    Raises:
        ConfigError: ``study_info`` lacks a name/config/metadata, ``members`` is not a sequence
            of :class:`~reglab.store.MemberRecord`, or ``feature_names`` is not strings.

    >>> from datetime import datetime
    >>> from reglab.store import MemberRecord, StudyInfo
    >>> info = StudyInfo("demo", datetime(2024, 1, 1), "done", {}, {}, None, {}, ("l2",))
    >>> page = render_report(info, [MemberRecord("k", "l2", 0, 1, 80, 20,
    ...                                          test_scores={"accuracy": 0.9})])
    >>> page.startswith("<!doctype html>"), "<script" in page, 'id="answer"' in page
    (True, False, True)
    """
    who = "render_report"
    if isinstance(study_info, StudyResult) and members is None:
        names = _feature_names(who, study_info, feature_names)
        return _page(digest(study_info, feature_names=names))
    _check_study(who, study_info)
    if members is None:
        members = getattr(study_info, "members", None)
        if members is None:
            raise ConfigError(message(who, "members", "a sequence of MemberRecord", None))
    if isinstance(members, str | bytes) or not isinstance(members, Sequence):
        raise ConfigError(
            message(who, "members", "a sequence of MemberRecord", type(members).__name__)
        )
    bad = [type(m).__name__ for m in members if not isinstance(m, MemberRecord)]
    if bad:
        raise ConfigError(message(who, "members", "a sequence of MemberRecord", f"a {bad[0]}"))
    names = _feature_names(who, study_info, feature_names)
    result = analyze_study(study_info, members)
    return _page(digest(result, study_info, feature_names=names))


def write_report(store: Store, study_name: str, path: str | os.PathLike[str]) -> Path:
    """Write the report of study ``study_name`` in ``store`` to ``path``; returns the path.

    Raises:
        ConfigError: ``path`` is the store or the study's data file, a directory or a special
            file, or its directory does not exist or is not writable.
        StoreError: the study is unknown or the store cannot be read.

    >>> import tempfile, pathlib
    >>> from reglab.store import MemberRecord, Store
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with Store(folder / "results.db") as store:
    ...     _ = store.create_study("demo", {"data": {"task": "multiclass"}})
    ...     for split, (a, b) in enumerate([(0.80, 0.84), (0.82, 0.85), (0.79, 0.83)]):
    ...         for name, acc in (("none", a), ("l2", b)):
    ...             record = MemberRecord(f"{name}{split}", name, split, 0, 80, 20,
    ...                                   test_scores={"accuracy": acc})
    ...             _ = store.save_member("demo", record)
    ...     path = write_report(store, "demo", folder / "demo.html")
    >>> "Best: l2, significantly better than no regularization" in path.read_text(), path.name
    (True, 'demo.html')
    """
    result = load_result(store, study_name)
    out = check_output("path", path, inputs=result.inputs(), writes="html")
    info = store.get_study(study_name)
    page = _page(digest(result, info, feature_names=_feature_names("write_report", info, None)))
    return write_atomic(out, page)
