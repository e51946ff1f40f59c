"""Opening a log file: plain, or compressed as rotated logs are (``syslog.2.gz``, ``app.log.xz``), in UTF-8 or UTF-16.

The compression is told by the file's first bytes, not its name, so a renamed file still reads and a
plain file named ``.gz`` is not mistaken. gzip, bzip2 and xz come with Python; zstd does not, so a
zstd file gets a clear error that says how to read it. Every reader of log files (the line reader
of :mod:`logbert.parsing.reader`, key-sequence files, the input-kind sniffer) opens files here; a
foundation module, so that both ``parsing`` and ``datasets`` may import it. The checks of a path given to be read
live here too, one each: a file to read (:func:`input_file`), one that is not empty (:func:`require_text`), an
artifact directory (:func:`artifact_dir`); and of a folder to write in (:func:`writable_dir`). Artifact and checkpoint
files are written by :func:`write_file`, which names the file in its errors.

Text is UTF-8. A byte-order mark at the start says otherwise: UTF-16 (what Windows PowerShell 5's ``>`` and
``Out-File`` write, and many Windows tools export) and UTF-32 are re-encoded as UTF-8 while they are read, and a
UTF-8 mark (Notepad's "UTF-8 with BOM") is dropped, so that the first line reads as the others do. Before, every line of
a UTF-16 log was counted as binary and its templates were mined from the NUL bytes between the letters.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import shlex
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO, Final, Protocol, cast

from logbert.errors import InputDataError, UnknownArtifact

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


#: (byte-order mark, codec) of the encodings read by re-encoding; UTF-32's marks first, as UTF-16's starts them
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def marked_encoding(head: bytes) -> str | None:
    """The codec a text's first bytes name by a UTF-16 or UTF-32 byte-order mark (``"utf-16"``, ``"utf-32"``), else
    None (UTF-8, with or without its own mark).

    >>> marked_encoding("x".encode("utf-16")), marked_encoding("x".encode("utf-32")), marked_encoding(b"x")
    ('utf-16', 'utf-32', None)
    """
    return next((codec for bom, codec in _BOMS if head.startswith(bom)), None)


class _Peekable(Protocol):  # what every handle open_log makes has: BufferedReader, GzipFile, BZ2File, LZMAFile
    def peek(self, size: int = ..., /) -> bytes: ...


def open_log(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it is gzip, bzip2 or xz (:func:`compression_of`), as UTF-8: a UTF-16 or
    UTF-32 file (told by its byte-order mark) re-encoded while it is read, a UTF-8 byte-order mark dropped.

    Raises:
        InputDataError: a zstd file.
    """
    name = compression_of(path)
    if name == "gzip":
        fh = cast(BinaryIO, gzip.open(path, "rb"))
    elif name == "bzip2":
        fh = cast(BinaryIO, bz2.open(path, "rb"))
    elif name == "xz":
        fh = cast(BinaryIO, lzma.open(path, "rb"))
    else:
        fh = path.open("rb")
    try:
        head = cast(_Peekable, fh).peek(4)[:4]
    except _DAMAGED as exc:
        fh.close()
        raise InputDataError(f"{path}: the compressed data is damaged, cut short or corrupt ({exc})") from None
    codec = marked_encoding(head)
    if codec is not None:  # the codec reads the mark and its byte order; a bad sequence becomes U+FFFD
        return cast(BinaryIO, codecs.EncodedFile(fh, "utf-8", codec, errors="replace"))
    if head.startswith(codecs.BOM_UTF8):
        fh.read(len(codecs.BOM_UTF8))
    return fh


def read_bytes(fh: BinaryIO, path: Path, size: int = -1) -> bytes:
    """``fh.read(size)``; for a decompressing handle, damaged data (cut short, corrupt) is an
    :class:`~logbert.errors.InputDataError` that names the file, not a traceback.

    Raises:
        InputDataError: the compressed data of ``path`` is damaged.
    """
    if not isinstance(fh, gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile | codecs.StreamRecoder):
        return fh.read(size)
    try:
        return fh.read(size)
    except _DAMAGED as exc:
        raise InputDataError(f"{path}: the compressed data is damaged, cut short or corrupt ({exc})") from None


#: inputs that may be a log, whose directory gets :data:`FOLDER_OF_LOGS` said
LOG_INPUTS = frozenset({"input file", "log file"})
#: What to do with a folder of logs, one file per build, job or pod (a CI system's, Airflow's task logs): one file
#: with each line's file name in front, read as a header field and as the session id (README, "A folder of logs")
FOLDER_OF_LOGS = (
    "; for a folder of logs, one file per build, job or pod, join them with each file's name in front of its lines, "
    "e.g. awk '{{print FILENAME, $0}}' {folder}/*.log > all.log, then read the name as a header field and the "
    "session id: --set 'parser.log_format=<File> ...' (the rest of your lines' layout) --set "
    "'window.session_pattern=File=(\\S+)'"
)


def input_file(path: Path, what: str) -> Path:
    """``path``, when it names a file to read: the one check, and the one wording, of every input path (a log, a
    key-sequence, label or config file; ``parse``, ``train``, ``score`` and ``tail`` alike). Before, ``score`` said
    "input file not found" of a directory that exists.

    >>> input_file(Path("/"), "label file")
    Traceback (most recent call last):
    ...
    logbert.errors.InputDataError: expected a label file, got a directory: /

    Raises:
        InputDataError: nothing is there, or a directory is.
    """
    if path.is_dir():
        message = f"expected {'an' if what[0] in 'aeiou' else 'a'} {what}, got a directory: {path}"
        if what in LOG_INPUTS:
            message += FOLDER_OF_LOGS.format(folder=shlex.quote(str(path)))
        raise InputDataError(message)
    if not path.exists():
        raise InputDataError(f"{what} not found: {path}")
    return path


def not_text_hint(n_binary: int, n_lines: int) -> str:
    """What to say when most of ``n_lines`` lines are not text (``n_binary`` held invalid UTF-8 or control bytes: a
    compressed or binary file read as a log), else ''. One wording for every reader: a file's report
    (``parsing.reader.binary_hint``) and ``tail``'s counts, where standard input cannot be sniffed for compression.

    >>> not_text_hint(20, 20)[:52]
    '20 of 20 lines hold bytes that are not text (invalid'
    >>> not_text_hint(1, 20)
    ''
    """
    if not n_lines or n_binary < 0.5 * n_lines:
        return ""
    return (
        f"{n_binary} of {n_lines} lines hold bytes that are not text (invalid UTF-8 or control "
        "characters): this does not look like a text log (compressed? read it through zcat / zstdcat first; UTF-16 "
        "without a byte-order mark? convert it with iconv -f UTF-16LE -t UTF-8)"
    )


#: What every command says of standard input that ended with nothing but blank lines (``score -``, ``tail -``).
EMPTY_STDIN = "standard input is empty: it ended with no line but blank ones"


def require_text(path: Path, what: str) -> None:
    """The one rule of an empty input (``train``, ``score`` and ``parse`` alike): nothing but whitespace once
    decompressed. Reads until the first other byte: the file's first block, for any log.

    Raises:
        InputDataError: the file is empty (or a zstd file, or damaged compressed data).
    """
    with open_log(path) as fh:
        while block := read_bytes(fh, path, 1 << 16):
            if block.strip():
                return
    raise InputDataError(f"{what} is empty: {path}")


def artifact_dir(directory: str | Path) -> Path:
    """``directory`` as a path, when a directory is there: the one check of every command given an artifact (here, not
    in :mod:`logbert.artifact`, which loads torch: ``serve`` checks it before anything is made).

    Raises:
        UnknownArtifact: nothing is there, or a file is (``logbert score LOG LOG`` said "not found" of the log).
    """
    root = Path(directory)
    if root.is_file():
        raise UnknownArtifact(f"{root} is a file, not an artifact directory (the folder `logbert train -o` writes)")
    if not root.is_dir():
        raise UnknownArtifact(f"artifact directory not found: {root}")
    return root


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable (POSIX; a no-op where a folder cannot be opened, as on
    Windows): the one rule of the artifact's saves and the journal's segments and checkpoints."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk: the one writer of artifact and checkpoint files.

    The file's mode follows the umask, as every file Python writes does (safetensors' own ``save_file`` made the
    weights 0600, so that a service account could not read an artifact another user trained). An error names
    the file: a full disk raised "No space left on device" without saying where.

    Raises:
        OSError: the file cannot be written (its ``filename`` is ``path``).
    """
    try:
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # a crash after a rename must not leave a renamed empty file
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None


def writable_dir(path: Path, option: str) -> None:
    """Check that files can be made in the folder ``path`` (made when missing) before a long run writes there:
    ``train -o`` on a read-only folder failed only after its first epoch.

    Raises:
        InputDataError: the folder cannot be made, or nothing can be written in it (names ``option``).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".logbert-write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputDataError(
            f"cannot write to {path}: {exc.strerror or exc}; choose another folder for {option}"
        ) from None
