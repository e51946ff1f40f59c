"""Reading small text inputs (label files, key files) with one set of boundary checks."""

from __future__ import annotations

from pathlib import Path

from logbert.files import input_file, open_log, read_bytes, require_text


def read_lines(path: str | Path, *, what: str, max_bytes: int | None = None) -> tuple[list[str], int]:
    """The lines of a text file (newlines stripped) and how many were not valid UTF-8.

    ``max_bytes`` reads only the head of the file (for sniffing); its last, cut line is dropped.

    Undecodable bytes are replaced, never fatal; the count lets callers report them.

    Raises:
        InputDataError: the path is missing, a directory, or the file is empty.
    """
    p = input_file(Path(path), what)
    require_text(p, what)
    with open_log(p) as fh:  # gzip, bzip2 and xz files decompressed
        data = read_bytes(fh, p, -1 if max_bytes is None else max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:
        data = data[: data.rfind(b"\n", 0, max_bytes) + 1] or data[:max_bytes]
    lines: list[str] = []
    n_binary = 0
    for raw in data.splitlines():
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            n_binary += 1
        else:
            if "\x00" in line:
                n_binary += 1
        lines.append(line)
    return lines, n_binary
