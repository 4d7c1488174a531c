"""The warning and exception classes that wideflow raises beyond the built-in ones."""

from __future__ import annotations


class DivergenceWarning(RuntimeWarning):
    """A training run stopped because its loss or parameters became non-finite (or, for the gradient
    flow, the step size collapsed); the run record says where and the model holds the state named in the
    message. Filter it with ``warnings.simplefilter("ignore", wf.DivergenceWarning)``."""


class InterruptedWarning(RuntimeWarning):
    """A training run stopped early at the user's Ctrl-C (SIGINT); the model holds the state reached and the
    run record (status "interrupted") ends there."""


class IsaWarning(RuntimeWarning):
    """The instruction set asked for in the ``WIDEFLOW_ISA`` environment variable is not honoured (not
    compiled in, or not supported by this CPU); the message says which one runs instead (same bits)."""


class ScheduleError(ValueError):
    """The step-size schedule gave a value that is not positive and finite, or raised, at some step.

    Training stops at the last step completed before it, the model holds that state, and ``exc.run``
    is the record so far (status "failed"); the schedule's own exception, if any, is ``exc.__cause__``.
    """

    def __init__(self, message: str, run=None):
        super().__init__(message)
        self.run = run
