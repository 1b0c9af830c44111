"""Polarizability tensors: Cartesian <-> spherical parts, invariants and unit conversions.

Conventions
-----------
* Tensors are arrays of shape ``(..., 3, 3)``, symmetric, in Angstrom^3 (the extensive
  polarizability volume, Gaussian units).
* The spherical decomposition uses an orthonormal basis of symmetric matrices under the
  Frobenius inner product, so ``|alpha|_F^2 = |l0|^2 + |l2|^2``:

  - lambda = 0: ``I / sqrt(3)``  ->  ``l0 = tr(alpha) / sqrt(3)``;
  - lambda = 2, in featomic's real spherical-harmonic order ``m = -2, -1, 0, 1, 2``
    (the order of ``Y_2m ~ xy, yz, 3z^2 - r^2, xz, x^2 - y^2``)::

        m = -2: sqrt(2) a_xy
        m = -1: sqrt(2) a_yz
        m =  0: (2 a_zz - a_xx - a_yy) / sqrt(6)
        m = +1: sqrt(2) a_xz
        m = +2: (a_xx - a_yy) / sqrt(2)

  Under a rotation R, ``l2(R a R^T) = D2(R) l2(a)`` with the same Wigner matrix D2 that
  rotates featomic's lambda = 2 features (checked in the tests against featomic itself).
* A dielectric tensor converts as ``alpha = V (eps - 1) / (4 pi)`` (V in Angstrom^3).
* ASE's :class:`ase.calculators.polarizability.StaticPolarizabilityCalculator` speaks
  e^2 Angstrom^2 / eV; multiply by :data:`E2A2_PER_EV_TO_A3` (= Bohr * Hartree, the
  Coulomb constant e^2/(4 pi eps0) in eV Angstrom) to get Angstrom^3.
"""

from __future__ import annotations

import numpy as np

from .errors import TensorError
from .units import BOHR3_TO_A3, E2A2_PER_EV_TO_A3  # noqa: F401 (public names here too)

#: Units accepted wherever a polarizability unit is given, with their factor to Angstrom^3.
ALPHA_UNITS: dict[str, float] = {
    "A3": 1.0,
    "bohr3": BOHR3_TO_A3,
    "e2A2/eV": E2A2_PER_EV_TO_A3,
}

#: Default relative asymmetry above which a tensor is refused as "not a polarizability".
ASYMMETRY_TOLERANCE: float = 0.05

_SQ2 = np.sqrt(2.0)
_SQ3 = np.sqrt(3.0)
_SQ6 = np.sqrt(6.0)


def _as_tensor(alpha: np.ndarray) -> np.ndarray:
    arr = np.asarray(alpha, dtype=float)
    if arr.shape[-2:] != (3, 3):
        raise TensorError(f"expected tensors of shape (..., 3, 3), got {arr.shape}")
    return arr


def symmetrize(alpha: np.ndarray) -> np.ndarray:
    """Return ``(alpha + alpha^T) / 2`` for tensors of shape (..., 3, 3)."""
    arr = _as_tensor(alpha)
    return 0.5 * (arr + np.swapaxes(arr, -1, -2))


def relative_asymmetry(alpha: np.ndarray) -> np.ndarray:
    """``|alpha - alpha^T|_F / (2 |alpha|_F)``: 0 for a symmetric tensor, shape (...)."""
    arr = _as_tensor(alpha)
    num = np.linalg.norm(arr - np.swapaxes(arr, -1, -2), axis=(-2, -1))
    den = 2.0 * np.linalg.norm(arr, axis=(-2, -1))
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def cartesian_to_spherical(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split symmetric tensors (..., 3, 3) into lambda=0 (..., 1) and lambda=2 (..., 5) parts.

    Only the symmetric part is used (the antisymmetric lambda=1 part is discarded).
    The map is orthonormal: ``|alpha_sym|_F^2 = |l0|^2 + |l2|^2``.
    """
    a = symmetrize(alpha)
    xx, yy, zz = a[..., 0, 0], a[..., 1, 1], a[..., 2, 2]
    l0 = ((xx + yy + zz) / _SQ3)[..., None]
    l2 = np.stack(
        [
            _SQ2 * a[..., 0, 1],
            _SQ2 * a[..., 1, 2],
            (2.0 * zz - xx - yy) / _SQ6,
            _SQ2 * a[..., 0, 2],
            (xx - yy) / _SQ2,
        ],
        axis=-1,
    )
    return l0, l2


def spherical_to_cartesian(l0: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """Inverse of :func:`cartesian_to_spherical`: (..., 1) and (..., 5) -> (..., 3, 3)."""
    l0 = np.asarray(l0, dtype=float)
    l2 = np.asarray(l2, dtype=float)
    if l0.shape[-1] != 1 or l2.shape[-1] != 5 or l0.shape[:-1] != l2.shape[:-1]:
        raise TensorError(f"expected (..., 1) and (..., 5) parts, got {l0.shape} and {l2.shape}")
    iso = l0[..., 0] / _SQ3
    m_2, m_1, m0, m1, m2 = (l2[..., k] for k in range(5))
    out = np.empty(l0.shape[:-1] + (3, 3))
    out[..., 0, 0] = iso - m0 / _SQ6 + m2 / _SQ2
    out[..., 1, 1] = iso - m0 / _SQ6 - m2 / _SQ2
    out[..., 2, 2] = iso + 2.0 * m0 / _SQ6
    out[..., 0, 1] = out[..., 1, 0] = m_2 / _SQ2
    out[..., 1, 2] = out[..., 2, 1] = m_1 / _SQ2
    out[..., 0, 2] = out[..., 2, 0] = m1 / _SQ2
    return out


def invariants(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean polarizability and anisotropy of tensors (..., 3, 3).

    Returns ``a = tr(alpha) / 3`` and
    ``gamma^2 = 1/2 [(xx-yy)^2 + (yy-zz)^2 + (zz-xx)^2] + 3 (xy^2 + yz^2 + zx^2)``
    (of the symmetric part), in the units of ``alpha`` and its square.
    """
    a = symmetrize(alpha)
    xx, yy, zz = a[..., 0, 0], a[..., 1, 1], a[..., 2, 2]
    xy, yz, zx = a[..., 0, 1], a[..., 1, 2], a[..., 2, 0]
    mean = (xx + yy + zz) / 3.0
    gamma2 = 0.5 * ((xx - yy) ** 2 + (yy - zz) ** 2 + (zz - xx) ** 2) + 3.0 * (
        xy**2 + yz**2 + zx**2
    )
    return mean, gamma2


def epsilon_to_alpha(eps: np.ndarray, volume: float | np.ndarray) -> np.ndarray:
    """Polarizability ``alpha = V (eps - 1) / (4 pi)`` in Angstrom^3 from a dielectric tensor.

    ``volume`` is the cell volume in Angstrom^3 (scalar or shape (...)).
    """
    e = _as_tensor(eps)
    v = np.asarray(volume, dtype=float)[..., None, None]
    return v * (e - np.eye(3)) / (4.0 * np.pi)


def alpha_to_epsilon(alpha: np.ndarray, volume: float | np.ndarray) -> np.ndarray:
    """Dielectric tensor ``eps = 1 + 4 pi alpha / V`` (alpha in Angstrom^3, V in Angstrom^3)."""
    a = _as_tensor(alpha)
    v = np.asarray(volume, dtype=float)[..., None, None]
    return np.eye(3) + 4.0 * np.pi * a / v


def to_angstrom3(alpha: np.ndarray, unit: str) -> np.ndarray:
    """Convert polarizabilities from ``unit`` (one of :data:`ALPHA_UNITS`) to Angstrom^3."""
    try:
        factor = ALPHA_UNITS[unit]
    except KeyError:
        known = ", ".join(ALPHA_UNITS)
        raise TensorError(f"unknown polarizability unit {unit!r}; use one of: {known}") from None
    return np.asarray(alpha, dtype=float) * factor


def tensor_from_numbers(values: np.ndarray, where: str = "input") -> np.ndarray:
    """Build a 3x3 tensor from 9 numbers (row-major) or 6 Voigt numbers (xx yy zz yz xz xy).

    A (3, 3) array is returned unchanged. ``where`` names the source in error messages.
    """
    arr = np.asarray(values, dtype=float)
    if arr.shape == (3, 3):
        return arr.copy()
    flat = arr.reshape(-1)
    if flat.size == 9:
        return flat.reshape(3, 3)
    if flat.size == 6:
        xx, yy, zz, yz, xz, xy = flat
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    raise TensorError(
        f"{where}: a polarizability needs 9 numbers (row-major) or 6 (Voigt xx yy zz yz xz xy),"
        f" got {flat.size}"
    )


def checked_symmetric(
    tensor: np.ndarray, where: str, tolerance: float = ASYMMETRY_TOLERANCE
) -> tuple[np.ndarray, float]:
    """Symmetrise a raw (e.g. DFPT) tensor and return it with its relative asymmetry.

    Raises :class:`TensorError` naming ``where`` when the relative asymmetry
    ``|T - T^T|_F / (2 |T|_F)`` exceeds ``tolerance`` (default 5 %): such a tensor is not
    a polarizability (wrong block parsed, or corrupted numbers).
    """
    t = _as_tensor(tensor)
    if not np.all(np.isfinite(t)):
        raise TensorError(f"{where}: tensor contains non-finite numbers")
    asym = float(np.max(relative_asymmetry(t)))
    if asym > tolerance:
        raise TensorError(
            f"{where}: tensor is far from symmetric (relative asymmetry {asym:.3g} >"
            f" tolerance {tolerance:g}); check that the right block or key was read"
        )
    return symmetrize(t), asym


def spherical_variance_to_cartesian(var0: np.ndarray, var2: np.ndarray) -> np.ndarray:
    """Variances (..., 3, 3) of Cartesian components from independent spherical variances.

    ``var0`` (..., 1) and ``var2`` (..., 5) are variances of the lambda = 0 and lambda = 2
    components; the map is linear, so ``var(a_ij) = sum_c M_ij,c^2 var_c``. Because the map
    is orthonormal, the nine Cartesian variances add up to the spherical ones.
    """
    var = np.concatenate([np.asarray(var0, float), np.asarray(var2, float)], axis=-1)
    unit = np.eye(6)
    squared = spherical_to_cartesian(unit[:, :1], unit[:, 1:]) ** 2  # (6, 3, 3)
    return np.einsum("...c,cij->...ij", var, squared)
