"""The optional dependency check: dask + distributed, with a one-line error."""

from __future__ import annotations

from ..errors import UsageError

INSTALL_HINT = "pip install ase-raman[dask]"


class DaskMissingError(UsageError):
    """``--scheduler`` (or the Dask API) was used but dask/distributed are not installed."""


def require_dask() -> None:
    """Import-check dask and distributed; raise :class:`DaskMissingError` without them."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DaskMissingError(
            f"a Dask scheduler needs dask and distributed ({exc.name} is not installed): "
            f"{INSTALL_HINT}"
        ) from None
