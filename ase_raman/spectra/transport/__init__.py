"""Ion transport from MD positions: the one home of MSD, diffusion, conductivity, Haven
ratio, Arrhenius fits and the van Hove self-correlation.

Modules (data flow top to bottom):

* :mod:`.msd` -- unwrapping (minimum-image steps, NPT-safe), centre-of-mass drift
  removal, tracer / collective / charge MSD by FFT over all time origins, blocks;
* :mod:`.diffusion` -- D by GLS over a diffusive window (automatic rule),
  Nernst-Einstein and Einstein-Helfand conductivity, Haven ratio;
* :mod:`.arrhenius` -- ``D = D0 exp(-E_a / k_B T)`` fits and extrapolation;
* :mod:`.vanhove` -- ``G_s(r, t)``;
* :mod:`.regimes` -- local MSD exponent and non-Gaussian parameter ``alpha_2(t)``;
* :mod:`.sites` -- sites of a mobile species (from the density or a file), site
  trajectories with hysteresis, jumps;
* :mod:`.mechanism` -- liquid-like / hopping / vibrating: :func:`analyse_mechanism`
  returns one :class:`MechanismResult` (the API of ``ase-raman mechanism``);
* :mod:`.synthetic` -- trajectories with a known mechanism (tests, benchmark);
* :mod:`.report` -- JSON summaries, CSV and PNG files (the public file formats).

Units: Angstrom, fs at the API (ps where a name says so), D in Angstrom^2/ps and cm^2/s,
conductivity in S/cm, energies in eV, temperatures in K, charges in e.
"""

from .arrhenius import ArrheniusFit, arrhenius_fit
from .diffusion import (
    A2_PS_TO_CM2_S,
    DiffusionFit,
    auto_fit_window,
    einstein_helfand_conductivity,
    fit_diffusion,
    haven_ratio,
    nernst_einstein_conductivity,
)
from .mechanism import (
    MechanismResult,
    SpeciesMechanism,
    analyse_mechanism,
    mechanism_from_file,
)
from .msd import (
    MSDResult,
    mean_squared_displacement,
    msd_direct,
    msd_fft,
    remove_drift,
    summed_autocorrelation,
    unwrap_positions,
)
from .vanhove import VanHove, van_hove_self

__all__ = [
    "A2_PS_TO_CM2_S",
    "ArrheniusFit",
    "DiffusionFit",
    "MSDResult",
    "MechanismResult",
    "SpeciesMechanism",
    "VanHove",
    "analyse_mechanism",
    "arrhenius_fit",
    "auto_fit_window",
    "einstein_helfand_conductivity",
    "fit_diffusion",
    "haven_ratio",
    "mean_squared_displacement",
    "mechanism_from_file",
    "msd_direct",
    "msd_fft",
    "nernst_einstein_conductivity",
    "remove_drift",
    "summed_autocorrelation",
    "unwrap_positions",
    "van_hove_self",
]
