"""The H5MD layout of a store: group names, units, chunking, and the store's error."""

from __future__ import annotations

from typing import Any

from ..errors import AseRamanError

H5MD_VERSION = (1, 1)
UNIT_LENGTH = "Angstrom"
UNIT_TIME = "fs"
UNIT_VELOCITY = "Angstrom fs-1"
UNIT_POLARIZABILITY = "Angstrom+3"
UNIT_ENERGY = "eV"

#: target size in bytes of one chunk of a per-frame dataset (a partially filled chunk is
#: rewritten on every flush, so keep this modest).
CHUNK_BYTES = 256 * 1024

#: HDF5 raw-data chunk cache per open dataset, bytes.
CHUNK_CACHE_BYTES = 4 * 1024 * 1024

#: positions must agree to this (Angstrom) for a re-recorded last frame to be skipped.
SAME_FRAME_ATOL = 1e-8


class StoreError(AseRamanError):
    """A store file cannot be opened, resumed or appended to as asked."""


def _text(value: Any) -> str:
    """A string attribute read back (fixed-length bytes or variable-length str)."""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


#: Observables recorded only on the frames that have them: H5MD group -> _Frame field.
UNCERTAINTY_GROUP = "observables/polarizability_uncertainty"
SPARSE_OBSERVABLES = {"observables/potential_energy": "potential_energy",
                      UNCERTAINTY_GROUP: "uncertainty"}
