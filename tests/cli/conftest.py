"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from reglab.store import MemberRecord, Store


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    """A store holding one study, so tests can check it is left intact."""
    path = tmp_path / "existing.db"
    with Store(path) as st:
        st.create_study("kept", {"strategies": ["none"]})
        st.save_member(
            "kept",
            MemberRecord(
                "k", "none", split_id=0, seed=1, n_train=8, n_test=2, test_scores={"accuracy": 0.5}
            ),
        )
    return path
