"""Benchmark: streaming XDATCAR reader vs ase.io.read of the whole file.

Reads the 700-frame, 416-atom Li6PS5Cl XDATCAR (9.6 MB, from ``$ASE_RAMAN_SHARED_DATA``) twice: with
``ase_raman.io.iter_frames`` (one frame in memory at a time) and with
``ase.io.read(..., index=":")``. Prints one JSON line: ``frames``, ``file_mb``,
``stream_s`` / ``ase_s`` (wall time), ``stream_peak_mb`` / ``ase_peak_mb`` (tracemalloc
peak of Python allocations while reading; the timings are taken without tracemalloc).
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

import ase.io

from ase_raman.io import iter_frames

DATA = Path(os.environ.get("ASE_RAMAN_SHARED_DATA")
            or Path(__file__).resolve().parents[2] / "shared" / "data")
DEFAULT = DATA / "argyrodite_li6ps5cl" / "XDATCAR"


def _stream(path: Path) -> int:
    return sum(1 for _ in iter_frames(path, format="vasp-xdatcar"))


def _ase(path: Path) -> int:
    return len(ase.io.read(path, index=":", format="vasp-xdatcar"))


def _timed(fn, path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = fn(path)
    return n, time.perf_counter() - t0


def _peak_mb(fn, path: Path) -> float:
    tracemalloc.start()
    try:
        fn(path)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    if not path.is_file():
        sys.exit(f"bench_streaming: {path} not found (pass an XDATCAR path)")
    n, stream_s = _timed(_stream, path)
    n_ase, ase_s = _timed(_ase, path)
    print(json.dumps({
        "file": str(path),
        "frames": n,
        "frames_ase": n_ase,
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "stream_s": round(stream_s, 3),
        "ase_s": round(ase_s, 3),
        "stream_peak_mb": round(_peak_mb(_stream, path), 3),
        "ase_peak_mb": round(_peak_mb(_ase, path), 3),
    }))


if __name__ == "__main__":
    main(sys.argv)
