"""Library exceptions. The CLI turns them into exit code 1, the service into 4xx responses."""

from __future__ import annotations


class LogBertError(Exception):
    """Base class of every error logbert raises on purpose."""


class ConfigError(LogBertError, ValueError):
    """A config file or value is wrong."""


class InputDataError(LogBertError, ValueError):
    """An input file is missing, empty, or holds nothing usable."""


class NoSessionIds(InputDataError):
    """No line of a raw log names a session id by the session pattern in use. ``pattern`` is that pattern;
    ``clues`` what the log's lines hold instead (a pattern that reads their ids, a hint on the header format)."""

    def __init__(self, message: str, *, path: str, pattern: str, clues: str = "") -> None:
        super().__init__(message)
        self.path, self.pattern, self.clues = path, pattern, clues


class UnknownArtifact(LogBertError):
    """An artifact directory is missing, incomplete, or its pieces do not belong together."""


class NotFittedError(LogBertError):
    """A detector or parser was used before ``fit``."""
