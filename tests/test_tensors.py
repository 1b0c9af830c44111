"""ase_raman.tensors: spherical decomposition, invariants, units."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import Bohr, Hartree
from scipy.spatial.transform import Rotation

from ase_raman.errors import TensorError
from ase_raman.tensors import (
    BOHR3_TO_A3,
    E2A2_PER_EV_TO_A3,
    alpha_to_epsilon,
    cartesian_to_spherical,
    checked_symmetric,
    epsilon_to_alpha,
    invariants,
    spherical_to_cartesian,
    tensor_from_numbers,
    to_angstrom3,
)

RNG = np.random.default_rng(42)


def random_symmetric(n: int) -> np.ndarray:
    a = RNG.normal(size=(n, 3, 3))
    return a + np.swapaxes(a, -1, -2)


def test_round_trip_and_norm_preserved():
    alpha = random_symmetric(20)
    l0, l2 = cartesian_to_spherical(alpha)
    assert l0.shape == (20, 1) and l2.shape == (20, 5)
    np.testing.assert_allclose(spherical_to_cartesian(l0, l2), alpha, atol=1e-13)
    norms = np.linalg.norm(alpha, axis=(1, 2)) ** 2
    np.testing.assert_allclose(np.sum(l0**2, -1) + np.sum(l2**2, -1), norms, rtol=1e-13)


def test_isotropic_tensor_has_no_lambda2_part():
    l0, l2 = cartesian_to_spherical(7.0 * np.eye(3))
    np.testing.assert_allclose(l0, [7.0 * np.sqrt(3.0)])
    np.testing.assert_allclose(l2, np.zeros(5), atol=1e-15)


def test_lambda2_order_is_featomic_m_order():
    # m = -2 ~ xy, -1 ~ yz, 0 ~ 3z^2 - r^2, +1 ~ xz, +2 ~ x^2 - y^2
    xy = np.zeros((3, 3))
    xy[0, 1] = xy[1, 0] = 1.0
    assert np.argmax(np.abs(cartesian_to_spherical(xy)[1])) == 0
    zz = np.diag([0.0, 0.0, 1.0])
    assert np.argmax(np.abs(cartesian_to_spherical(zz)[1])) == 2
    xx_yy = np.diag([1.0, -1.0, 0.0])
    assert np.argmax(np.abs(cartesian_to_spherical(xx_yy)[1])) == 4


def test_wigner_representation_is_a_homomorphism():
    """l2(R a R^T) = D(R) l2(a) with D orthogonal and D(R1 R2) = D(R1) D(R2)."""

    def wigner(r: np.ndarray) -> np.ndarray:
        basis = np.eye(5)
        return np.stack(
            [cartesian_to_spherical(r @ spherical_to_cartesian(np.zeros(1), e) @ r.T)[1]
             for e in basis], axis=1)

    r1, r2 = Rotation.random(2, random_state=1).as_matrix()
    d1, d2, d12 = wigner(r1), wigner(r2), wigner(r1 @ r2)
    np.testing.assert_allclose(d1 @ d1.T, np.eye(5), atol=1e-13)
    np.testing.assert_allclose(d12, d1 @ d2, atol=1e-13)


def test_invariants_are_rotation_invariant_and_match_definition():
    alpha = random_symmetric(5)
    mean, gamma2 = invariants(alpha)
    rot = Rotation.random(random_state=3).as_matrix()
    mean_r, gamma2_r = invariants(rot @ alpha @ rot.T)
    np.testing.assert_allclose(mean, np.trace(alpha, axis1=1, axis2=2) / 3)
    np.testing.assert_allclose(mean_r, mean, rtol=1e-12)
    np.testing.assert_allclose(gamma2_r, gamma2, rtol=1e-12)
    # gamma^2 = 3/2 |alpha - a I|_F^2 = 3/2 |l2|^2
    _, l2 = cartesian_to_spherical(alpha)
    np.testing.assert_allclose(gamma2, 1.5 * np.sum(l2**2, -1), rtol=1e-12)


def test_epsilon_alpha_round_trip_and_vacuum():
    eps = np.eye(3) * 13.232
    alpha = epsilon_to_alpha(eps, 40.0)
    np.testing.assert_allclose(alpha, np.eye(3) * 40.0 * 12.232 / (4 * np.pi))
    np.testing.assert_allclose(alpha_to_epsilon(alpha, 40.0), eps)
    np.testing.assert_allclose(epsilon_to_alpha(np.eye(3), 10.0), 0.0)


def test_unit_constants_come_from_ase_units():
    assert BOHR3_TO_A3 == pytest.approx(Bohr**3)
    assert E2A2_PER_EV_TO_A3 == pytest.approx(Bohr * Hartree)
    assert E2A2_PER_EV_TO_A3 == pytest.approx(14.39965, rel=1e-5)
    np.testing.assert_allclose(to_angstrom3(np.eye(3), "bohr3"), np.eye(3) * Bohr**3)
    with pytest.raises(TensorError, match="unknown polarizability unit"):
        to_angstrom3(np.eye(3), "nm3")


def test_tensor_from_numbers_row_major_and_voigt():
    np.testing.assert_array_equal(tensor_from_numbers(np.arange(9.0)),
                                  np.arange(9.0).reshape(3, 3))
    voigt = tensor_from_numbers([1, 2, 3, 4, 5, 6])  # xx yy zz yz xz xy
    np.testing.assert_array_equal(voigt, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    with pytest.raises(TensorError, match="9 numbers"):
        tensor_from_numbers([1, 2, 3])


def test_checked_symmetric_keeps_small_and_refuses_large_asymmetry():
    t = np.diag([10.0, 11.0, 12.0])
    t[0, 1] = 0.01
    sym, asym = checked_symmetric(t, "test")
    np.testing.assert_allclose(sym, sym.T)
    assert 0 < asym < 1e-3
    t[0, 1] = 10.0
    with pytest.raises(TensorError, match="far from symmetric"):
        checked_symmetric(t, "frame 3 of x.xyz")
