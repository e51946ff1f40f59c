"""Container runtimes' envelopes around an app's lines (``parser.envelope``), unwrapped before the format reads them.

A container runtime writes every line an app prints inside a line of its own:

- ``cri`` (containerd, CRI-O: the files of ``/var/log/pods``, what ``kubectl logs`` reads):
  ``2026-12-02T04:03:49.123456789Z stdout F <message>``; a line longer than the runtime's limit (16 KiB) is
  written as ``P`` (partial) pieces, then one ``F`` (full) piece, on the same stream.
- ``docker`` (Docker's json-file driver): ``{"log": "<message>\\n", "stream": "stdout", "time": "..."}``; a long
  line is written as pieces whose ``"log"`` does not end in ``"\\n"``, the last one does.

:func:`unwrap` reads one such line into a :class:`Piece`; :class:`~logbert.parsing.reader.LineReader` joins the
pieces of a split line and hands the message to the configured format, as it would a plain line. Pure functions
here: what is joined, and when, is the reader's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from logbert.config import EnvelopeName

# CRI's log line: an RFC 3339 time, the stream, the tags (P or F, then any others after ":", which the spec allows
# for later use), one space and the message (empty for an empty line, when the runtime may drop the space too)
_CRI_LINE: Final[re.Pattern[str]] = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\S+) (stdout|stderr) ([PF])(?::\S*)?(?: (.*))?", re.DOTALL
)


@dataclass(frozen=True, slots=True)
class Piece:
    """One envelope line: the app's text it holds, the runtime's time (as written), the stream, and whether more
    pieces of the same app line follow (CRI ``P``, a docker ``"log"`` without its ``"\\n"``)."""

    message: str
    time: str
    stream: str
    partial: bool


def unwrap(envelope: EnvelopeName, line: str) -> Piece | None:
    """The piece a line of ``envelope`` holds; None when the line is not in the envelope's shape (malformed).

    >>> unwrap("cri", "2026-12-02T04:03:49.123456789Z stdout F level=info msg=ok")
    Piece(message='level=info msg=ok', time='2026-12-02T04:03:49.123456789Z', stream='stdout', partial=False)
    >>> unwrap("cri", "2026-12-02T04:03:49Z stderr P first half").partial, unwrap("cri", "level=info msg=ok")
    (True, None)
    >>> unwrap("docker", '{"log":"a long li","stream":"stderr","time":"2026-12-02T04:03:49Z"}')
    Piece(message='a long li', time='2026-12-02T04:03:49Z', stream='stderr', partial=True)
    """
    if envelope == "cri":
        m = _CRI_LINE.fullmatch(line)
        if m is None:
            return None
        return Piece(m.group(4) or "", m.group(1), m.group(2), m.group(3) == "P")
    if envelope == "docker":
        return _docker_piece(line)
    return Piece(line, "", "", False)


def _docker_piece(line: str) -> Piece | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except ValueError:  # not JSON, or cut short
        return None
    if not isinstance(obj, dict) or not isinstance(log := obj.get("log"), str):
        return None
    stream, time = obj.get("stream"), obj.get("time")
    whole = log.endswith("\n")
    message = log[:-1] if whole else log
    return Piece(message, time if isinstance(time, str) else "", stream if isinstance(stream, str) else "", not whole)


def wrap(envelope: EnvelopeName, message: str, time: str, stream: str) -> str:
    """One whole (not partial) envelope line of ``message``: what :func:`unwrap` reads back to the same piece. A
    line joined from pieces, or cut at ``parser.max_line_chars``, is kept this way (``ParsedLine.raw``), so that the
    streaming engine and the signals read it again as they read it first.

    >>> wrap("cri", "level=info msg=ok", "2026-12-02T04:03:49Z", "stdout")
    '2026-12-02T04:03:49Z stdout F level=info msg=ok'
    >>> unwrap("docker", wrap("docker", 'say "hi"', "2026-12-02T04:03:49Z", "stdout")).message
    'say "hi"'
    """
    if envelope == "cri":
        return f"{time} {stream} F {message}"
    if envelope == "docker":
        return json.dumps({"log": message + "\n", "stream": stream, "time": time}, ensure_ascii=False)
    return message


def looks_wrapped(envelope: EnvelopeName, texts: list[str]) -> bool:
    """Whether at least half of ``texts`` (lines as read, at least 1) are lines of ``envelope``: what ``parse`` and
    ``train`` suggest ``parser.envelope`` on."""
    return bool(texts) and sum(1 for text in texts if unwrap(envelope, text) is not None) >= 0.5 * len(texts)
