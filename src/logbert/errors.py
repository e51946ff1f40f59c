"""Library exceptions. The CLI turns them into exit code 1, the service into 4xx responses."""

from __future__ import annotations


class LogBertError(Exception):
    """Base class of every error logbert raises on purpose."""


class ConfigError(LogBertError, ValueError):
    """A config file or value is wrong."""


class InputDataError(LogBertError, ValueError):
    """An input file is missing, empty, or holds nothing usable."""


class UnknownArtifact(LogBertError):
    """An artifact directory is missing, incomplete, or its pieces do not belong together."""


class NotFittedError(LogBertError):
    """A detector or parser was used before ``fit``."""
