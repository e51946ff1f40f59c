"""Stage 1: raw lines -> header fields and content -> masked content -> template -> key id.

See ``docs/architecture.md``. Modules: ``headers`` (formats), ``reader`` (files and streams,
bad-line accounting), ``masking``, ``drain`` (drain3 wrapper), ``parser`` (``LogParser``),
``vocab`` (key ids -> token ids).
"""

from logbert.parsing.headers import BUILTIN_FORMATS, HeaderParser, line_text_for_sessions
from logbert.parsing.masking import Masker, default_masks
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import LineReader, read_log
from logbert.parsing.vocab import DIST, MASK, N_SPECIAL, PAD, UNK, Vocab

__all__ = [
    "BUILTIN_FORMATS",
    "DIST",
    "MASK",
    "N_SPECIAL",
    "PAD",
    "UNK",
    "HeaderParser",
    "LineReader",
    "LogParser",
    "Masker",
    "Vocab",
    "default_masks",
    "line_text_for_sessions",
    "read_log",
]
