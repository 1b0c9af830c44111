"""The learner contract: checks every :class:`~ase_raman.models.base.TensorModel` must pass.

A plugin runs the whole suite against itself by subclassing :class:`LearnerContract` in
one of its test files (the class name must start with ``Test`` so pytest collects it)::

    from ase_raman.testing import LearnerContract

    class TestMyLearnerContract(LearnerContract):
        learner_name = "my-learner"          # the entry-point name in ase_raman.models
        distribution = "ase-raman-my-plugin" # the package that registers it

        def training_frames(self):
            return [...]                     # frames with info["polarizability"] (Angstrom^3)

Every ``check_*`` function below also works on its own (it raises ``AssertionError``
with a message saying what broke), so a learner can be checked outside pytest.

What the contract guarantees to users of any learner
----------------------------------------------------
* **registry**: the learner is registered under ``ase_raman.models`` with its name, the
  class attribute ``name`` equals that entry-point name, and the constructor accepts
  ``hypers=None`` / a dict and ``quiet=True`` (what ``ase-raman fit --learner`` passes);
* **shapes**: ``predict(frames)`` returns a float array ``(n, 3, 3)``, finite, and
  ``(0, 3, 3)`` for no frames; predicting frames one by one or in a batch agrees;
* **units**: ``metadata["units"]["polarizability"] == "Angstrom^3"`` and, for learners
  that fit, the training-set predictions agree with the reference (Angstrom^3) within a
  relative tolerance, which a learner in bohr^3 or e^2 Angstrom^2/eV would fail;
* **symmetry**: ``alpha == alpha^T``;
* **invariance**: translation and permutation of atoms leave alpha unchanged;
* **equivariance**: a proper rotation R gives ``R alpha R^T`` (and an improper one too,
  unless the learner opts out with ``improper_equivariant = False``);
* **extensivity** (opt-in, ``extensive = True``): a 2x1x1 supercell of a periodic frame
  has twice the polarizability;
* **files**: ``save(path)`` writes an ase-raman model file that names the learner and
  its distribution; ``ase_raman.load_model`` and ``cls.load`` give identical
  predictions; ``cls.load`` refuses a file of another learner and a file carrying a
  pickled object array (:class:`~ase_raman.errors.ModelFileError`), so loading a model
  never executes code;
* **metadata** is JSON-serialisable, names the learner, and its ``species`` (when given)
  are chemical symbols (:class:`~ase_raman.models.base.ModelMetadata`);
* **pipelines**: the fitted model records a short trajectory through
  :class:`~ase_raman.PolarizabilityObserver` and through
  :func:`~ase_raman.store.predict_to_store` (``ase-raman predict``) into an H5MD file
  holding its own predictions, and :class:`~ase_raman.calculator.PolarizabilityCalculator`
  returns the same alpha as ``predict``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from .errors import AseRamanError, ModelFileError
from .models.base import SupportsUncertainty, TensorModel, reference_polarizabilities
from .models.modelfile import read_model_file, write_model_file
from .models.registry import get_learner, installed_learners, load_model

__all__ = [
    "LearnerContract",
    "check_batch_consistency",
    "check_equivariance",
    "check_extensivity",
    "check_foreign_file_refused",
    "check_invariance",
    "check_calculator",
    "check_capabilities",
    "check_metadata",
    "check_observer",
    "check_predict_to_store",
    "check_pickle_refused",
    "check_predict_shapes",
    "check_registered",
    "check_save_load_identity",
    "check_units",
    "random_rotation",
    "rotate_frame",
]


# -- helpers ------------------------------------------------------------------------------
def random_rotation(seed: int, proper: bool = True) -> np.ndarray:
    """A random orthogonal 3x3 matrix (det +1, or det -1 when ``proper`` is False)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))[None, :]
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1.0
    return q if proper else -q


def rotate_frame(atoms: Atoms, rotation: np.ndarray) -> Atoms:
    """A copy of ``atoms`` with positions and cell vectors multiplied by ``rotation``."""
    out = atoms.copy()
    out.calc = None
    out.positions = atoms.positions @ rotation.T
    if atoms.cell.rank:
        out.set_cell(np.asarray(atoms.cell) @ rotation.T, scale_atoms=False)
    return out


def _copies(frames: Sequence[Atoms]) -> list[Atoms]:
    out = []
    for atoms in frames:
        copy = atoms.copy()
        copy.calc = None
        out.append(copy)
    return out


def _close(actual: np.ndarray, desired: np.ndarray, rtol: float, what: str) -> None:
    """assert_allclose with an absolute tolerance scaled by the size of ``desired``."""
    scale = max(float(np.max(np.abs(desired), initial=0.0)), 1e-12)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale, err_msg=what)


# -- checks -------------------------------------------------------------------------------
def check_registered(learner_name: str, cls: type, distribution: str | None = None) -> None:
    """The learner is an installed entry point, its ``name`` matches, its package is known."""
    found = {info.name: info for info in installed_learners()}
    assert learner_name in found, (
        f"{learner_name!r} is not registered in the ase_raman.models entry-point group "
        f"(installed: {sorted(found)}); is the plugin installed (pip install -e ...)?")
    assert get_learner(learner_name) is cls, (
        f"entry point {learner_name!r} resolves to {found[learner_name].target}, not {cls}")
    assert getattr(cls, "name", None) == learner_name, (
        f"{cls.__name__}.name is {getattr(cls, 'name', None)!r}, expected {learner_name!r}")
    if distribution is not None:
        assert found[learner_name].distribution == distribution, (
            f"{learner_name!r} is provided by {found[learner_name].distribution!r}, "
            f"expected {distribution!r}")


def check_predict_shapes(model: TensorModel, frames: Sequence[Atoms]) -> np.ndarray:
    """(n, 3, 3) finite symmetric float predictions; (0, 3, 3) for no frames. Returns them."""
    alpha = np.asarray(model.predict(list(frames)))
    assert alpha.shape == (len(frames), 3, 3), f"predict gave shape {alpha.shape}"
    assert np.issubdtype(alpha.dtype, np.floating), f"predict gave dtype {alpha.dtype}"
    assert np.all(np.isfinite(alpha)), "predict gave non-finite numbers"
    _close(alpha, np.swapaxes(alpha, -1, -2), 1e-10, "predicted tensors are not symmetric")
    empty = np.asarray(model.predict([]))
    assert empty.shape == (0, 3, 3), f"predict([]) gave shape {empty.shape}, expected (0, 3, 3)"
    return alpha


def check_batch_consistency(model: TensorModel, frames: Sequence[Atoms],
                            rtol: float = 1e-8) -> None:
    """Predicting a batch equals predicting each frame alone (and is repeatable)."""
    batch = np.asarray(model.predict(list(frames)))
    again = np.asarray(model.predict(list(frames)))
    _close(again, batch, rtol, "two identical predict calls disagree")
    single = np.stack([np.asarray(model.predict([atoms]))[0] for atoms in frames])
    _close(single, batch, rtol, "predict of a batch differs from frame-by-frame predict")


def check_units(model: TensorModel, frames: Sequence[Atoms], max_relative_rmse: float) -> None:
    """Metadata says Angstrom^3 and predictions on labelled ``frames`` match the reference.

    The relative RMSE is ``|pred - ref|_F / |ref|_F`` over all frames; a learner that
    returns bohr^3 (factor 6.7) or e^2 Angstrom^2/eV (factor 1/14.4) cannot pass with a
    tolerance below about 0.8.
    """
    units = model.metadata.get("units", {})
    assert units.get("polarizability") == "Angstrom^3", (
        f"metadata['units']['polarizability'] is {units.get('polarizability')!r}, "
        "expected 'Angstrom^3'")
    reference = reference_polarizabilities(frames)
    predicted = np.asarray(model.predict(list(frames)))
    rel = float(np.linalg.norm(predicted - reference) / np.linalg.norm(reference))
    assert rel <= max_relative_rmse, (
        f"relative RMSE {rel:.3g} against the reference exceeds {max_relative_rmse:g}: wrong "
        "units, or the learner does not learn")


def check_invariance(model: TensorModel, atoms: Atoms, rtol: float = 1e-8,
                     seed: int = 0) -> None:
    """Translating all atoms, or permuting their order, leaves alpha unchanged."""
    rng = np.random.default_rng(seed)
    base = np.asarray(model.predict([atoms]))[0]
    shifted = _copies([atoms])[0]
    shifted.positions += rng.normal(scale=0.7, size=3)
    _close(np.asarray(model.predict([shifted]))[0], base, rtol, "not translation invariant")
    order = rng.permutation(len(atoms))
    permuted = _copies([atoms])[0][order]
    _close(np.asarray(model.predict([permuted]))[0], base, rtol, "not permutation invariant")


def check_equivariance(model: TensorModel, atoms: Atoms, rtol: float = 1e-8,
                       improper: bool = True, seed: int = 0) -> None:
    """alpha of a rotated frame is ``R alpha R^T`` (proper rotation; inversion too)."""
    base = np.asarray(model.predict([atoms]))[0]
    cases = [(random_rotation(seed), "proper rotation")]
    if improper:
        cases.append((random_rotation(seed + 1, proper=False), "improper rotation"))
    for rotation, what in cases:
        rotated = np.asarray(model.predict([rotate_frame(atoms, rotation)]))[0]
        _close(rotated, rotation @ base @ rotation.T, rtol, f"not equivariant under a {what}")


def check_extensivity(model: TensorModel, atoms: Atoms, rtol: float = 1e-6) -> None:
    """A 2x1x1 supercell of a periodic frame has twice the polarizability."""
    assert all(atoms.pbc), "the extensivity check needs a fully periodic frame"
    base = np.asarray(model.predict([atoms]))[0]
    double = np.asarray(model.predict([atoms.repeat((2, 1, 1))]))[0]
    _close(double, 2.0 * base, rtol, "alpha of a 2x1x1 supercell is not twice alpha")


def check_metadata(model: TensorModel, learner_name: str) -> dict[str, Any]:
    """Metadata is a JSON-serialisable dict naming the learner; returns it.

    Its keys have the types of :class:`~ase_raman.models.base.ModelMetadata`; in
    particular ``species`` is a list of chemical symbols (``"Cu"``, not 29).
    """
    meta = model.metadata
    assert isinstance(meta, dict), f"metadata is {type(meta)}, expected dict"
    json.dumps(meta)  # raises TypeError when not serialisable
    assert meta.get("learner") == learner_name, (
        f"metadata['learner'] is {meta.get('learner')!r}, expected {learner_name!r}")
    species = meta.get("species")
    if species is not None:
        assert isinstance(species, list), f"metadata['species'] is {type(species)}, not list"
        bad = [s for s in species if not (isinstance(s, str) and s in chemical_symbols[1:])]
        assert not bad, (f"metadata['species'] holds {bad!r}: species must be chemical "
                         "symbols such as 'Cu' (not atomic numbers)")
    for key, kind in (("learner_version", str), ("distribution", str), ("hypers", dict),
                      ("units", dict), ("training", dict)):
        if key in meta:
            assert isinstance(meta[key], kind), (
                f"metadata[{key!r}] is {type(meta[key]).__name__}, expected {kind.__name__}")
    return meta


def _trajectory(atoms: Atoms, n: int, seed: int = 0) -> list[Atoms]:
    """``n`` copies of ``atoms`` with small random displacements (0.02 Angstrom)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        frame = _copies([atoms])[0]
        frame.positions += rng.normal(scale=0.02, size=frame.positions.shape)
        out.append(frame)
    return out


def _stored_alpha(path: Path) -> np.ndarray:
    from .store import read_trajectory

    with read_trajectory(path) as traj:
        return np.asarray(traj.polarizability[:])


def check_observer(model: TensorModel, atoms: Atoms, directory: str | Path,
                   n_frames: int = 5, rtol: float = 1e-8) -> None:
    """The observer records ``n_frames`` frames of a moving ``atoms`` with their alpha."""
    from .observe import PolarizabilityObserver

    frames = _trajectory(atoms, n_frames)
    moving = _copies([atoms])[0]
    path = Path(directory) / "observer-contract.h5"
    with PolarizabilityObserver(moving, model, path, dt_fs=1.0, interval=1, batch=2,
                                logfile=None) as observer:
        for frame in frames:
            moving.positions[:] = frame.positions
            observer()
    stored = _stored_alpha(path)
    assert stored.shape == (n_frames, 3, 3), f"the observer stored {stored.shape[0]} frames"
    _close(stored, np.asarray(model.predict(frames)), rtol,
           "the observer stored other values than predict")


def check_predict_to_store(model: TensorModel, atoms: Atoms, directory: str | Path,
                           n_frames: int = 5, rtol: float = 1e-8) -> None:
    """``predict_to_store`` (what ``ase-raman predict`` runs) writes predict's alpha."""
    from .store import predict_to_store

    frames = _trajectory(atoms, n_frames, seed=1)
    path = Path(directory) / "predict-contract.h5"
    written = predict_to_store(model, frames, path, dt_fs=1.0, batch=2)
    assert written == n_frames, f"predict_to_store wrote {written} of {n_frames} frames"
    _close(_stored_alpha(path), np.asarray(model.predict(frames)), rtol,
           "predict_to_store stored other values than predict")


def check_capabilities(model: TensorModel, frames: Sequence[Atoms]) -> None:
    """Declared capabilities work.

    A :class:`~ase_raman.models.base.SupportsUncertainty` model gives a finite,
    non-negative standard deviation of the shape of alpha, and its alpha equals
    ``predict``'s.
    """
    if isinstance(model, SupportsUncertainty):
        alpha, std = model.predict_with_uncertainty(list(frames))
        alpha, std = np.asarray(alpha), np.asarray(std)
        assert alpha.shape == std.shape == (len(frames), 3, 3), (
            f"predict_with_uncertainty gave shapes {alpha.shape}, {std.shape}")
        assert np.all(np.isfinite(std)) and np.all(std >= 0), "uncertainty not finite/>= 0"
        _close(alpha, np.asarray(model.predict(list(frames))), 1e-8,
               "predict_with_uncertainty's alpha differs from predict")


def check_calculator(model: TensorModel, atoms: Atoms, rtol: float = 1e-10) -> None:
    """:class:`~ase_raman.calculator.PolarizabilityCalculator` returns predict's alpha."""
    from .calculator import PolarizabilityCalculator

    calc = PolarizabilityCalculator(model)
    frame = _copies([atoms])[0]
    _close(calc.get_polarizability(frame), np.asarray(model.predict([frame]))[0], rtol,
           "PolarizabilityCalculator disagrees with predict")


def check_save_load_identity(model: TensorModel, frames: Sequence[Atoms],
                             directory: str | Path) -> Path:
    """save + load (class and registry) reproduce predictions exactly; returns the file."""
    cls = type(model)
    path = Path(directory) / f"{cls.name}-contract.npz"
    model.save(path)
    assert path.is_file(), f"save({path}) wrote no file"
    arrays, meta = read_model_file(path)
    assert meta.get("learner") == cls.name, f"model file names learner {meta.get('learner')!r}"
    assert meta.get("distribution"), "model file metadata names no 'distribution'"
    with np.load(path, allow_pickle=False) as archive:
        for key in archive.files:
            assert archive[key].dtype != object, f"model file array {key!r} is an object array"
    expected = np.asarray(model.predict(list(frames)))
    for loaded, how in ((cls.load(path), f"{cls.__name__}.load"),
                        (load_model(path), "ase_raman.load_model")):
        assert type(loaded) is cls, f"{how} returned {type(loaded)}, expected {cls}"
        np.testing.assert_allclose(np.asarray(loaded.predict(list(frames))), expected,
                                   rtol=1e-12, atol=1e-12,
                                   err_msg=f"{how} changed the predictions")
    return path


def check_pickle_refused(cls: type, saved: str | Path, directory: str | Path) -> None:
    """``cls.load`` refuses a copy of ``saved`` with an injected pickled object array."""
    with np.load(saved, allow_pickle=False) as archive:
        payload = {key: archive[key] for key in archive.files}
    payload["evil"] = np.array([{"payload": "never unpickled"}], dtype=object)
    evil = Path(directory) / "evil-contract.npz"
    np.savez(evil, **payload)
    try:
        cls.load(evil)
    except ModelFileError:
        return
    raise AssertionError(f"{cls.__name__}.load accepted a model file with a pickled object")


def check_foreign_file_refused(cls: type, directory: str | Path) -> None:
    """``cls.load`` refuses a model file written by another learner."""
    path = Path(directory) / "foreign-contract.npz"
    write_model_file(path, {"weights": np.zeros(3)},
                     {"learner": f"not-{cls.name}", "distribution": "nobody"})
    try:
        cls.load(path)
    except ModelFileError:
        return
    raise AssertionError(f"{cls.__name__}.load accepted a file of learner 'not-{cls.name}'")


# -- the pytest mixin ---------------------------------------------------------------------
class LearnerContract:
    """Subclass as ``Test...`` in a plugin's tests to run the whole contract on a learner.

    Required: :attr:`learner_name` and :meth:`training_frames`. Optional knobs are class
    attributes; override :meth:`make_model` when the learner needs constructor arguments
    beyond ``hypers``/``quiet``, and :meth:`evaluation_frames` for other test frames.
    """

    #: entry-point name of the learner under test
    learner_name: ClassVar[str] = ""
    #: distribution expected to register it (None: not checked)
    distribution: ClassVar[str | None] = None
    #: ``hypers`` passed to the constructor
    hypers: ClassVar[dict[str, Any] | None] = None
    #: maximum relative RMSE on the training frames (units check); None skips it
    max_training_relative_rmse: ClassVar[float | None] = 0.3
    #: relative tolerance of the invariance/equivariance/batch checks
    rtol: ClassVar[float] = 1e-8
    #: whether improper rotations (det -1) must also be equivariant
    improper_equivariant: ClassVar[bool] = True
    #: whether alpha must double for a 2x1x1 supercell (needs a periodic evaluation frame)
    extensive: ClassVar[bool] = False

    _fitted_cache: ClassVar[dict[type, TensorModel]] = {}

    # -- to provide -------------------------------------------------------------------
    def training_frames(self) -> list[Atoms]:
        """Frames with ``info["polarizability"]`` (3x3, Angstrom^3) to fit on."""
        raise NotImplementedError("a LearnerContract subclass must define training_frames()")

    def evaluation_frames(self) -> list[Atoms]:
        """Frames used by the prediction checks (default: three training frames)."""
        return _copies(self.training_frames()[:3])

    def make_model(self) -> TensorModel:
        """A fresh, unfitted model, built the way ``ase-raman fit`` builds it."""
        return self.learner_class()(hypers=self.hypers, quiet=True)

    # -- shared helpers ---------------------------------------------------------------
    def learner_class(self) -> type:
        """The class registered under :attr:`learner_name`."""
        return get_learner(self.learner_name)

    def fitted_model(self) -> TensorModel:
        """A model fitted on :meth:`training_frames`, built once per test class."""
        key = type(self)
        if key not in LearnerContract._fitted_cache:
            model = self.make_model()
            result = model.fit(self.training_frames())
            assert result is model, "fit(frames) must return self"
            LearnerContract._fitted_cache[key] = model
        return LearnerContract._fitted_cache[key]

    def _periodic_frame(self) -> Atoms:
        for atoms in self.evaluation_frames():
            if all(atoms.pbc):
                return atoms
        raise AssertionError("extensive = True needs a fully periodic evaluation frame")

    # -- the tests --------------------------------------------------------------------
    def test_contract_registered(self):
        """The learner is an installed entry point with a matching name."""
        check_registered(self.learner_name, self.learner_class(), self.distribution)

    def test_contract_constructor_accepts_cli_arguments(self):
        """``cls(hypers=None, quiet=True)`` builds a TensorModel."""
        cls = self.learner_class()
        model = cls(hypers=None, quiet=True)
        assert isinstance(model, TensorModel), f"{cls} does not implement TensorModel"

    def test_contract_shapes_and_symmetry(self):
        """Predictions are finite, symmetric, of shape (n, 3, 3)."""
        check_predict_shapes(self.fitted_model(), self.evaluation_frames())

    def test_contract_batch_consistency(self):
        """Batch and frame-by-frame predictions agree."""
        check_batch_consistency(self.fitted_model(), self.evaluation_frames(), self.rtol)

    def test_contract_units(self):
        """Angstrom^3 in the metadata and on the training frames."""
        if self.max_training_relative_rmse is None:
            import unittest

            raise unittest.SkipTest("this learner opts out of the training-error check")
        check_units(self.fitted_model(), self.training_frames(),
                    self.max_training_relative_rmse)

    def test_contract_invariance(self):
        """Translations and permutations leave alpha unchanged."""
        model = self.fitted_model()
        for atoms in self.evaluation_frames()[:2]:
            check_invariance(model, atoms, self.rtol)

    def test_contract_rotation_equivariance(self):
        """Rotations give R alpha R^T."""
        model = self.fitted_model()
        for seed, atoms in enumerate(self.evaluation_frames()[:2]):
            check_equivariance(model, atoms, self.rtol, self.improper_equivariant, seed=seed)

    def test_contract_extensivity(self):
        """A 2x1x1 supercell doubles alpha (learners that claim it)."""
        if not self.extensive:
            import unittest

            raise unittest.SkipTest("this learner does not claim extensivity")
        check_extensivity(self.fitted_model(), self._periodic_frame(), max(self.rtol, 1e-6))

    def test_contract_metadata(self):
        """Typed, JSON-serialisable metadata with chemical-symbol species."""
        check_metadata(self.fitted_model(), self.learner_name)

    def test_contract_observer(self):
        """The observer records the model's predictions."""
        with tempfile.TemporaryDirectory() as tmp:
            check_observer(self.fitted_model(), self.evaluation_frames()[0], tmp,
                           rtol=max(self.rtol, 1e-8))

    def test_contract_predict_to_store(self):
        """``predict_to_store`` records the model's predictions."""
        with tempfile.TemporaryDirectory() as tmp:
            check_predict_to_store(self.fitted_model(), self.evaluation_frames()[0], tmp,
                                   rtol=max(self.rtol, 1e-8))

    def test_contract_capabilities(self):
        """Declared capabilities (uncertainty) work."""
        check_capabilities(self.fitted_model(), self.evaluation_frames())

    def test_contract_calculator(self):
        """The ASE calculator returns the model's prediction."""
        check_calculator(self.fitted_model(), self.evaluation_frames()[0],
                         rtol=max(self.rtol, 1e-10))

    def test_contract_save_load_and_no_pickle(self):
        """Files round-trip exactly and never unpickle."""
        model = self.fitted_model()
        with tempfile.TemporaryDirectory() as tmp:
            saved = check_save_load_identity(model, self.evaluation_frames(), tmp)
            check_pickle_refused(type(model), saved, tmp)
            check_foreign_file_refused(type(model), tmp)

    def test_contract_errors_are_ase_raman_errors(self):
        """Saving to a name that is not ``.npz`` fails with an ase-raman error."""
        model = self.fitted_model()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                model.save(Path(tmp) / "model.pkl")
            except AseRamanError:
                return
            raise AssertionError("save('model.pkl') did not raise an ase-raman error")
