"""The learner registry: entry points in the group ``ase_raman.models``.

A learner package declares, in its ``pyproject.toml``::

    [project.entry-points."ase_raman.models"]
    my-learner = "my_package.module:MyLearner"

where ``MyLearner`` implements :class:`ase_raman.models.base.TensorModel`. ase-raman's
own learners are registered exactly the same way, so third-party packages are peers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from ..errors import ModelFileError, UnknownLearnerError
from .base import TensorModel
from .modelfile import read_model_file

GROUP = "ase_raman.models"


@dataclass(frozen=True)
class LearnerInfo:
    """One installed learner: registry name, providing distribution and its version."""

    name: str
    distribution: str
    version: str
    target: str


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def entry_point_infos(group: str) -> list[LearnerInfo]:
    """Name, distribution, version and target of every entry point of ``group``.

    Sorted by name; used for the learners here and the calculators of
    ``ase_raman.calculators``.
    """
    out = []
    for ep in sorted(entry_points(group=group), key=lambda ep: ep.name):
        dist = getattr(ep, "dist", None)
        out.append(LearnerInfo(
            name=ep.name,
            distribution=dist.name if dist is not None else "?",
            version=dist.version if dist is not None else "?",
            target=ep.value,
        ))
    return out


def installed_learners() -> list[LearnerInfo]:
    """All learners registered in the ``ase_raman.models`` entry-point group, by name."""
    return entry_point_infos(GROUP)


def get_learner(name: str, distribution_hint: str | None = None) -> type[TensorModel]:
    """The learner class registered under ``name``; a clear error when none is."""
    ep = _entry_points().get(name)
    if ep is None:
        known = ", ".join(sorted(_entry_points())) or "none"
        hint = (f"install the plugin package {distribution_hint!r}"
                if distribution_hint else "install the plugin package that provides it")
        raise UnknownLearnerError(
            f"no installed learner named {name!r} (entry-point group {GROUP!r}; installed: "
            f"{known}); {hint}"
        )
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin must not look like an ase-raman bug
        raise UnknownLearnerError(
            f"learner {name!r} is registered by {ep.value!r} but failed to import: {exc}"
        ) from exc


#: Environment variable that trusts every model file of this process (``--trust-model``).
TRUST_ENV = "ASE_RAMAN_TRUST_MODELS"


def models_trusted(trust: bool | None = None) -> bool:
    """Whether loading model files that run code is allowed.

    ``trust`` when given, else the environment variable :data:`TRUST_ENV` (set to 1 by
    the command line's ``--trust-model``).
    """
    if trust is not None:
        return bool(trust)
    return os.environ.get(TRUST_ENV, "").strip().lower() not in ("", "0", "false", "no")


def require_trust(path: str | Path, what: str, trust: bool | None = None) -> None:
    """:class:`ModelFileError` unless loading ``path`` (which runs ``what``) is trusted."""
    if not models_trusted(trust):
        raise ModelFileError(
            f"{path}: loading this model runs {what}; refusing it unless you trust its "
            f"source: pass trust=True (or set {TRUST_ENV}=1)")


def load_model(path: str | Path, trust: bool | None = None) -> TensorModel:
    """Load any model file, dispatching on the learner name stored in it.

    Learners whose models are code (``loading_runs_code = True``, e.g. metatomic's
    TorchScript with its extension libraries) load only when trusted: ``trust=True``, or
    :data:`TRUST_ENV` set (``--trust-model``); otherwise :class:`ModelFileError`.
    """
    _, metadata = read_model_file(path)
    cls = get_learner(str(metadata["learner"]), metadata.get("distribution"))
    if getattr(cls, "loading_runs_code", False):
        require_trust(path, f"{cls.name} code", trust)
    try:
        model = cls.load(path, trust=True) if getattr(cls, "loading_runs_code", False) \
            else cls.load(path)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # crafted or damaged metadata (missing keys, wrong types): one line, no traceback
        msg = " ".join(str(exc).split())
        raise ModelFileError(f"{path}: malformed model metadata ({type(exc).__name__}: "
                             f"{msg}); the file is damaged or was not written by "
                             f"{metadata.get('learner')!r}") from None
    if not isinstance(model, TensorModel):
        raise ModelFileError(f"{path}: learner {metadata['learner']!r} did not return a model")
    return model
