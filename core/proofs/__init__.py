"""Machine-checked proofs (docs/theory.md §4, evidence level ``proved``).

:mod:`.coq` writes Coq statements (K1's sup bounds with exact rational coefficients, the
least prompt length of LB), runs ``coqc`` on them with bounded retries, and caches verdicts
by the SHA-256 of the statement; ``lemmas/*.v`` are the fixed lemma files it checks (the
error lemma, Lagrange's Taylor bound, the capacity count).
"""

from .coq import (
    LEMMAS,
    VERDICTS,
    Goal,
    K1Statement,
    Proof,
    check_lemma,
    coq_rational,
    counting_goal,
    k1_goal,
    lemma_path,
    plan_goal,
    prove,
    read_k1_statement,
)

__all__ = ["LEMMAS", "VERDICTS", "Goal", "K1Statement", "Proof", "check_lemma",
           "coq_rational", "counting_goal", "k1_goal", "lemma_path", "plan_goal", "prove",
           "read_k1_statement"]
