"""Model files: one ``.npz`` of numeric arrays plus one JSON metadata string.

Loading uses ``numpy.load(..., allow_pickle=False)``, so a file cannot execute code: an
archive holding an object (pickled) array is refused with :class:`ModelFileError`.

Metadata keys written by every learner: ``format`` (``"ase-raman-model"``),
``format_version``, ``learner``, ``learner_version``, ``distribution`` (the Python
package providing the learner, named in the error when it is not installed),
``ase_raman_version``, ``hypers``, ``species``, ``units`` and ``training``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic_write import atomic_output
from ..errors import ModelFileError

FORMAT_NAME = "ase-raman-model"
FORMAT_VERSION = 1
_METADATA_KEY = "__metadata__"


def write_model_file(path: str | Path, arrays: dict[str, np.ndarray],
                     metadata: dict[str, Any]) -> None:
    """Write ``arrays`` and ``metadata`` (JSON-serialisable) atomically to ``path``."""
    from .. import __version__

    if _METADATA_KEY in arrays:
        raise ValueError(f"array name {_METADATA_KEY!r} is reserved")
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "ase_raman_version": __version__, **metadata}
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in payload.items():
        if value.dtype == object:
            raise ValueError(f"model array {name!r} has dtype object; only numbers are allowed")
    payload[_METADATA_KEY] = np.array(json.dumps(meta, sort_keys=True))
    target = Path(path)
    if target.suffix != ".npz":
        raise ModelFileError(f"{path}: model files must end in .npz")
    with atomic_output(target) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **payload)


def _check_declared_sizes(source: Path) -> None:
    """Refuse an archive whose arrays declare more bytes than they hold.

    A crafted header would make numpy allocate the declared size before reading.
    """
    try:
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                                   (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read_header is None:
                        continue
                    shape, _, dtype = read_header(fh)
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if declared > info.file_size:
                    raise ModelFileError(
                        f"{source}: array {info.filename[:-4]!r} declares shape {shape} "
                        f"({declared} bytes) but holds {info.file_size}; the file is damaged "
                        "or crafted")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # np.load below reports unreadable files in one line


def read_model_file(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a model file safely; returns ``(arrays, metadata)``."""
    source = Path(path)
    if not source.is_file():
        raise ModelFileError(f"{path}: model file not found")
    _check_declared_sizes(source)
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ModelFileError(
                f"{path}: holds pickled Python objects; refusing to load it (ase-raman model "
                "files contain only numeric arrays and JSON)"
            ) from None
        raise ModelFileError(f"{path}: not a readable model file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file ({exc})") from None
    raw = arrays.pop(_METADATA_KEY, None)
    if raw is None:
        raise ModelFileError(f"{path}: no ase-raman metadata; was it written by ase-raman?")
    try:
        metadata = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not an ase-raman model file")
    try:
        format_version = int(metadata.get("format_version", 0))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: format_version {metadata.get('format_version')!r} is "
                             "not an integer; the model file is damaged or not ours") from None
    if format_version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {metadata['format_version']} is newer than this "
            f"ase-raman understands ({FORMAT_VERSION}); upgrade ase-raman"
        )
    if "learner" not in metadata:
        raise ModelFileError(f"{path}: metadata names no learner")
    return arrays, metadata


def read_learner_file(path: str | Path,
                      learner: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`read_model_file`, refusing a file written by a learner other than ``learner``.

    The :class:`ModelFileError` names both learners and points at ``ase_raman.load_model``
    (which picks the learner from the file). What a learner's ``load`` starts with.
    """
    arrays, metadata = read_model_file(path)
    if metadata.get("learner") != learner:
        raise ModelFileError(f"{path}: written by learner {metadata.get('learner')!r}, "
                             f"not {learner!r}; use ase_raman.load_model")
    return arrays, metadata


def learner_metadata(model: Any, **versions: Any) -> dict[str, Any]:
    """The head of a learner's ``metadata``.

    ``learner``, ``learner_version`` and ``distribution`` (from the model's class
    attributes), then ``versions`` (e.g. the distribution's or a feature library's
    version) in the order given.
    """
    return {"learner": model.name, "learner_version": model.learner_version,
            "distribution": model.distribution, **versions}
