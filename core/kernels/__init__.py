"""Fast attention kernels: the polynomial method and its peers (docs/theory.md §3).

Paper label ``thm:inference_linear``. Build a certified plan, then call the kernel::

    plan = plan_for(KernelRegime(s=8, beta=1/8, B=0.5, delta_F=1e-6))
    out, info = polynomial_attention_with_info(Q, K, V, plan)   # info.bound, info.measured_B

Modules: :mod:`.polynomial` (degree selection), :mod:`.certify` (ball-arithmetic
certificates of ``p`` and ``p′``), :mod:`.features` (exact-rank monomials),
:mod:`.regime` (``R``, ``ε`` from ``δ_F``, the error lemma), :mod:`.plan` (certified
plans), :mod:`.fast_attention` (the kernel), :mod:`.threads` (kernel pieces on Python
threads), :mod:`.peers` (torch SDPA, tiled exact attention ``tiled_exact_attention`` with its memory
model ``tiled_exact_peak_bytes``, KeOps ``keops_attention``/``keops_available``, Performer
FAVOR+), :mod:`.model_forward` (τ with the kernel),
:mod:`.phase` (phase-transition data).
"""

from .certify import Certificate, DerivativeCertificate, certify_derivative, certify_polynomial
from .fast_attention import (
    DEFAULT_CHUNK,
    OUT_OF_REGIME,
    KernelInfo,
    flop_model,
    measured_norm,
    operation_model,
    polynomial_attention,
    polynomial_attention_with_info,
)
from .features import MonomialFeatures, feature_rank, loose_rank
from .model_forward import feed_forward_lipschitz, forward_with_polynomial_attention
from .peers import (
    favor_plus_attention,
    favor_plus_features,
    keops_attention,
    keops_available,
    sdpa_attention,
    tiled_exact_attention,
    tiled_exact_peak_bytes,
)
from .phase import PhaseRow, crossing_ratio, log_rank_over_n, phase_transition_table
from .plan import CertificateLike, Certifier, KernelPlan, plan_for, plan_kernel
from .polynomial import (
    METHODS,
    ExpPolynomial,
    aggarwal_alman_degree,
    candidate_degree,
    exp_polynomial,
    sampled_relative_error,
    taylor_degree,
    taylor_log_remainder,
    taylor_remainder_bound,
)
from .regime import (
    ErrorTarget,
    KernelRegime,
    eps_for_error,
    error_target,
    lemma_bound,
    score_radius,
)

__all__ = [
    "DEFAULT_CHUNK",
    "METHODS",
    "OUT_OF_REGIME",
    "Certificate",
    "CertificateLike",
    "Certifier",
    "DerivativeCertificate",
    "ErrorTarget",
    "ExpPolynomial",
    "KernelInfo",
    "KernelPlan",
    "KernelRegime",
    "MonomialFeatures",
    "PhaseRow",
    "aggarwal_alman_degree",
    "candidate_degree",
    "certify_derivative",
    "certify_polynomial",
    "crossing_ratio",
    "eps_for_error",
    "error_target",
    "exp_polynomial",
    "favor_plus_attention",
    "favor_plus_features",
    "feature_rank",
    "feed_forward_lipschitz",
    "flop_model",
    "forward_with_polynomial_attention",
    "keops_attention",
    "keops_available",
    "lemma_bound",
    "log_rank_over_n",
    "loose_rank",
    "measured_norm",
    "operation_model",
    "phase_transition_table",
    "plan_for",
    "plan_kernel",
    "polynomial_attention",
    "polynomial_attention_with_info",
    "sampled_relative_error",
    "score_radius",
    "sdpa_attention",
    "taylor_degree",
    "taylor_log_remainder",
    "taylor_remainder_bound",
    "tiled_exact_attention",
    "tiled_exact_peak_bytes",
]
