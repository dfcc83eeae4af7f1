"""The one error family of ptlimits (docs/design.md, "One error family").

Every error the harness raises on purpose derives from :class:`HarnessError`, so a caller
can catch all of them at once; each also derives from the built-in exception a Python user
would expect (``ValueError`` for bad arguments, ``AssertionError`` for a failed claim).
"""

from __future__ import annotations

__all__ = [
    "AssumptionViolation",
    "ClaimViolation",
    "ConstructionTooLarge",
    "HarnessError",
    "InvalidArgument",
    "NonFiniteError",
]


class HarnessError(Exception):
    """Base class of every error ptlimits raises deliberately."""


class InvalidArgument(HarnessError, ValueError):
    """A public function received an argument outside what it accepts.

    The message names the argument, its value (``name=value!r``) and what is allowed.
    """


class NonFiniteError(InvalidArgument):
    """NaN or infinity appeared in an input (or in an intermediate step, which is named)."""


class ClaimViolation(HarnessError, AssertionError):
    """A checked claim failed: the measured quantity exceeded its bound."""


class AssumptionViolation(ClaimViolation):
    """A declared assumption about a user's object is contradicted by what was evaluated.

    E.g. a target's declared Lipschitz constant ``C`` on a pair of points it was evaluated
    at, or a value outside ``[0, 1]``; the message names the points.
    """


class ConstructionTooLarge(InvalidArgument):
    """A construction would not fit in memory or time.

    Raised before anything is allocated; carries the computed size and the nearest size
    that fits so the caller can retry.
    """

    def __init__(self, message: str, *, required: int, limit: int, nearest: object = None):
        super().__init__(message)
        self.required = required
        self.limit = limit
        self.nearest = nearest
