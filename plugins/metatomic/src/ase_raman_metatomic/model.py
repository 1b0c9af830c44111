"""The ``metatomic`` learner: a metatomic ``.pt`` model used as an ase-raman TensorModel.

The model is trained elsewhere (e.g. with metatrain) and predicts a per-structure
polarizability (see :mod:`ase_raman_metatomic.outputs` for the expected output name
and layouts). ``fit`` learns nothing: it loads the model named by ``hypers["model"]``
and checks that it covers the training frames' elements.

Model files. ``save`` writes an ordinary ase-raman ``.npz`` model file that embeds the
bytes of the ``.pt`` file as a uint8 array, with its SHA-256 in the metadata, so a
model file is self-contained. Reading the ``.npz`` never unpickles anything. Loading
it then hands the embedded bytes to metatomic's ``load_atomistic_model``, i.e. to the
TorchScript interpreter, which also loads the shared libraries (extensions) the model
names from ``extensions_directory``: a metatomic model is code. So ``load`` (and
:func:`ase_raman.load_model`) refuse it unless trusted: ``trust=True``, or
``--trust-model`` on the command line (environment ``ASE_RAMAN_TRUST_MODELS=1``).
``fit`` loads the ``.pt`` file you name in ``hypers["model"]`` yourself: naming it is
the opt-in.

Hypers: ``model`` (path of the ``.pt`` file), ``output`` (output name; default see
:func:`~ase_raman_metatomic.outputs.pick_output`), ``unit`` (override the output's unit),
``extensions_directory`` (where the model's TorchScript extensions live; default: this
Python's site-packages, where pip puts e.g. featomic-torch), ``device``
(default ``"cpu"``), ``check_consistency`` (metatomic's input/output checks, default
false).
"""

from __future__ import annotations

import hashlib
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ase_raman.errors import ModelFileError, ModelSpeciesError, UsageError
from ase_raman.models.modelfile import learner_metadata, read_learner_file, write_model_file
from ase_raman.models.registry import require_trust

from .outputs import pick_output, tensormap_to_cartesian, volume_factor

_HYPER_KEYS = {"model", "output", "unit", "extensions_directory", "device",
               "check_consistency"}


class MetatomicPolarizability:
    """A metatomic atomistic model predicting alpha (returned in Angstrom^3)."""

    name: ClassVar[str] = "metatomic"
    #: loading a model runs TorchScript and loads extension libraries: needs trust
    loading_runs_code: ClassVar[bool] = True
    distribution: ClassVar[str] = "ase-raman-metatomic"
    learner_version: ClassVar[str] = "1"

    def __init__(self, hypers: dict[str, Any] | None = None, quiet: bool = True,
                 batch_size: int = 16):
        hypers = dict(hypers or {})
        unknown = set(hypers) - _HYPER_KEYS
        if unknown:
            raise UsageError(f"metatomic: unknown hypers {sorted(unknown)}; known: "
                             f"{sorted(_HYPER_KEYS)}")
        self.model_path = hypers.get("model")
        self.output_request = hypers.get("output")
        self.unit_override = hypers.get("unit")
        self.extensions_directory = hypers.get("extensions_directory")
        self.device = str(hypers.get("device", "cpu"))
        self.check_consistency = bool(hypers.get("check_consistency", False))
        self.quiet = quiet
        self.batch_size = batch_size
        self.training: dict[str, Any] = {}
        self._model = None
        self._bytes: bytes | None = None
        self.output = ""
        self.factor = 1.0
        self.atomic_types: list[int] = []
        self.model_name = ""

    # -- loading ----------------------------------------------------------------------
    def _load_bytes(self, data: bytes, where: str) -> None:
        from metatomic.torch import load_atomistic_model

        extensions = self.extensions_directory
        if extensions is None:
            # extensions are recorded relative to site-packages (e.g. featomic-torch's
            # 'featomic/torch/torch-2.13/lib/libfeatomic_torch.so'): look there
            extensions = sysconfig.get_paths()["platlib"]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            path.write_bytes(data)
            try:
                model = load_atomistic_model(str(path), extensions)
            except Exception as exc:  # torch raises many kinds; report them as ours
                raise ModelFileError(f"{where}: not a loadable metatomic model ({exc})") from None
        model = model.to(self.device).eval()
        capabilities = model.capabilities()
        outputs = dict(capabilities.outputs)
        self.output = pick_output(list(outputs), self.output_request, where)
        declared = outputs[self.output]
        if declared.sample_kind != "system":
            raise ModelFileError(f"{where}: output {self.output!r} is per {declared.sample_kind!r}"
                                 ", a per-structure ('system') polarizability is needed")
        unit = self.unit_override if self.unit_override is not None else declared.unit
        self.factor = volume_factor(str(unit), where)
        self.atomic_types = [int(t) for t in capabilities.atomic_types]
        self.dtype = {"float64": "float64", "float32": "float32"}[capabilities.dtype]
        self.model_name = str(model.metadata().name)
        self._model = model
        self._bytes = data

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        if not self.model_path:
            raise UsageError("metatomic: give the model file with hypers={'model': 'x.pt'}")
        path = Path(self.model_path)
        if not path.is_file():
            raise ModelFileError(f"{path}: metatomic model file not found")
        self._load_bytes(path.read_bytes(), str(path))

    def _check_species(self, frames: Sequence[Atoms]) -> None:
        known = set(self.atomic_types)
        for k, atoms in enumerate(frames):
            extra = sorted(set(atoms.numbers.tolist()) - known)
            if extra:
                raise ModelSpeciesError(
                    f"frame {k}: elements {[chemical_symbols[z] for z in extra]} are not "
                    f"supported by the metatomic model (types {self.atomic_types})")

    # -- TensorModel protocol ---------------------------------------------------------
    def fit(self, frames: Sequence[Atoms]) -> MetatomicPolarizability:
        """Nothing to learn (the model is trained elsewhere): load it, check coverage."""
        frames = list(frames)
        self._ensure_loaded()
        self._check_species(frames)
        self.training = {"n_train": len(frames), "fitted": False}
        return self

    def predict(self, frames: Sequence[Atoms]) -> np.ndarray:
        """Polarizabilities (n, 3, 3) in Angstrom^3."""
        frames = list(frames)
        self._ensure_loaded()
        self._check_species(frames)
        out = np.zeros((len(frames), 3, 3))
        for start in range(0, len(frames), self.batch_size):
            batch = frames[start:start + self.batch_size]
            out[start:start + len(batch)] = self._predict_batch(batch)
        return out

    def _predict_batch(self, frames: list[Atoms]) -> np.ndarray:
        import torch
        from metatomic.torch import ModelEvaluationOptions, ModelOutput, systems_to_torch
        from vesin.metatomic import neighbor_lists_for_model

        dtype = getattr(torch, self.dtype)
        systems = systems_to_torch([_clean(a) for a in frames], dtype=dtype,
                                   device=torch.device(self.device))
        for calculator in neighbor_lists_for_model("angstrom", self._model):
            calculator.add_neighbor_list(systems)
        options = ModelEvaluationOptions(
            length_unit="angstrom",
            outputs={self.output: ModelOutput(sample_kind="system")})
        with torch.no_grad():
            result = self._model(systems, options, check_consistency=self.check_consistency)
        alpha = tensormap_to_cartesian(result[self.output], len(frames),
                                       f"metatomic output {self.output!r}") * self.factor
        return 0.5 * (alpha + np.swapaxes(alpha, -1, -2))

    def save(self, path: str | Path) -> None:
        self._ensure_loaded()
        data = np.frombuffer(self._bytes, dtype=np.uint8)
        write_model_file(path, {"torchscript_model": data}, self.metadata)

    @classmethod
    def load(cls, path: str | Path, trust: bool | None = None) -> MetatomicPolarizability:
        """Load a model file written by :meth:`save`; runs its TorchScript, so only when
        ``trust`` is True (None: ``ASE_RAMAN_TRUST_MODELS``), else ModelFileError."""
        require_trust(path, "TorchScript code and extension libraries (metatomic)", trust)
        arrays, meta = read_learner_file(path, cls.name)
        raw = arrays.get("torchscript_model")
        if raw is None or raw.dtype != np.uint8:
            raise ModelFileError(f"{path}: no embedded metatomic model")
        data = raw.tobytes()
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise ModelFileError(f"{path}: embedded metatomic model does not match its SHA-256")
        hypers = dict(meta.get("hypers", {}))
        model = cls(hypers=hypers)
        model._load_bytes(data, str(path))
        model.training = dict(meta.get("training", {}))
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        from . import __version__

        meta: dict[str, Any] = {
            **learner_metadata(self, distribution_version=__version__),
            "hypers": {"model": str(self.model_path) if self.model_path else None,
                       "output": self.output_request, "unit": self.unit_override,
                       "extensions_directory": self.extensions_directory,
                       "device": self.device, "check_consistency": self.check_consistency},
            "species": [chemical_symbols[z] for z in self.atomic_types],
            "units": {"polarizability": "Angstrom^3", "length": "Angstrom"},
            "training": self.training,
        }
        if self._bytes is not None:
            import metatomic.torch
            import torch

            meta.update({"sha256": hashlib.sha256(self._bytes).hexdigest(),
                         "output": self.output, "metatomic_model_name": self.model_name,
                         "torch_version": torch.__version__,
                         "metatomic_torch_version": metatomic.torch.__version__})
        return meta


def _clean(atoms: Atoms) -> Atoms:
    """metatomic wants a full periodic cell or none: drop a cell on a non-periodic frame."""
    if not atoms.pbc.any() and atoms.cell.rank > 0:
        atoms = atoms.copy()
        atoms.cell[:] = 0.0
    return atoms
