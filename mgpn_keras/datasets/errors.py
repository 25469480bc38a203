"""The one exception type of the data package."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data: the message names the file, line or video and what was expected."""
