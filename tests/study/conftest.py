"""The study tests' Ray cluster: a head and two worker nodes of one CPU on loopback
(``tests/ray_cluster.py``), started once per test session by the first test that asks for it,
and shared by every test file that runs studies on Ray (one driver connection per session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ray_cluster import RayCluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    ray = pytest.importorskip("ray")
    cluster = RayCluster.start(workers=2, cpus_per_worker=1)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
