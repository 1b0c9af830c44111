"""Thole damping of the dipole field tensor (exponential form, AMOEBA convention).

Convention (Thole, Chem. Phys. 59, 341 (1981), exponential charge model as used in
AMOEBA: Ren and Ponder, J. Comput. Chem. 23, 1497 (2002))::

    s  = a u^3,   u = r / (alpha_i alpha_j)^(1/6)   (alpha in Angstrom^3, r in Angstrom)
    lambda_3 = 1 - exp(-s)
    lambda_5 = 1 - (1 + s) exp(-s)
    T_ij = lambda_5 * 3 r r^T / r^5 - lambda_3 * I / r^3

with the dimensionless damping constant ``a = 0.39`` (AMOEBA's). The constant belongs to
this functional form: a = 2.13 is the constant of a *different* Thole form (linear
exp(-a u) decay, van Duijnen and Swart 1998) and, used here, damps far too weakly: in
hot alpha-AgI it gave a polarization catastrophe in ~0.6 % of 500 K frames.
``a -> infinity`` is the undamped Applequist model.

For speed the damping enters as a correction to the undamped tensor,
``(lambda_5 - 1) 3 r r^T / r^5 - (lambda_3 - 1) I / r^3``, which decays as exp(-s) and
is summed over pairs closer than :func:`damping_range`.
"""

from __future__ import annotations

import numpy as np

#: AMOEBA's Thole damping constant for the exp(-a u^3) form (dimensionless).
THOLE_A_AMOEBA = 0.39


def damping_factors(r: np.ndarray, alpha_i: np.ndarray, alpha_j: np.ndarray,
                    a: float) -> tuple[np.ndarray, np.ndarray]:
    """``(lambda_3, lambda_5)`` for distances r (Angstrom) and polarizabilities (Angstrom^3)."""
    s = a * r**3 / np.sqrt(alpha_i * alpha_j)
    e = np.exp(-s)
    return 1.0 - e, 1.0 - (1.0 + s) * e


def correction_blocks(vec: np.ndarray, alpha_i: np.ndarray, alpha_j: np.ndarray,
                      a: float) -> np.ndarray:
    """Damped minus undamped tensor blocks (P, 3, 3) for pair vectors (P, 3)."""
    r2 = np.einsum("pa,pa->p", vec, vec)
    r = np.sqrt(r2)
    lam3, lam5 = damping_factors(r, alpha_i, alpha_j, a)
    outer = vec[:, :, None] * vec[:, None, :]
    return (3.0 * ((lam5 - 1.0) / (r2 * r2 * r))[:, None, None] * outer
            - ((lam3 - 1.0) / (r2 * r))[:, None, None] * np.eye(3)[None])


def damping_range(alpha_max: float, a: float, tolerance: float = 1e-12) -> float:
    """Distance (Angstrom) beyond which ``(1 + s) exp(-s) < tolerance`` for every pair."""
    s = np.log(1.0 / tolerance) + np.log(np.log(1.0 / tolerance))  # (1+s)e^-s ~ tol
    return float((s * alpha_max / a) ** (1.0 / 3.0))
