"""Dask-parallel prediction and analysis (the optional ``[dask]`` extra).

Nothing here imports dask at module import time: the core install stays light, and
without dask every entry point raises :class:`DaskMissingError` (one line naming
``pip install ase-raman[dask]``).

* :mod:`.cluster`: ``--scheduler local[:N] | tcp://HOST:PORT | SCHEDULER.json`` ->
  a :class:`distributed.Client` (:func:`~.cluster.scheduler_client`), with one thread
  of featomic (rayon) and of BLAS per worker thread.
* :mod:`.predict`: :func:`~.predict.predict_to_store_distributed` and
  :func:`~.predict.predict_distributed`: fixed chunks of frames featurised and predicted
  on the workers, the model file shipped once per worker, results written by one
  writer (the calling process) in frame order, so 1 worker, 4 workers or a remote
  cluster write the same file.
* :mod:`.cli`: the shared ``--scheduler`` option of ``predict``, ``raman``, ``vdos``
  and ``msd``.
* :mod:`.batch`: ``ase-raman batch manifest.yaml`` over many trajectories.
"""

from __future__ import annotations

from ._deps import DaskMissingError, require_dask

__all__ = ["DaskMissingError", "require_dask"]
