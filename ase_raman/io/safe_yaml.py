"""Read a YAML file a user hands us without letting it run code or blow up memory.

Every YAML file ase-raman reads (phonopy's ``phonopy.yaml``, ``mesh``/``band``/``qpoints``
and ``irreps`` yaml, ``batch`` manifests) goes through :func:`load_yaml` first; phonopy
itself only ever sees text that passed it (:func:`validated_yaml_text`).

What is refused, each with one :class:`~ase_raman.errors.InputFileError` line naming the
file (and line) and what to do:

* **any explicit tag** (``!!python/object/apply:...``, ``!!binary``, ``!custom``, even
  ``!!str``): data files need none, and phonopy's own loader would construct Python objects
  from the ``!!python`` ones, i.e. run code;
* **alias expansion**: anchors/aliases are allowed, but the document, with every alias
  expanded, may hold at most ``max(MIN_EXPANDED_NODES, EXPANSION_FACTOR x`` its written
  nodes ``)`` nodes ("billion laughs": a few hundred bytes expanding to gigabytes);
* **size**: more than ``max_bytes`` bytes (after decompression of ``.gz``/``.xz``/``.bz2``);
* **binary content** (NUL bytes, not UTF-8) and **more than one document**.

Parsing uses PyYAML's safe loader (the C one when available) on the checked text.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
from pathlib import Path
from typing import Any

from ..errors import InputFileError

#: Default size limit of a YAML file, bytes (a phonopy.yaml with the force constants of
#: a 500-atom supercell is about 100 MB).
MAX_BYTES = 256 * 1024**2
#: Alias expansion: at most max(MIN_EXPANDED_NODES, EXPANSION_FACTOR x written nodes).
MIN_EXPANDED_NODES = 10_000
EXPANSION_FACTOR = 10

_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".lzma": lzma.open, ".bz2": bz2.open}


def _read_bytes(p: Path, max_bytes: int) -> bytes:
    """The (decompressed) bytes of ``p``, at most ``max_bytes``."""
    opener = _OPENERS.get(p.suffix.lower(), open)
    try:
        with opener(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputFileError(f"{p}: file not found; check the path") from None
    except IsADirectoryError:
        raise InputFileError(f"{p}: is a folder; pass the YAML file itself") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{p}: cannot be read ({type(exc).__name__}: {msg})") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{p}: larger than {max_bytes // 1024**2} MiB; refusing to read "
                             "it as YAML (is it the right file?)")
    return data


def _decode(p: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise InputFileError(f"{p}: binary file, not YAML text; pass the .yaml file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{p}: not UTF-8 text (byte {exc.start}); is it a YAML file?"
                             ) from None


def _check_events(p: Path, text: str) -> None:
    """Refuse explicit tags, too many documents and excessive alias expansion."""
    import yaml
    from yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        DocumentStartEvent,
        NodeEvent,
    )

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    anchors: dict[str, int] = {}
    # stack of [expanded size, anchor] of the open collections
    stack: list[list[Any]] = [[0, None]]
    written = expanded = documents = 0

    def limit() -> int:
        return max(MIN_EXPANDED_NODES, EXPANSION_FACTOR * written)

    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise InputFileError(f"{p}: holds more than one YAML document; pass one")
            if not isinstance(event, (NodeEvent, CollectionEndEvent)):
                continue
            line = event.start_mark.line + 1 if event.start_mark else "?"
            if isinstance(event, AliasEvent):
                size = anchors.get(event.anchor, 1)
                stack[-1][0] += size
                expanded += size
            elif isinstance(event, CollectionEndEvent):
                size, anchor = stack.pop()
                stack[-1][0] += size
                if anchor is not None:
                    anchors[anchor] = size
                continue
            else:
                tag = getattr(event, "tag", None)
                if tag is not None:
                    raise InputFileError(
                        f"{p}:{line}: YAML tag {tag!r} refused (tags can make a loader "
                        "build objects or run code); remove it, plain data needs none")
                written += 1
                expanded += 1
                if isinstance(event, CollectionStartEvent):
                    stack.append([1, event.anchor])
                else:
                    stack[-1][0] += 1
                    if event.anchor is not None:
                        anchors[event.anchor] = 1
            if expanded > limit():
                raise InputFileError(
                    f"{p}:{line}: YAML aliases expand this document beyond {limit()} nodes "
                    f"(written: {written}); refusing it (write the data out, no alias bombs)")
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{p}: not readable YAML ({msg})") from None


def validated_yaml_text(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> str:
    """The text of the YAML file ``path`` after every check of this module (decompressed
    when it ends in ``.gz``/``.xz``/``.bz2``); raises :class:`InputFileError`."""
    p = Path(path)
    text = _decode(p, _read_bytes(p, max_bytes))
    _check_events(p, text)
    return text


def load_yaml(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Any:
    """Parse the YAML file ``path`` with the checks of this module; returns plain data
    (dict, list, str, int, float, bool, None, date)."""
    import yaml

    text = validated_yaml_text(path, max_bytes)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(io.StringIO(text), Loader=loader)
    except yaml.YAMLError as exc:  # pragma: no cover - the event pass saw the same text
        msg = " ".join(str(exc).split())
        raise InputFileError(f"{path}: not readable YAML ({msg})") from None
