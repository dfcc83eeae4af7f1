"""ptcheck: re-check the certificates ``ptlimits certify --out DIR`` writes, trusting none of
the code that searched for them.

It imports only the standard library, python-flint (``arb`` balls, exact integer matrices)
and runs ``coqc`` for proof files: never ``core``, ``properties`` or ``verify`` (a test
imports it alone and inspects ``sys.modules``). ``DIR/manifest.json`` lists each file with
its kind, the statement it supports, its SHA-256 and the tool that checks it. Verdicts:

- ``proved``: a proof assistant's kernel (``coqc``) accepted the proof file;
- ``certified``: the statement re-checked here, in exact or ball arithmetic;
- ``refuted``: the file does not match its manifest entry, or the statement is false on its
  own data (the message names the file and the number);
- ``inconclusive``: the tool is missing (``coqc``) or the check ran out of its budget.

Kinds (docs/theory.md §4, "Replayable certificates"):

- ``k1-enclosure``: ``sup_{|x|≤R} |p(x)e^{−x} − 1| ≤ bound`` for exact rational
  coefficients, re-proved by bisection with a second-order Taylor form in arb;
- ``k1-proof``: a Coq file stating the same; its coefficients, ``R`` and bound must be those
  of the named ``k1-enclosure`` file, then ``coqc`` checks it;
- ``universal-cells``: the universality certificate's per-cell errors ``e_ij``; the exact sum
  ``Σ_cells K^{−dL} Σ_ij e_ij^p + dL·bad`` must equal the stated power sum and be ``< ε^p``;
- ``rank``: the integer monomial matrix at the listed points has rank ``C(s+g, g)``;
- ``counting``: the capacity count: with ``M = ⌊C/(2ε)⌋^{dL}`` packing bits and ``K`` levels
  per prompt coordinate, ``L_p`` is the least length with ``K^{d·L_p} ≥ 2^M``.
"""

from __future__ import annotations

from .check import VERDICTS, Result, check_dir, format_results

__all__ = ["VERDICTS", "Result", "check_dir", "format_results"]
