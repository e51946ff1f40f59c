"""Opening a log file: plain, or compressed as rotated logs are (``syslog.2.gz``, ``app.log.xz``).

The compression is told by the file's first bytes, not its name, so a renamed file still reads and a
plain file named ``.gz`` is not mistaken. gzip, bzip2 and xz come with Python; zstd does not, so a
zstd file gets a clear error that says how to read it. Every reader of log files (the line reader
of :mod:`logbert.parsing.reader`, key-sequence files, the input-kind sniffer) opens files here; a
foundation module, so that both ``parsing`` and ``datasets`` may import it.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from pathlib import Path
from typing import BinaryIO, Final, cast

from logbert.errors import InputDataError

#: (first bytes, name) of the compressions Python reads
_COMPRESSED: Final = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_ZSTD: Final = b"\x28\xb5\x2f\xfd"
#: what a damaged compressed stream raises while it is read (gzip: BadGzipFile / zlib.error, bzip2: OSError, a
#: cut file: EOFError); only caught around reads of a decompressing handle, where an OSError means bad data
_DAMAGED: Final = (EOFError, OSError, lzma.LZMAError, zlib.error)


def compression_of(path: Path) -> str | None:
    """``"gzip"``, ``"bzip2"`` or ``"xz"`` when the file starts like one, else None.

    Raises:
        InputDataError: a zstd file (Python cannot read it).
    """
    with path.open("rb") as fh:
        head = fh.read(6)
    if head.startswith(_ZSTD):
        raise InputDataError(f"{path} is zstd-compressed: read it through zstdcat (logbert reads gzip, bzip2, xz)")
    return next((name for magic, name in _COMPRESSED if head.startswith(magic)), None)


def open_log(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip, bzip2 or xz (:func:`compression_of`).

    Raises:
        InputDataError: a zstd file.
    """
    name = compression_of(path)
    if name == "gzip":
        return cast(BinaryIO, gzip.open(path, "rb"))
    if name == "bzip2":
        return cast(BinaryIO, bz2.open(path, "rb"))
    if name == "xz":
        return cast(BinaryIO, lzma.open(path, "rb"))
    return path.open("rb")


def read_bytes(fh: BinaryIO, path: Path, size: int = -1) -> bytes:
    """``fh.read(size)``; for a decompressing handle, damaged data (cut short, corrupt) is an
    :class:`~logbert.errors.InputDataError` that names the file, not a traceback.

    Raises:
        InputDataError: the compressed data of ``path`` is damaged.
    """
    if not isinstance(fh, gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile):
        return fh.read(size)
    try:
        return fh.read(size)
    except _DAMAGED as exc:
        raise InputDataError(f"{path}: the compressed data is damaged, cut short or corrupt ({exc})") from None
