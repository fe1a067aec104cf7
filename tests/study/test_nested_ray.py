"""A nested study (``Study(tune=N)``, ``reglab bench --tune N``) on the session's loopback Ray
cluster: its rounds and retrained members run as Ray tasks, and without pruning (no early
stopping) every stored member and every choice equals the local run's, bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from ray_cluster import RayCluster
from ray_records import assert_same_bits, records
from reglab.api import load_data
from reglab.store import Store
from reglab.study.ray_executor import RayExecutor
from reglab.study.run import Study

NESTED: dict[str, Any] = {
    "n_splits": 2,
    "method": "kfold",
    "epochs": 4,
    "early_stopping": False,  # no pruner: the trials do not depend on the order epochs arrive
    "hidden": (8,),
    "batch_size": 32,
    "tune": 2,
    "tune_cv": 2,
    "tune_batch": 2,
    "reference": "none",
    "device": "cpu",
}


def test_a_nested_study_through_ray_gives_the_local_choices_and_bits(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    data = load_data(x.astype(np.float32), y)
    with Store(tmp_path / "local.db") as local, Store(tmp_path / "ray.db") as remote:
        here = Study("none,dropout", **NESTED).run(data, local)
        executor = RayExecutor(ray_cluster.address)
        study = Study("none,dropout", **NESTED, executor=executor)
        there = study.run(data, remote)
        assert executor.tasks_ >= 1 and executor.reruns_ == 0
        assert_same_bits(records(local, here.name), records(remote, there.name))
        for inner in (f"{here.name}/inner",):
            assert_same_bits(records(local, inner), records(remote, inner))
        tuning = [local.get_study(here.name), remote.get_study(there.name)]
        assert tuning[0].metadata["tuning"] == tuning[1].metadata["tuning"]
    assert study.trained_ > 0
    assert there.strategies["dropout"].split_scores == here.strategies["dropout"].split_scores
