"""Live couplings to MD engines, and readers of their output into the H5MD store.

* :mod:`.calculators`: pick an ASE force calculator by name or ``module:callable``;
* :mod:`.ipi`: an i-PI socket driver returning alpha as i-PI "extras", and a reader of
  i-PI output (positions, velocities, extras) into the store;
* :mod:`.lammps`: record alpha every N steps of a LAMMPS run driven from Python, and a
  reader of LAMMPS ``dump custom`` files into the store.

Nothing here is imported by ``import ase_raman``; the engines' Python packages (``ipi``,
``lammps``) are optional extras.
"""
