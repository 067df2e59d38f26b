"""Exceptions raised by srgan_sci.

Every exception carries a message that says what is wrong *and* how to fix it, on one
line, so that the command-line interface can print it as ``srsci: error: <message>``.
"""

from __future__ import annotations


class SrsciError(Exception):
    """Base class of every error srgan_sci raises on purpose."""


class InputNotFoundError(SrsciError, FileNotFoundError):
    """An input path does not exist."""


class UnsupportedFormatError(SrsciError, ValueError):
    """The file format is not one srgan_sci reads or writes."""


class InvalidImageError(SrsciError, ValueError):
    """The file holds data that is not a usable image (table, 1-D, empty, non-numeric...)."""


class CorruptFileError(SrsciError, OSError):
    """The file exists but cannot be parsed (truncated, corrupt header...)."""


class OutputExistsError(SrsciError, FileExistsError):
    """An output path exists and ``overwrite`` was not requested."""


class NormalizationError(SrsciError, ValueError):
    """Normalisation statistics cannot be computed or restored."""
