"""ptlimits properties: the Claim record, strategies, profiles and the claim registry."""

from .claim import EVIDENCE_LEVELS, THEORY_REFS, Claim, KnownFailure, Outcome, instance_to_json
from .profiles import PROFILE_NAMES, active_profile_name, load_profile
from .registry import CLAIM_MODULES, all_claims, get_claim, select_claims

__all__ = [
    "CLAIM_MODULES",
    "EVIDENCE_LEVELS",
    "PROFILE_NAMES",
    "THEORY_REFS",
    "Claim",
    "KnownFailure",
    "Outcome",
    "active_profile_name",
    "all_claims",
    "get_claim",
    "instance_to_json",
    "load_profile",
    "select_claims",
]
