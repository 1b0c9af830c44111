"""ase-raman-prescreen: rank candidate Li conductors from their composition (and, where
known, structure) before any MD.

``ase-raman prescreen fit`` trains gradient-boosted regressors of log10 sigma (and E_a)
on measured data (the OBELiX columns work as they are), ``ase-raman prescreen predict``
ranks candidates with calibrated error bars and can write the manifest of
``ase-raman screen``. See the plugin's README.
"""

__version__ = "0.1.0"
