"""H5MD 1.1 time-series store for polarizabilities along molecular dynamics.

One file holds one run: the per-frame polarizability alpha (3x3, Angstrom^3) and the
structure it was predicted for (positions, velocities when known, the cell), laid out
per the H5MD 1.1 specification (de Buyl, Colberg and Höfling, Comput. Phys. Commun. 185,
1546 (2014))::

    /h5md                      attrs version=[1, 1]; groups author (name), creator
                               (name, version), modules/units (version, system)
    /particles/all/species     (N,) int32 atomic numbers (time-independent)
    /particles/all/position    step (n,) int64, time (n,) float64 [fs], value (n, N, 3) [Angstrom]
    /particles/all/velocity    same layout, value [Angstrom fs-1] (only when the run has them)
    /particles/all/box         attrs dimension=3, boundary=("periodic"|"none",)*3;
                               edges/{step, time, value (n, 3, 3)} [Angstrom], rows = cell vectors
    /observables/polarizability  step, time, value (n, 3, 3) [Angstrom+3]
    /observables/potential_energy  step, time, value (m,) [eV] (frames where the MD
                               calculator already had the energy; m <= n)
    /observables/polarizability_uncertainty  step, time, value (k,) [Angstrom+3]: the
                               model's per-frame uncertainty, when it gives one (k <= n)
    /parameters                attrs md_timestep_fs, sampling_interval_steps, engine,
                               model_metadata (JSON), ase_raman_version

Every time-dependent dataset is chunked and resizable along the frame axis.

Writing (:func:`open_store`) buffers frames in memory and writes them on
:meth:`Store.flush`. The file is written in HDF5 SWMR mode, so

* readers (:func:`read_trajectory`) may open it while the writer appends;
* a writer killed with SIGKILL leaves a file that opens and holds every frame up to its
  last flush. Within a flush, values are written before ``time`` and ``step``, and the
  polarizability's ``step`` dataset last: its length is the number of committed frames.
* re-opening with mode ``"a"`` resumes: a crashed file's status flags are cleared
  (what the HDF5 tool ``h5clear -s -m`` does), frames past the committed count are
  dropped, and the step series continues. A different species list, MD timestep or
  model is refused with :class:`StoreError`. Appending a step that is not after the last
  stored step is refused, except the exact re-recording of the last frame (same step and
  positions), which is skipped: no frame is ever lost or stored twice.

Units at this API: lengths Angstrom, time fs, velocities Angstrom/fs, energies eV,
alpha Angstrom^3.

The package, one job per module: :mod:`.schema` (group names, units, chunking,
:class:`StoreError`), :mod:`.writer` (:class:`Store`, :func:`open_store`),
:mod:`.reader` (:func:`read_trajectory`, :class:`StoredTrajectory`,
:class:`LazyFrames`, :func:`restart_atoms`), :mod:`.repair` (superblock checks and
:func:`clear_status_flags`) and :mod:`.jsonutil` (the one JSON helper). Every name is
importable from ``ase_raman.store`` as before.
"""

from __future__ import annotations

from typing import Any

from .jsonutil import json_default  # noqa: F401 (public here as before)
from .reader import LazyFrames, StoredTrajectory, read_trajectory, restart_atoms
from .repair import clear_status_flags
from .schema import (  # noqa: F401 (the layout constants, public here as before)
    CHUNK_BYTES,
    CHUNK_CACHE_BYTES,
    H5MD_VERSION,
    SAME_FRAME_ATOL,
    SPARSE_OBSERVABLES,
    UNCERTAINTY_GROUP,
    UNIT_ENERGY,
    UNIT_LENGTH,
    UNIT_POLARIZABILITY,
    UNIT_TIME,
    UNIT_VELOCITY,
    StoreError,
)
from .writer import Store, open_store

__all__ = [
    "StoreError",
    "Store",
    "StoredTrajectory",
    "LazyFrames",
    "open_store",
    "read_trajectory",
    "restart_atoms",
    "predict_to_store",
    "clear_status_flags",
]


def __getattr__(name: str) -> Any:
    """``predict_to_store`` lives in :mod:`ase_raman.recording` (re-exported lazily, so
    that the store does not import the models)."""
    if name == "predict_to_store":
        from ..recording import predict_to_store

        return predict_to_store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
