"""The plugin's tests load models they made themselves: trust them (every test but the
ones that check the refusal, which clear the variable)."""

import pytest

from ase_raman.models.registry import TRUST_ENV


@pytest.fixture(autouse=True)
def _trust_own_models(monkeypatch):
    monkeypatch.setenv(TRUST_ENV, "1")
