"""The end-to-end demo: central-peak screening of AgI (``ase-raman demo``)."""
