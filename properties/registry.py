"""The registry: every Claim of ptlimits, assembled from the ``claims_*`` modules.

Each ``claims_*`` module exposes ``CLAIMS: tuple[Claim, ...]``. The registry checks that ids
are unique and offers lookup by id and by glob pattern.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from functools import cache

from core.errors import InvalidArgument

from .claim import Claim

__all__ = ["CLAIM_MODULES", "all_claims", "get_claim", "select_claims", "unmatched_glob_message"]

#: Modules contributing claims, in report order.
CLAIM_MODULES: tuple[str, ...] = (
    "properties.claims_model",
    "properties.claims_universal",
    "properties.claims_memorise",
    "properties.claims_capacity",
    "properties.claims_kernel",
    "properties.claims_training",
)


@cache
def all_claims() -> tuple[Claim, ...]:
    """Every registered claim, in report order; ids are checked to be unique."""
    claims: list[Claim] = []
    seen: dict[str, str] = {}
    for module_name in CLAIM_MODULES:
        module = importlib.import_module(module_name)
        for claim in module.CLAIMS:
            if claim.id in seen:
                raise InvalidArgument(
                    f"claim id {claim.id!r} is registered twice ({seen[claim.id]} and "
                    f"{module_name}); ids must be unique")
            seen[claim.id] = module_name
            claims.append(claim)
    return tuple(claims)


def get_claim(claim_id: str) -> Claim:
    """The claim with this id, or :class:`InvalidArgument` listing the known ids."""
    for claim in all_claims():
        if claim.id == claim_id:
            return claim
    known = ", ".join(c.id for c in all_claims())
    raise InvalidArgument(f"claim_id={claim_id!r}: no such claim; known ids: {known}")


def select_claims(pattern: str | None) -> tuple[Claim, ...]:
    """Claims whose id or theory_ref matches the glob ``pattern`` (comma-separated globs).

    ``None`` or ``"*"`` selects all. A pattern that matches nothing is an error.
    """
    if pattern is not None and not isinstance(pattern, str):
        raise InvalidArgument(f"claims={pattern!r}: expected a string of comma-separated "
                              "globs (or None for all)")
    claims = all_claims()
    if pattern is None or pattern.strip() in ("", "*"):
        return claims
    globs = [g.strip() for g in pattern.split(",") if g.strip()]
    chosen = tuple(c for c in claims
                   if any(fnmatch.fnmatchcase(c.id, g) or c.theory_ref == g for g in globs))
    if not chosen:
        raise InvalidArgument(
            f"claims={pattern!r}: {unmatched_glob_message(globs[0] if globs else pattern)}")
    return chosen


def unmatched_glob_message(glob: str) -> str:
    """``glob 'G' matches no claim id or theory_ref; nearest: ...`` (difflib's closest ids)."""
    claims = all_claims()
    names = [c.id for c in claims] + sorted({c.theory_ref for c in claims})
    probe = glob.replace("*", "").replace("?", "") or glob
    near = difflib.get_close_matches(probe, names, n=3, cutoff=0.4)
    if not near:   # a fragment of an id: the ids containing it, or the first few
        near = [n for n in names if probe.lower() in n.lower()][:3] or names[:3]
    return (f"glob {glob!r} matches no claim id or theory_ref; nearest: {', '.join(near)} "
            "(see 'python -m verify claims')")
