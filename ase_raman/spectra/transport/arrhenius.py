"""Arrhenius fits of diffusion coefficients and conductivities over temperatures.

``D(T) = D0 exp(-E_a / (k_B T))`` is a straight line ``ln D = ln D0 - E_a x`` in
``x = 1 / (k_B T)`` (1/eV). It is fitted by (weighted) least squares; with errors on D
the weights are ``1 / (dD / D)^2`` (the error of ``ln D``). Conductivities follow the
same law for ``sigma T`` (Nernst-Einstein ``sigma ~ D / T``), so fit ``sigma * T`` and
divide the prediction by ``T``: :func:`arrhenius_fit` with ``times_temperature=True``.
Units: temperatures in K, energies in eV, the prefactor in the unit of the values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UsageError
from ...units import KB_EV_K


@dataclass
class ArrheniusFit:
    """``value(T) = prefactor * exp(-E_a / (k_B T))`` (divided by T if ``times_temperature``).

    ``E_a_eV`` and ``E_a_err_eV`` (eV), ``prefactor`` (unit of the values, times K when
    ``times_temperature``) with ``ln_prefactor_err``; ``cov`` is the 2x2 covariance of
    ``(ln prefactor, -E_a)``. ``error_method``: ``"input"`` (errors of the values
    propagated; enlarged by ``sqrt(chi^2/dof)`` when the scatter exceeds them),
    ``"residuals"`` (no input errors: from the scatter about the line, needs >= 3
    temperatures), or ``"none"`` (two temperatures without errors: errors are NaN).
    """

    E_a_eV: float
    E_a_err_eV: float
    prefactor: float
    ln_prefactor_err: float
    cov: np.ndarray
    temperatures_K: np.ndarray
    values: np.ndarray
    errors: np.ndarray | None
    times_temperature: bool
    error_method: str

    def predict(self, temperature_K: float) -> tuple[float, float]:
        """Value at ``temperature_K`` and its 1-sigma error (linear propagation)."""
        x = 1.0 / (KB_EV_K * temperature_K)
        ln_v = np.log(self.prefactor) - self.E_a_eV * x
        vec = np.array([1.0, x])
        ln_err = float(np.sqrt(vec @ self.cov @ vec))
        value = float(np.exp(ln_v))
        if self.times_temperature:
            value /= temperature_K
        return value, value * ln_err


def arrhenius_fit(
    temperatures_K,
    values,
    errors=None,
    *,
    times_temperature: bool = False,
) -> ArrheniusFit:
    """Fit ``ln(value [* T]) = ln A - E_a / (k_B T)``.

    ``temperatures_K`` (K), ``values`` (> 0, any unit), optional 1-sigma ``errors`` (same
    unit). Needs two distinct temperatures (three for an error without input errors).
    With ``times_temperature`` the fitted quantity is ``value * T`` (conductivities).
    """
    T = np.asarray(temperatures_K, dtype=float)
    v = np.asarray(values, dtype=float)
    if T.shape != v.shape or T.ndim != 1:
        raise UsageError("Arrhenius fit: need one value per temperature")
    if np.any(T <= 0) or np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise UsageError("Arrhenius fit: temperatures and values must be positive and finite")
    if len(np.unique(T)) < 2:
        raise UsageError("Arrhenius fit: need at least two different temperatures")
    e = None if errors is None else np.asarray(errors, dtype=float)
    if e is not None and (e.shape != v.shape or np.any(~np.isfinite(e)) or np.any(e <= 0)):
        e = None
    y = np.log(v * T) if times_temperature else np.log(v)
    x = 1.0 / (KB_EV_K * T)
    A = np.column_stack([np.ones_like(x), x])
    dof = len(x) - 2
    if e is not None:
        sig = e / v  # error of ln(value); the factor T is exact
        w = 1.0 / sig**2
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        coef = cov @ (A.T @ (w * y))
        method = "input"
        if dof > 0:
            chi2 = float((w * (y - A @ coef) ** 2).sum())
            cov = cov * max(1.0, chi2 / dof)
    else:
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        if dof > 0:
            s2 = float(((y - A @ coef) ** 2).sum()) / dof
            cov = s2 * np.linalg.inv(A.T @ A)
            method = "residuals"
        else:
            cov = np.full((2, 2), np.nan)
            method = "none"
    return ArrheniusFit(
        E_a_eV=float(-coef[1]),
        E_a_err_eV=float(np.sqrt(cov[1, 1])),
        prefactor=float(np.exp(coef[0])),
        ln_prefactor_err=float(np.sqrt(cov[0, 0])),
        cov=cov,
        temperatures_K=T,
        values=v,
        errors=e,
        times_temperature=times_temperature,
        error_method=method,
    )
