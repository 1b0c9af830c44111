"""Scores of a conductivity ranking, and the plots that show them.

:func:`regression_metrics`: MAE and RMSE (log10 units), Spearman rank correlation, the
fraction of the true top 10 % that lands in the predicted top 20 %, and how often the
truth lies within 1 and 2 error bars (a calibrated Gaussian error bar gives 0.683 and
0.954).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ase_raman.atomic_write import atomic_output


def top_recall(y: np.ndarray, pred: np.ndarray, true_frac: float = 0.10,
               pred_frac: float = 0.20) -> float:
    """Fraction of the ``true_frac`` best rows (largest ``y``) that are among the
    ``pred_frac`` best by ``pred``."""
    n = len(y)
    n_true = max(1, math.ceil(true_frac * n))
    n_pred = max(1, math.ceil(pred_frac * n))
    best_true = set(np.argsort(-y, kind="stable")[:n_true])
    best_pred = set(np.argsort(-pred, kind="stable")[:n_pred])
    return len(best_true & best_pred) / n_true


def regression_metrics(y: np.ndarray, pred: np.ndarray,
                       err: np.ndarray | None = None) -> dict:
    """Scores of ``pred`` against ``y`` (and of the error bars ``err``)."""
    from scipy.stats import spearmanr

    y, pred = np.asarray(y, float), np.asarray(pred, float)
    r = pred - y
    out = {
        "n": int(len(y)),
        "mae": float(np.mean(np.abs(r))),
        "rmse": float(np.sqrt(np.mean(r ** 2))),
        "spearman": float(spearmanr(y, pred).statistic) if len(y) > 2 else math.nan,
        "top10_in_pred_top20": top_recall(y, pred),
    }
    if err is not None:
        err = np.asarray(err, float)
        z = np.abs(r) / err
        out["coverage_1sigma"] = float(np.mean(z <= 1.0))
        out["coverage_2sigma"] = float(np.mean(z <= 2.0))
        out["mean_err"] = float(np.mean(err))
        out["spearman_abs_residual_vs_err"] = (
            float(spearmanr(np.abs(r), err).statistic) if len(y) > 2 and np.ptp(err) > 0
            else math.nan)
    return out


def parity_plot(y: np.ndarray, pred: np.ndarray, err: np.ndarray, path: str | Path,
                title: str, label: str = "log10 sigma (S/cm)") -> None:
    """Predicted vs measured with error bars and the y = x line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = regression_metrics(y, pred, err)
    fig, ax = plt.subplots(figsize=(5, 5))
    lo = float(min(np.min(y), np.min(pred))) - 0.5
    hi = float(max(np.max(y), np.max(pred))) + 0.5
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
    ax.errorbar(y, pred, yerr=err, fmt="o", ms=3, alpha=0.6, elinewidth=0.6)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"measured {label}")
    ax.set_ylabel(f"predicted {label}")
    ax.set_title(f"{title}\nMAE {m['mae']:.2f}, RMSE {m['rmse']:.2f}, "
                 f"Spearman {m['spearman']:.2f}, n={m['n']}", fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


#: importance methods: CSV column, plot axis label, plot title.
IMPORTANCE_LABELS = {
    "shap": ("mean_abs_shap", "mean |SHAP value| (log10 sigma units)",
             "feature importance (TreeSHAP, ensemble mean)"),
    "path": ("mean_abs_path_contribution", "mean |path contribution| (log10 sigma units)",
             "feature importance (tree path contributions, forest mean)"),
}


def write_importances(names: Sequence[str], shap: np.ndarray, csv_path: str | Path,
                      png_path: str | Path | None, top: int = 20,
                      method: str = "shap") -> list[tuple[str, float]]:
    """Mean |contribution| per feature, largest first, as CSV (and a bar plot of the
    ``top``). ``shap``: per-row contributions ``(n_rows, n_features)``, TreeSHAP values
    (``method="shap"``) or tree path contributions (``method="path"``)."""
    import csv

    column, axis_label, title = IMPORTANCE_LABELS[method]
    mean_abs = np.mean(np.abs(shap), axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    ranked = [(names[i], float(mean_abs[i])) for i in order]
    with atomic_output(csv_path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["feature", column, "rank"])
        for k, (name, value) in enumerate(ranked, 1):
            w.writerow([name, f"{value:.6g}", k])
    if png_path is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        shown = ranked[:top][::-1]
        fig, ax = plt.subplots(figsize=(7, 0.28 * len(shown) + 1.2))
        ax.barh([n for n, _ in shown], [v for _, v in shown])
        ax.set_xlabel(axis_label)
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        with atomic_output(png_path) as tmp:
            fig.savefig(tmp, dpi=120)
        plt.close(fig)
    return ranked
