"""The project's own error types.

Every failure caused by user input (a bad file, a bad option, a training run that diverged) is raised as
an ``HDLError``. The command-line entry points catch it and print one line, ``error: <message>``, then
exit non-zero without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class HDLError(Exception):
    """Base class of every error the project raises on purpose."""


class DataError(HDLError):
    """A data file, folder or array is missing, unreadable or invalid."""


class OptionError(HDLError):
    """A command-line option has an invalid value or combination."""


class TrainingError(HDLError):
    """Training cannot continue (for example a non-finite loss)."""


class CheckpointError(HDLError):
    """A checkpoint is missing, unreadable or does not match the model."""
