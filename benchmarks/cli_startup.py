"""Start-up time of the quick commands, as a ratio to ``python -c "import torch"``.

``reglab --help``, ``reglab datasets``, ``reglab show`` (listing a store) and ``reglab show
STUDY`` read no training code, so none of them should import torch, scipy or matplotlib
(issue 9: ``--help`` at most 0.4× of importing torch). Before timing, a small real study is
stored in a temporary directory (``reglab bench builtin:iris``, 3 epochs, 3 folds, four
strategies); a copy of that store without the planned strategy parts stands in for a store
written before they were kept, whose ``show`` must read the strategy grammar.

Every command, and ``import torch``, runs ``--runs`` times (default 5) as a fresh process,
round-robin so that a passing load on the shared cores hits all of them alike; the fastest run
of each counts. A probe then runs each command once inside ``python -c`` and lists the heavy
modules it imported. The last line printed is one JSON object: ``import_torch_s``,
``python_s`` (an empty interpreter), and per command ``best_s``, ``ratio`` (best_s /
import_torch_s), ``runs_s`` and ``heavy``; ``help_ratio`` and ``ok`` (help_ratio ≤ 0.4 and no
heavy import on any command).

    python benchmarks/cli_startup.py            # about half a minute
    python benchmarks/cli_startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEAVY = ("torch", "scipy", "matplotlib", "sklearn", "pandas")
"""Modules whose import a quick command should not pay for (pandas only reported)."""
FORBIDDEN = ("torch", "scipy", "matplotlib")
TARGET_HELP = 0.4
STUDY = "startup"
STRATEGIES = "none,l2=1e-4,dropout=0.2,dropout=0.2+l2=1e-4"

PROBE = """
import json, sys
from reglab.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
"""


def reglab_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("reglab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reglab.cli.main"]


def make_store(folder: Path) -> tuple[str, str]:
    """Store one small real study; return the store and a copy without ``strategy_parts``."""
    store = str(folder / "studies.db")
    bench = [
        *reglab_command(),
        "bench",
        "builtin:iris",
        "--target",
        "target",
        "--epochs",
        "3",
        "--cv",
        "3",
        "--strategies",
        STRATEGIES,
        "--device",
        "cpu",
        "--no-report",
        "--name",
        STUDY,
        "--store",
        store,
    ]
    subprocess.run(bench, check=True, capture_output=True, text=True, cwd=folder)
    legacy = str(folder / "no-parts.db")
    shutil.copyfile(store, legacy)
    from reglab.store import Store

    with Store(legacy, create=False) as st:
        metadata = dict(st.get_study(STUDY).metadata)
        metadata.pop("strategy_parts", None)
        st.update_metadata(STUDY, metadata, replace=True)
    return store, legacy


def commands(store: str, legacy: str) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "datasets": ["datasets"],
        "show": ["show", "--store", store],
        "show STUDY": ["show", STUDY, "--store", store],
        "show STUDY (no stored parts)": ["show", STUDY, "--store", legacy],
    }


def _time(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()}")
    return wall


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    """The heavy modules that running ``reglab ARGS`` in one interpreter imports."""
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=cwd
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    os.environ.setdefault("COLUMNS", "120")
    with tempfile.TemporaryDirectory(prefix="reglab-startup-") as tmp:
        folder = Path(tmp)
        store, legacy = make_store(folder)
        cmds = {name: [*reglab_command(), *a] for name, a in commands(store, legacy).items()}
        baselines = {
            "import torch": [sys.executable, "-c", "import torch"],
            "python": [sys.executable, "-c", "pass"],
        }
        timed: dict[str, list[float]] = {name: [] for name in (*baselines, *cmds)}
        for _ in range(runs):
            for name, cmd in (*baselines.items(), *cmds.items()):
                timed[name].append(_time(cmd, folder))
        heavy = {name: heavy_imports(a, folder) for name, a in commands(store, legacy).items()}

    best = {name: min(t) for name, t in timed.items()}
    torch_s = best["import torch"]
    print(f"python -c 'import torch': {torch_s:.3f} s; empty interpreter {best['python']:.3f} s")
    width = max(len(f"reglab {name}") for name in cmds)
    print(f"{'command':{width}} {'best s':>7} {'× torch':>8}  heavy imports")
    rows: dict[str, dict[str, Any]] = {}
    for name in cmds:
        ratio = best[name] / torch_s
        rows[name] = {
            "best_s": round(best[name], 3),
            "ratio": round(ratio, 3),
            "runs_s": [round(t, 3) for t in timed[name]],
            "heavy": heavy[name],
        }
        label = f"reglab {name}"
        print(f"{label:{width}} {best[name]:7.3f} {ratio:8.2f}  {', '.join(heavy[name]) or '-'}")
    help_ratio = rows["--help"]["ratio"]
    clean = all(not set(r["heavy"]) & set(FORBIDDEN) for r in rows.values())
    out: dict[str, Any] = {
        "benchmark": "cli_startup",
        "runs": runs,
        "import_torch_s": round(torch_s, 3),
        "python_s": round(best["python"], 3),
        "commands": rows,
        "help_ratio": help_ratio,
        "target_help_ratio": TARGET_HELP,
        "ok": help_ratio <= TARGET_HELP and clean,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
