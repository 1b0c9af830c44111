"""Parity plot of a polarizability model: predicted vs reference, per lambda block."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_write import atomic_output
from ..tensors import cartesian_to_spherical


def write_parity_plot(path: str | Path, predicted: np.ndarray, reference: np.ndarray,
                      title: str, metrics: dict[str, float] | None = None) -> None:
    """Two panels (lambda = 0, lambda = 2) of predicted vs reference, Angstrom^3, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p0, p2 = cartesian_to_spherical(predicted)
    r0, r2 = cartesian_to_spherical(reference)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, (ref, pred, label, key) in zip(
        axes,
        [(r0, p0, r"$\lambda=0$ (tr $\alpha/\sqrt{3}$)", "r2_lambda0"),
         (r2, p2, r"$\lambda=2$ (5 components)", "r2_lambda2")],
        strict=True,
    ):
        ref_flat, pred_flat = ref.reshape(-1), pred.reshape(-1)
        ax.scatter(ref_flat, pred_flat, s=6, alpha=0.6)
        lo = float(min(ref_flat.min(), pred_flat.min()))
        hi = float(max(ref_flat.max(), pred_flat.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        extra = f"  R$^2$={metrics[key]:.3f}" if metrics and key in metrics else ""
        ax.set_title(label + extra)
        ax.set_xlabel(r"reference ($\AA^3$)")
        ax.set_ylabel(r"predicted ($\AA^3$)")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
