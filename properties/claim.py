"""The Claim record: one checkable statement of docs/theory.md (learned from PyTorch's OpInfo).

Generic code iterates over the registry of claims: pytest templates, the audit and the
regression runner. Adding a theorem means adding a record, not a test file.

A claim measures one *instance* at a time. An instance is a frozen dataclass of JSON-able
parameters (ints, floats, strings, tuples of those); large arrays are built inside
``measure`` from a seed the instance carries, so every instance can be printed and replayed
with ``python -m verify reproduce ID 'JSON'``. ``measure`` returns an :class:`Outcome`:
the claim holds on the instance iff ``outcome.error <= outcome.bound``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from core.errors import ClaimViolation, InvalidArgument

__all__ = [
    "EVIDENCE_LEVELS",
    "THEORY_REFS",
    "Claim",
    "KnownFailure",
    "Outcome",
    "instance_to_json",
]

#: Evidence levels, weakest first (docs/theory.md §4). ``proved``: a proof assistant's kernel
#: (coqc) checked the statement the claim reports (core/proofs).
EVIDENCE_LEVELS: tuple[str, ...] = ("sampled", "oracle", "exhaustive", "certified", "proved")

#: docs/theory.md headings a claim may check; ``MODEL`` is §1.
THEORY_REFS: tuple[str, ...] = (
    "MODEL", "U", "CM", "M", "LB", "T", "K1", "K2", "K3", "K4", "K5", "K6", "K7")

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Outcome:
    """What one measurement found.

    Attributes:
        error: the measured quantity (an error, a separation deficit, ...); ``>= 0``.
        bound: the claim holds on this instance iff ``error <= bound``.
        detail: JSON-able numbers for the report (max abs/rel error, worst index, ...).
        evidence: the level this measurement reached when it is below the claim's declared
            one (``None``: the declared level), e.g. ``"certified"`` for a K1 instance whose
            proof did not run; ``evidence_note`` says why (never silently lower).
        evidence_note: why ``evidence`` is below the declared level.
    """

    error: float
    bound: float
    detail: Mapping[str, Any] = field(default_factory=dict)
    evidence: str | None = None
    evidence_note: str = ""

    def __post_init__(self) -> None:
        if self.evidence is not None and self.evidence not in EVIDENCE_LEVELS:
            raise InvalidArgument(f"evidence={self.evidence!r}: expected one of "
                                  f"{EVIDENCE_LEVELS} or None")
        if self.evidence is not None and not self.evidence_note.strip():
            raise InvalidArgument(f"evidence={self.evidence!r} without an evidence_note: say "
                                  "why this measurement is below the claim's level")

    @property
    def holds(self) -> bool:
        """True iff the measured error is finite and within the bound."""
        return math.isfinite(self.error) and self.error <= self.bound

    @property
    def ratio(self) -> float:
        """``error / bound`` (``inf`` for a non-finite error or a zero bound with error)."""
        if not math.isfinite(self.error):
            return math.inf
        if self.bound == 0:
            return 0.0 if self.error == 0 else math.inf
        return self.error / self.bound


@dataclass(frozen=True)
class KnownFailure:
    """A scoped expected failure: ``applies(instance)`` marks instances that may fail.

    Each carries a reason that the report prints. An instance it covers that *passes* is
    reported too (the known failure may be stale).
    """

    reason: str
    applies: Callable[[Any], bool]


def instance_to_json(instance: object) -> str:
    """Compact JSON of a dataclass instance's fields (the reproduction payload)."""
    return json.dumps(dataclasses.asdict(instance), sort_keys=True)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Claim:
    """One checkable statement.

    Attributes:
        id: snake_case identifier; the pytest id and the report key.
        theory_ref: the docs/theory.md heading it checks (one of :data:`THEORY_REFS`).
        paper_ref: the paper label it mirrors (e.g. ``thm:inference_linear``) or
            ``"§1 (model definition)"`` for definitions.
        statement: one sentence saying what holds.
        evidence: strongest level this claim reaches (:data:`EVIDENCE_LEVELS`).
        instance_type: the frozen dataclass of the instances it measures.
        strategy: zero-argument factory of a Hypothesis strategy of instances
            (lazy, so importing the registry builds no strategies).
        reference_points: zero-argument factory of deterministic instances with edge
            cases, run by every audit and by the test tier.
        measure: ``instance -> Outcome``.
        bound_source: where the bound or tolerance comes from (formula or dtype table).
        known: scoped expected failures.
        conditional: if set, the claim cannot be tested (e.g. it rests on SETH); the
            string says why, and the claim is reported as ``skip`` with that reason.
        draws: relative Hypothesis budget (1.0 = the profile's ``max_examples``).
    """

    id: str
    theory_ref: str
    paper_ref: str
    statement: str
    evidence: str
    instance_type: type
    strategy: Callable[[], st.SearchStrategy[Any]]
    reference_points: Callable[[], Sequence[Any]]
    measure: Callable[[Any], Outcome]
    bound_source: str
    known: tuple[KnownFailure, ...] = ()
    conditional: str | None = None
    draws: float = 1.0

    def __post_init__(self) -> None:
        def refuse(what: str) -> None:
            raise InvalidArgument(f"Claim {self.id!r}: {what}")

        if not isinstance(self.id, str) or not _ID_RE.match(self.id):
            refuse("id must be snake_case ([a-z][a-z0-9_]*)")
        if self.theory_ref not in THEORY_REFS:
            refuse(f"theory_ref={self.theory_ref!r}: expected one of {THEORY_REFS}")
        if self.evidence not in EVIDENCE_LEVELS:
            refuse(f"evidence={self.evidence!r}: expected one of {EVIDENCE_LEVELS}")
        if not self.paper_ref.strip():
            refuse("paper_ref is empty: name the paper label the claim mirrors")
        text = self.statement.strip()
        if not text or not text.endswith(".") or text.count(". ") > 0:
            refuse("statement must be one sentence ending with a period")
        if not self.bound_source.strip():
            refuse("bound_source is empty: say which formula or dtype table gives the bound")
        if not (dataclasses.is_dataclass(self.instance_type)
                and self.instance_type.__dataclass_params__.frozen):  # type: ignore[attr-defined]
            refuse("instance_type must be a frozen dataclass")
        if not self.draws > 0:
            refuse(f"draws={self.draws!r} must be > 0")
        for name in ("strategy", "reference_points", "measure"):
            if not callable(getattr(self, name)):
                refuse(f"{name} must be callable")

    # --- helpers used by the test templates and the audit -----------------------------

    def instance_from_json(self, payload: str | Mapping[str, Any]) -> Any:
        """Rebuild an instance from :func:`instance_to_json` output (lists become tuples)."""
        data = json.loads(payload) if isinstance(payload, str) else dict(payload)
        names = {f.name for f in dataclasses.fields(self.instance_type)}
        unknown = set(data) - names
        if unknown:
            raise InvalidArgument(
                f"instance for {self.id!r} has unknown fields {sorted(unknown)}; "
                f"allowed: {sorted(names)}")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return self.instance_type(**fixed)

    def reproduction(self, instance: object) -> str:
        """A copy-paste shell line that re-measures ``instance``."""
        return f"python -m verify reproduce {self.id} '{instance_to_json(instance)}'"

    def expected_to_fail(self, instance: object) -> KnownFailure | None:
        """The known failure covering ``instance``, if any."""
        return next((k for k in self.known if k.applies(instance)), None)

    def evidence_of(self, outcomes: Sequence[Outcome]) -> tuple[str, str | None]:
        """The evidence a run reached, and why it is below :attr:`evidence` (else ``None``).

        The weakest of the declared level and each outcome's ``evidence``; an outcome may
        lower the level (a proof that did not run), never raise it.
        """
        rank = EVIDENCE_LEVELS.index
        level, notes = self.evidence, set()
        for o in outcomes:
            if o.evidence is None:
                continue
            if rank(o.evidence) > rank(self.evidence):
                raise InvalidArgument(
                    f"Claim {self.id!r}: an outcome reports evidence={o.evidence!r} above "
                    f"the declared {self.evidence!r}")
            if rank(o.evidence) < rank(self.evidence):
                notes.add(o.evidence_note)
                level = min(level, o.evidence, key=rank)
        return level, ("; ".join(sorted(notes)) if notes else None)

    def check(self, instance: object) -> Outcome:
        """Measure ``instance`` and raise :class:`ClaimViolation` if the claim fails on it.

        Instances covered by a known failure are measured but not asserted.
        """
        outcome = self.measure(instance)
        if not outcome.holds and self.expected_to_fail(instance) is None:
            raise ClaimViolation(self.failure_message(instance, outcome))
        return outcome

    def failure_message(self, instance: object, outcome: Outcome) -> str:
        """The table printed when the claim fails on ``instance``."""
        lines = [
            f"claim {self.id} ({self.theory_ref}, {self.paper_ref}) failed:",
            f"  statement : {self.statement}",
            f"  error     : {outcome.error!r}",
            f"  bound     : {outcome.bound!r}   ({self.bound_source})",
        ]
        lines += [f"  {k:<10}: {v!r}" for k, v in outcome.detail.items()]
        lines += [f"  instance  : {instance!r}", f"  reproduce : {self.reproduction(instance)}"]
        return "\n".join(lines)
