"""Shared fixtures: where the real data files of other codes live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


def _shared_data_dir() -> Path | None:
    env = os.environ.get("ASE_RAMAN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for cand in candidates:
        if cand.is_dir():
            return cand
    return None


SHARED_DATA = _shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ../shared/data folder (or $ASE_RAMAN_SHARED_DATA); skips when absent."""
    if SHARED_DATA is None:
        pytest.skip("shared data folder ../shared/data not present (set ASE_RAMAN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small data files copied into the repository (tests/data)."""
    return TEST_DATA
