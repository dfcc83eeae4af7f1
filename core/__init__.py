"""ptlimits core: the mathematics (model, attention, kernels, constructions, bounds).

``core`` imports no test framework and nothing from ``properties`` or ``verify``.
"""

from .attention import DEFAULT_QUERY_CHUNK, exact_attention, softmax_columns
from .errors import (
    ClaimViolation,
    ConstructionTooLarge,
    HarnessError,
    InvalidArgument,
    NonFiniteError,
)
from .model import PromptTunedTransformer, feed_forward
from .mp_twin import mp_attention, mp_forward, to_float64, to_mp
from .weights import FeedForwardWeights, TransformerWeights

__all__ = [
    "DEFAULT_QUERY_CHUNK",
    "ClaimViolation",
    "ConstructionTooLarge",
    "FeedForwardWeights",
    "HarnessError",
    "InvalidArgument",
    "NonFiniteError",
    "PromptTunedTransformer",
    "TransformerWeights",
    "exact_attention",
    "feed_forward",
    "mp_attention",
    "mp_forward",
    "softmax_columns",
    "to_float64",
    "to_mp",
]
