"""The one exception the trainer raises for problems a person can fix.

The CLI turns it into a one-line message and exit code 2 (DESIGN.md §4: usage or environment
error); everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TrainError(RuntimeError):
    """A problem with the input, the model, the options or the machine; the message says how to fix it."""


class MethodNotApplicable(TrainError):
    """The chosen method cannot apply to this model or machine (raised before any training work)."""
