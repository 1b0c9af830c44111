"""Screening of solid electrolytes from crystal structures (``ase-raman screen``):
structure ordering and supercells (:mod:`.structure`), MD stages (:mod:`.md`), per-pair
analysis (:mod:`.analysis`), the table and plots (:mod:`.report`) and the orchestration
(:mod:`.pipeline`)."""

from .pipeline import Material, ScreenSettings, read_inputs, run_material, run_screen

__all__ = ["Material", "ScreenSettings", "read_inputs", "run_material", "run_screen"]
