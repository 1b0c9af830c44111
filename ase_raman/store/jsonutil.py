"""The one JSON helper of the store: canonical JSON of metadata, numpy-aware."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def json_default(obj: Any, lenient: bool = False) -> Any:
    """``default=`` of :func:`json.dumps` for numpy values: scalars become Python numbers,
    arrays lists. Anything else becomes ``str(obj)`` when ``lenient`` (store metadata
    never fails to serialise), else a TypeError."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if lenient:
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def _canonical_json(meta: dict[str, Any] | None) -> str:
    return json.dumps(meta or {}, sort_keys=True,
                      default=lambda obj: json_default(obj, lenient=True))
