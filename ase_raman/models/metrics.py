"""Accuracy figures of a polarizability model (R^2 and RMSE, Cartesian and spherical)."""

from __future__ import annotations

import numpy as np

from ..tensors import cartesian_to_spherical


def _r2(pred: np.ndarray, ref: np.ndarray) -> float:
    """Coefficient of determination pooled over components (mean taken per component)."""
    ss_res = float(np.sum((pred - ref) ** 2))
    ss_tot = float(np.sum((ref - ref.mean(axis=0)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def regression_metrics(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """R^2 and RMSE of predicted vs reference tensors (n, 3, 3) in Angstrom^3.

    Keys: ``r2`` (all nine Cartesian components), ``r2_lambda0`` (trace part),
    ``r2_lambda2`` (the five anisotropic components), ``r2_diagonal``,
    ``r2_offdiagonal``, ``rmse_A3`` (per Cartesian component), ``rmse_lambda0_A3``,
    ``rmse_lambda2_A3`` and ``n``.
    """
    pred = np.asarray(predicted, dtype=float).reshape(-1, 3, 3)
    ref = np.asarray(reference, dtype=float).reshape(-1, 3, 3)
    p0, p2 = cartesian_to_spherical(pred)
    r0, r2 = cartesian_to_spherical(ref)
    diag = np.array([0, 4, 8])
    off = np.array([1, 2, 5])
    flat_p, flat_r = pred.reshape(-1, 9), ref.reshape(-1, 9)
    return {
        "n": int(len(pred)),
        "r2": _r2(flat_p, flat_r),
        "r2_lambda0": _r2(p0, r0),
        "r2_lambda2": _r2(p2, r2),
        "r2_diagonal": _r2(flat_p[:, diag], flat_r[:, diag]),
        "r2_offdiagonal": _r2(flat_p[:, off], flat_r[:, off]),
        "rmse_A3": float(np.sqrt(np.mean((flat_p - flat_r) ** 2))),
        "rmse_lambda0_A3": float(np.sqrt(np.mean((p0 - r0) ** 2))),
        "rmse_lambda2_A3": float(np.sqrt(np.mean((p2 - r2) ** 2))),
    }


def per_atom(tensors: np.ndarray, n_atoms) -> np.ndarray:
    """Tensors (n, 3, 3) divided by each structure's number of atoms (n,): Angstrom^3 per
    atom. Score these when the data mix cell sizes: pooled over sizes, the lambda = 0
    R^2 of whole-cell tensors mostly measures that alpha grows with the number of atoms."""
    counts = np.asarray(n_atoms, dtype=float).reshape(-1, 1, 1)
    return np.asarray(tensors, dtype=float).reshape(-1, 3, 3) / counts


def frame_uncertainty(std: np.ndarray) -> np.ndarray:
    """Per-frame scalar uncertainty (n,) in Angstrom^3 from (n, 3, 3) standard deviations:
    the root-mean-square over the nine Cartesian components (comparable with ``rmse_A3``)."""
    std = np.asarray(std, dtype=float).reshape(-1, 9)
    return np.sqrt(np.mean(std**2, axis=1))


def interval_coverage(predicted: np.ndarray, std: np.ndarray, reference: np.ndarray
                      ) -> dict[str, float]:
    """Fraction of Cartesian errors inside the +-1 sigma and +-1.96 sigma intervals.

    A calibrated Gaussian uncertainty gives about 0.683 and 0.95.
    """
    err = np.abs(np.asarray(predicted) - np.asarray(reference)).reshape(-1)
    sig = np.asarray(std, dtype=float).reshape(-1)
    return {"coverage_68": float(np.mean(err <= sig)),
            "coverage_95": float(np.mean(err <= 1.96 * sig))}
