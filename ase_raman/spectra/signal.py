"""Shared signal-processing pieces: FFT auto-correlation averaged over time origins.

Every correlation in the package (Raman invariants, velocity autocorrelation, MSD) goes
through :func:`autocorrelation`, so there is one implementation to test and to speed up.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft


def _fast_length(n: int) -> int:
    """Smallest FFT-friendly length >= 2 n (zero padding that avoids circular wrap-around)."""
    return sp_fft.next_fast_len(2 * n, real=True)


def autocorrelation(x: np.ndarray, axis: int = 0, normalize: bool = True) -> np.ndarray:
    """Auto-correlation ``C(k) = <x(tau) x(tau + k)>`` along ``axis`` by FFT (Wiener-Khinchin).

    The series is zero-padded to at least twice its length, so the result equals the
    direct sum ``sum_{tau=0}^{N-1-k} x(tau) x(tau+k)``; with ``normalize=True`` (default)
    each lag is divided by its number of time origins ``N - k`` (an average over all
    origins). Real input only; other axes are independent series. Cost O(N log N).
    """
    arr = np.asarray(x, dtype=float)
    arr = np.moveaxis(arr, axis, 0)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("autocorrelation of an empty series")
    nfft = _fast_length(n)
    spec = sp_fft.rfft(arr, n=nfft, axis=0)
    power = spec.real**2 + spec.imag**2
    corr = sp_fft.irfft(power, n=nfft, axis=0)[:n]
    if normalize:
        counts = np.arange(n, 0, -1, dtype=float).reshape((n,) + (1,) * (arr.ndim - 1))
        corr /= counts
    return np.moveaxis(corr, 0, axis)
