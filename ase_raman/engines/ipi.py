"""i-PI coupling: a socket driver that returns alpha as i-PI "extras", and a reader of
i-PI output into the H5MD store.

The driver speaks i-PI's socket protocol (through ASE's :class:`IPIProtocol`, which
converts bohr/hartree to Angstrom/eV): for every structure i-PI sends, it returns the
energy, forces and virial of an ASE calculator and, as the JSON extras string,
``{"polarizability": alpha}`` (3x3, Angstrom^3) from our model. i-PI itself writes the
extras to a file with::

    <trajectory filename="alpha" stride="10" extra_type="polarizability"> extras </trajectory>

Run the server (``i-pi input.xml``), then the driver
(``ase-raman ipi-driver --model MODEL.npz --template init.xyz --address NAME --unix``).
Afterwards, :func:`ipi_to_store` joins the positions (and velocities) trajectories with
the extras file into an H5MD store. The driver needs only ASE, not the ``ipi`` package.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from ase import Atoms

from ..errors import InputFileError, UsageError
from ..io._common import open_text
from ..io.ipi import TIME_UNITS_FS, ipi_timestep_fs  # re-exported (they lived here)
from ..models.base import TensorModel, check_species
from ..models.uncertainty import predict_frames_with_uncertainty
from ..units import VELOCITY_AU_TO_A_PER_FS

__all__ = [
    "ipi_executable",
    "stop_process_group",
    "write_ipi_xyz",
    "IPIPolarizabilityDriver",
    "run_ipi_driver",
    "iter_ipi_extras",
    "iter_ipi_velocities",
    "ipi_timestep_fs",
    "ipi_to_store",
    "TIME_UNITS_FS",
]



class IPIPolarizabilityDriver:
    """Evaluate one structure for i-PI: forces from ``calc``, alpha from ``model``.

    ``template``: the atoms (species and order as in i-PI's initial structure; its
    ``pbc``, or periodic when it has no cell: i-PI sends the cell of every structure);
    ``calc``: an ASE calculator (energy, forces; stress when periodic and available);
    ``model``: a :class:`~ase_raman.models.base.TensorModel`; ``extras_key``: the JSON key
    of alpha in the extras (what ``extra_type=`` names in i-PI's input). When the model
    gives an uncertainty, the extras also hold ``<extras_key>_uncertainty`` (the per-frame
    uncertainty of alpha, Angstrom^3), which i-PI writes with a second
    ``<trajectory extra_type="polarizability_uncertainty"> extras </trajectory>``.
    """

    def __init__(self, template: Atoms, calc: Any, model: TensorModel,
                 extras_key: str = "polarizability"):
        check_species(model, template, "the template")
        # i-PI always sends a cell; a template without one (plain xyz) is periodic in it
        pbc = template.pbc if template.cell.rank == 3 else True
        self.atoms = Atoms(numbers=template.numbers, positions=template.positions,
                           cell=template.cell, pbc=pbc)
        self.atoms.calc = calc
        self.model = model
        self.extras_key = extras_key
        self.n_evaluations = 0
        props = getattr(calc, "implemented_properties", ())
        self.use_stress = "stress" in props and bool(self.atoms.pbc.all())

    def compute(self, cell: np.ndarray, positions: np.ndarray
                ) -> tuple[float, np.ndarray, np.ndarray, str]:
        """Energy (eV), forces (eV/Angstrom), virial (eV) and the extras JSON string,
        for a cell (rows = vectors, Angstrom) and positions (Angstrom)."""
        atoms = self.atoms
        if len(positions) != len(atoms):
            raise UsageError(f"i-PI sent {len(positions)} atoms; the template has {len(atoms)}")
        atoms.cell[:] = cell
        atoms.positions[:] = positions
        energy = float(atoms.get_potential_energy())
        forces = np.asarray(atoms.get_forces(), dtype=np.float64)
        if self.use_stress:
            virial = -atoms.get_volume() * atoms.get_stress(voigt=False)
        else:
            virial = np.zeros((3, 3))  # i-PI needs a virial; zero when none is known
        alphas, unc = predict_frames_with_uncertainty(self.model, [atoms.copy()])
        payload: dict[str, Any] = {self.extras_key: np.asarray(alphas[0]).tolist()}
        if unc is not None:
            payload[f"{self.extras_key}_uncertainty"] = float(unc[0])
        extras = json.dumps(payload)
        self.n_evaluations += 1
        return energy, forces, np.asarray(virial, dtype=np.float64), extras


def _connect(address: str, unix: bool, port: int, wait_s: float) -> socket.socket:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                path = address if address.startswith("/") else f"/tmp/ipi_{address}"
                sock.connect(path)
            else:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect((address, port))
            return sock
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            if time.monotonic() > deadline:
                where = f"UNIX socket {address}" if unix else f"{address}:{port}"
                raise UsageError(
                    f"no i-PI server at {where} after {wait_s:.0f} s ({exc}); start "
                    "`i-pi input.xml` first and match <ffsocket mode=...><address>"
                ) from None
            time.sleep(0.2)


def run_ipi_driver(driver: IPIPolarizabilityDriver, address: str, *, unix: bool = False,
                   port: int = 31415, wait_s: float = 60.0,
                   log: TextIO | None = None) -> int:
    """Serve i-PI until it sends EXIT or closes the socket; returns the evaluations made.

    ``address``: host name (TCP) or socket name (``--unix``: ``/tmp/ipi_<address>``, or
    an absolute path). ``wait_s``: seconds to keep trying to connect.
    """
    from ase.calculators.socketio import IPIProtocol, SocketClosed

    sock = _connect(address, unix, port, wait_s)
    proto = IPIProtocol(sock, txt=log)
    state = "NEEDINIT"
    result: tuple[float, np.ndarray, np.ndarray, str] | None = None
    try:
        while True:
            try:
                msg = proto.recvmsg()
            except (SocketClosed, ConnectionResetError, AssertionError):
                break
            if msg == "EXIT":
                break
            if msg == "STATUS":
                proto.sendmsg(state)
            elif msg == "INIT":
                _bead, initbytes = proto.recvinit()
                text = bytes(np.asarray(initbytes, dtype=np.int8).tobytes()).decode(
                    "utf-8", errors="replace")
                m = re.search(r"batch_size\s*:\s*(\d+)", text)
                if m and int(m.group(1)) > 1:
                    raise UsageError("i-PI asked for batched evaluation (batch_size "
                                     f"{m.group(1)}); this driver evaluates one structure "
                                     "at a time: remove the batch setting of <ffsocket>")
                state = "READY"
            elif msg == "POSDATA":
                cell, _icell, positions = proto.recvposdata()
                result = driver.compute(cell, positions)
                state = "HAVEDATA"
            elif msg == "GETFORCE":
                if result is None:
                    raise UsageError("i-PI asked for forces before sending positions")
                energy, forces, virial, extras = result
                proto.sendforce(energy, forces, virial,
                                morebytes=np.frombuffer(extras.encode("utf-8"), np.int8))
                result = None
                state = "READY" if state != "NEEDINIT" else state
            else:
                raise UsageError(f"unexpected i-PI message {msg!r}")
    finally:
        sock.close()
    return driver.n_evaluations


# --------------------------------------------------------------------------------------
# reading i-PI output
# --------------------------------------------------------------------------------------
_EXTRAS_HEAD = re.compile(r"#EXTRAS\w*\(([^)]*)\)#\s*Step:\s*(\d+)")


def iter_ipi_extras(path: str | os.PathLike, key: str | None = None
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(step, values)`` from an i-PI extras trajectory file.

    Each record is a ``#EXTRAS(key)# Step: N`` line followed by numbers; nine numbers
    are returned as a 3x3 array. ``key`` (e.g. ``"polarizability"``) is checked against
    the records' ``extra_type`` when given. A record cut short at the end of the file is
    dropped with a warning.
    """
    import warnings

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such i-PI extras file")
    step: int | None = None
    values: list[float] = []

    def emit() -> tuple[int, np.ndarray] | None:
        if step is None:
            return None
        arr = np.array(values, dtype=float)
        return step, (arr.reshape(3, 3) if arr.size == 9 else arr)

    with open_text(p) as fh:
        for lineno, line in enumerate(fh, start=1):
            m = _EXTRAS_HEAD.search(line)
            if m:
                rec = emit()
                if rec is not None:
                    yield rec
                if key is not None and m.group(1).strip() != key:
                    raise InputFileError(
                        f"{p}:{lineno}: extras of type {m.group(1)!r}, expected {key!r}")
                step, values = int(m.group(2)), []
                continue
            if line.strip():
                try:
                    values.extend(float(x) for x in line.split())
                except ValueError:
                    raise InputFileError(f"{p}:{lineno}: not numbers: {line.strip()[:60]}")\
                        from None
    rec = emit()
    if rec is not None:
        if rec[1].size == 9 or (rec[1].size > 0 and key not in (None, "polarizability")):
            yield rec
        else:
            warnings.warn(f"{p}: the last extras record (step {rec[0]}) is incomplete; "
                          "dropped", UserWarning, stacklevel=2)


def iter_ipi_velocities(path: str | os.PathLike) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(step, velocities)`` (Angstrom/fs) from an i-PI xyz velocities file
    (``velocities{atomic_unit}`` or ``{angstrom/femtosecond}`` in the comment line)."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: no such i-PI velocities file")
    with open_text(p) as fh:
        while True:
            head = fh.readline()
            if not head:
                return
            if not head.strip():
                continue
            natoms = int(head.split()[0])
            comment = fh.readline()
            m = re.search(r"velocities\{([^}]*)\}", comment)
            unit = m.group(1) if m else "atomic_unit"
            factor = {"atomic_unit": VELOCITY_AU_TO_A_PER_FS,
                      "angstrom/femtosecond": 1.0}.get(unit)
            if factor is None:
                raise InputFileError(f"{p}: velocity unit {unit!r} not supported "
                                     "(use atomic_unit or angstrom/femtosecond)")
            sm = re.search(r"Step:\s*(\d+)", comment)
            rows = [fh.readline().split() for _ in range(natoms)]
            if any(len(r) < 4 for r in rows):
                return  # truncated last frame
            yield (int(sm.group(1)) if sm else -1,
                   np.array([[float(x) for x in r[1:4]] for r in rows]) * factor)


def ipi_to_store(positions: str | os.PathLike, extras: str | os.PathLike,
                 out: str | os.PathLike, *, velocities: str | os.PathLike | None = None,
                 input_xml: str | os.PathLike | None = None, dt_fs: float | None = None,
                 model_metadata: dict[str, Any] | None = None,
                 extras_key: str = "polarizability",
                 uncertainty: str | os.PathLike | None = None) -> int:
    """Join i-PI's positions (and velocities) trajectory with its alpha extras into an
    H5MD store ``out``; returns the frames written.

    Frames are matched by step; steps present in only one file are skipped. Time is
    ``step * dt_fs`` with ``dt_fs`` the MD timestep in fs (default: from ``input_xml``,
    else ``input.xml`` beside ``positions``). ``uncertainty``: i-PI's extras file of
    ``<extras_key>_uncertainty`` (written by the driver when the model gives one): stored
    per frame, with an :class:`~ase_raman.models.uncertainty.ExtrapolationWarning` when a
    stretch exceeds the threshold in ``model_metadata["training"]``. The output is written
    to a temporary name and renamed at the end.
    """
    from ..atomic_write import atomic_output
    from ..io.ipi import iter_ipi_xyz
    from ..models.uncertainty import training_threshold, warn_if_extrapolating
    from ..store import open_store

    positions = Path(positions)
    if dt_fs is None:
        xml = Path(input_xml) if input_xml else positions.resolve().parent / "input.xml"
        dt_fs = ipi_timestep_fs(xml) if xml.is_file() else None
    if dt_fs is None:
        raise UsageError("the i-PI timestep is unknown: pass input_xml= or dt_fs= (fs)")
    alpha_by_step = dict(iter_ipi_extras(extras, key=extras_key))
    unc_by_step = {} if uncertainty is None else {
        step: float(np.ravel(value)[0])
        for step, value in iter_ipi_extras(uncertainty, key=f"{extras_key}_uncertainty")}
    recorded: list[tuple[int, float]] = []
    vel_iter = iter_ipi_velocities(velocities) if velocities is not None else None
    written = 0
    with atomic_output(out) as tmp:
        tmp.unlink()
        store = None
        try:
            for atoms in iter_ipi_xyz(positions):
                step = int(atoms.info["step"])
                vel = None
                if vel_iter is not None:
                    vstep, vel = next(vel_iter, (None, None))
                    if vstep != step:
                        raise InputFileError(
                            f"{velocities}: frame step {vstep} does not match the positions' "
                            f"step {step}; write both trajectories with the same stride")
                alpha = alpha_by_step.get(step)
                if alpha is None:
                    continue
                if store is None:
                    store = open_store(tmp, "w", species=atoms, model_metadata=model_metadata,
                                       dt_fs=dt_fs, engine="i-pi",
                                       velocities=vel_iter is not None)
                unc = unc_by_step.get(step)
                store.append(step, step * dt_fs, alpha, atoms.positions, atoms.cell.array,
                             vel, uncertainty=unc)
                if unc is not None:
                    recorded.append((step, unc))
                written += 1
            if recorded:
                steps, values = zip(*recorded, strict=True)
                threshold = training_threshold((model_metadata or {}).get("training") or {},
                                               store.n_atoms)
                warn_if_extrapolating(np.array(values), threshold, frame_numbers=steps,
                                      source=f"{out} (steps)")
        finally:
            if store is not None:
                store.close()
        if store is None:
            raise InputFileError(f"{positions} and {extras}: no step in common")
    return written


# -- running a real i-PI server (examples, tests, scripts) ------------------------------
def ipi_executable() -> str | None:
    """The ``i-pi`` launcher beside this Python (a venv's bin/), else on PATH, else None."""
    import shutil
    import sys

    local = Path(sys.executable).with_name("i-pi")
    return str(local) if local.exists() else shutil.which("i-pi")


def write_ipi_xyz(path: str | os.PathLike, atoms: Atoms) -> None:
    """Write ``atoms`` as an i-PI xyz start file: a ``CELL(abcABC)`` comment giving the
    cell (Angstrom, degrees) and the units of positions and cell (Angstrom)."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    lines = [str(len(atoms)),
             f"# CELL(abcABC): {a:.8f} {b:.8f} {c:.8f} {alpha:.5f} {beta:.5f} {gamma:.5f} "
             "positions{angstrom} cell{angstrom}"]
    lines += [f"{s} {x:.10f} {y:.10f} {z:.10f}"
              for s, (x, y, z) in zip(atoms.get_chemical_symbols(), atoms.positions,
                                      strict=True)]
    Path(path).write_text("\n".join(lines) + "\n")


def stop_process_group(proc: Any) -> None:
    """Stop a ``subprocess.Popen`` started with ``start_new_session=True`` (an i-PI server
    or a driver) and all its children, whatever its state: SIGTERM, then SIGKILL."""
    import signal
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
