"""Spectra and transport from time series: Raman, VDOS, MSD (one module each)."""
