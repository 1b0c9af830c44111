"""One exception family for every user-facing mistake.

The command line catches :class:`AseRamanError` and prints its message as a single line
(``ase-raman: error: ...``) with exit status 2; anything else is a bug and keeps its
traceback. Messages say *what* went wrong, *where* (file, frame, key) and *what to do*.
"""

from __future__ import annotations


class AseRamanError(Exception):
    """Base class of all errors caused by user input or the environment."""


class InputFileError(AseRamanError):
    """A file cannot be read: missing, truncated, malformed or lacking a needed block."""


class MissingDataError(InputFileError):
    """A file was read but lacks a quantity we need (e.g. no dielectric tensor)."""


class TensorError(AseRamanError):
    """A tensor has the wrong shape, is far from symmetric, or carries an unknown unit."""


class ModelFileError(AseRamanError):
    """A model file is unreadable, unsafe (pickled objects) or from an unknown learner."""


class UnknownLearnerError(ModelFileError):
    """No installed plugin provides the requested learner."""


class ModelSpeciesError(AseRamanError):
    """A structure contains chemical species the model was not trained on."""


class UsageError(AseRamanError):
    """Inconsistent or invalid options (bad ranges, missing required values)."""
