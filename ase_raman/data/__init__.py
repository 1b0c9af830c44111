"""Data files shipped with ase-raman (potential files); see README.md in this folder."""
