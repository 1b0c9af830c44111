"""Write output files atomically: never leave a half-written file behind.

Usage::

    with atomic_output("spectrum.csv") as tmp:
        write_something(tmp)      # writes to a temporary name in the same folder
    # renamed onto "spectrum.csv" only if the block finished without an exception
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps the final suffix (or ``suffix`` when given) so writers that
    pick a format from the file name (ASE, matplotlib) still work. On any exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target}: is a folder; give a file name to write")
    ext = suffix if suffix is not None else "".join(target.suffixes[-1:])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{ext}",
                                        dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise UsageError(f"{target}: cannot write there ({exc.strerror or exc}); choose a "
                         "writable path") from None
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; follow the umask like open()
        yield tmp
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise UsageError(f"{target}: cannot write there ({exc.strerror or exc}); choose a "
                             "writable path") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_table_csv(path: str | os.PathLike, comment: str, columns: Sequence[str],
                    rows: Iterable[Mapping[str, Any]], cell: Callable[[Any], str]) -> None:
    """Write a results table atomically: one ``# comment`` line, the column names, then
    ``cell(row.get(column))`` for every column of every row (missing keys give None)."""
    import csv

    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        fh.write(f"# {comment}\n")
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(c)) for c in columns])
