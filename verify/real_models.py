"""Regime audit of a real Hugging Face model, optionally with a PEFT soft prompt.

docs/theory.md §3 (paper labels ``thm:inference_linear`` and ``thm:forward_efficiency_threshold``):
the polynomial-method kernel is almost linear when the soft-prompt-induced queries and keys
stay below about ``√log n`` in max norm. :func:`audit_model` answers that question for a
``transformers`` model in a local folder, on one input, for every layer and head:

    ‖Q_h‖_max, ‖K_h‖_max      max |entry| of head h's queries (n, s) and keys (n, s),
                              exactly as attention receives them (after positional
                              encodings, rotary embeddings, layer norms);
    B = max(‖Q_h‖_max, ‖K_h‖_max)               core.kernels.measured_norm (core.regime);
    R = β·s·B² (rounded up)                     core.kernels.score_radius: every score
                                                β·q·k of the head lies in [−R, R];
    n = L_p + L, B/√ln n                         the phase-transition coordinate;
    ε = 4δ_F/(4 + δ_F²)                          core.kernels.eps_for_error(δ_F, 1): δ_F
                                                in units of ‖V_h‖_max, as in
                                                core.kernels.phase;
    (all four through one core.kernels.KernelRegime per head)
    degree g, rank C(s+g, g)                     core.kernels.plan_for: the minimal
                                                certified Chebyshev degree the repo's
                                                kernel would use at (s, B, β, ε).

The kernel *applies* to a head when a certified plan exists (float64 can evaluate it:
``plan_kernel`` refuses radii where monomial sums cancel more than ``ε/8``) and its rank is
below ``n`` (the kernel's ``O(n·r·s)`` then beats exact attention's ``O(n²·s)``: the
"rank = n" line of the K6 phase-transition figure). Because ``s``, ``β`` and ``n`` are
shared by a model's heads, the verdict is ``B/√ln n < c*`` with one threshold ``c*`` per
model (:func:`threshold_ratio`, found by bisection over the same decision).

How the model is observed: a function registered under :data:`PROBE` with transformers'
public ``AttentionInterface`` (and ``AttentionMaskInterface``) receives every attention
call's ``query``, ``key``, ``value`` and ``scaling`` (β), records them, and delegates to
transformers' own SDPA implementation, so the forward pass is the model's own. Any model
whose attention dispatches through ``AttentionInterface`` works (BERT, GPT-2, Llama-style
models with rotary embeddings applied before the call, ...); a model that never calls it
is refused. The soft prompt is PEFT's own (``PeftModel.from_pretrained(...).get_prompt``),
prepended to the input embeddings as every PEFT prompt-tuning forward does.

Encoder–decoder models (BART, T5, ...): the soft prompt enters the encoder (PEFT's
``SEQ_2_SEQ_LM`` forward and ``generate`` prepend the first ``num_virtual_tokens`` prompt rows
to the encoder input and give the decoder none), and the audited heads are the encoder's
self-attention over ``[prompt; input]``, the ``n × n`` attention of the theorem. The model runs
with one decoder token (its ``decoder_start_token_id``, the first step of any generation); the
decoder's calls (self-attention over its own tokens, cross-attention with decoder queries) are
counted under ``not_audited``. A head whose scores carry an additive position bias (T5's
relative attention) is reported as not applicable: the kernel approximates ``exp(β·q·k)``
alone, and ``exp`` of a bias is no low-rank factor.

``transformers`` and ``peft`` are the optional extra ``hf``; ``core`` never imports them.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.errors import HarnessError, InvalidArgument
from core.kernels import (
    KernelRegime,
    error_target,
    feature_rank,
    measured_norm,
    plan_for,
    taylor_degree,
)

__all__ = ["PROBE", "AttentionCall", "audit_model", "kernel_decision", "read_input_ids",
           "threshold_ratio"]

PAPER_REF = "thm:inference_linear"

#: Name under which the recording attention function is registered with transformers.
PROBE = "ptlimits_probe"

#: Polynomial family of the plans (the kernel's default).
METHOD = "chebyshev"

_INSTALL = "pip install -e '.[hf]'"

DEFINITIONS = {
    "Q_max, K_max": "max |entry| of one head's queries / keys as the attention function "
                    "receives them (n tokens x s dims; after positions and rotary)",
    "B": "max(Q_max, K_max) (core.kernels.measured_norm, the core.regime convention)",
    "R": "beta*s*B^2 rounded up (core.kernels.score_radius): every score beta*q.k of the "
         "head lies in [-R, R]; max_score is the largest |beta*q.k| actually seen",
    "n": "L_p + L: soft-prompt tokens plus input tokens (the key length)",
    "ratio": "B / sqrt(ln n)",
    "eps": "delta_F / (2 + delta_F) (core.kernels.eps_for_error with ||V||_max = 1): "
           "delta_F is in units of the head's ||V||_max",
    "degree, rank": "minimal certified Chebyshev degree g of core.kernels.plan_kernel at "
                    "(s, B, beta, eps); rank C(s+g, g)",
    "applies": "a certified float64 plan exists and rank < n (fast cost n*r*s below exact "
               "n^2*s)",
    "threshold_ratio": "c*: the kernel applies to a head iff B/sqrt(ln n) < c* (same s, "
                       "beta, n, eps for every head; heads without a score bias)",
    "score_bias": "the attention call adds a position bias to the scores (e.g. T5's "
                  "relative attention); the kernel does not apply to such a head",
    "not_audited": "attention calls outside the n x n self-attention over [prompt; input]: "
                   "an encoder-decoder model's decoder self- and cross-attention",
    "taylor_degree": "smallest Taylor degree whose Lagrange bound meets eps "
                     "(core.kernels.taylor_degree), defined for any R",
}


# --- optional imports --------------------------------------------------------------------

def _hf() -> tuple[Any, Any]:
    """``(transformers, peft)``, or a :class:`HarnessError` naming the extra to install."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import peft
        import transformers
    except ImportError as exc:
        raise HarnessError(f"the regime audit needs transformers and peft ({exc.name} is "
                           f"missing): {_INSTALL}") from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    _register_probe(transformers)
    return transformers, peft


# --- the probe ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AttentionCall:
    """One recorded attention call: ``query`` ``(H, n_q, s)``, ``key``/``value``
    ``(H_kv, n, s)`` (batch 1 dropped), the scale ``β``, the calling module's name, the
    stack it belongs to (``"encoder"``/``"decoder"`` of an encoder–decoder model, else
    ``"model"``) and whether an additive position bias enters the scores."""

    module: str
    layer_idx: int | None
    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    beta: float
    stack: str = "model"
    score_bias: bool = False


@dataclass
class _Recorder:
    names: dict[int, str] = field(default_factory=dict)
    stacks: dict[int, str] = field(default_factory=dict)
    calls: list[AttentionCall] = field(default_factory=list)


def _has_score_bias(bias: Any) -> bool:
    """Whether a ``position_bias`` tensor adds anything to the scores besides masking: a
    finite non-zero entry above the masking floor (T5 folds its mask into the bias)."""
    if not isinstance(bias, torch.Tensor):
        return False
    floor = torch.finfo(bias.dtype).min / 2 if bias.dtype.is_floating_point else -1
    return bool(((bias != 0) & (bias > floor) & torch.isfinite(bias)).any())


_ACTIVE: list[_Recorder] = []


def _probe(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
           attention_mask: Any, **kwargs: Any) -> Any:
    """Record what attention sees, then run transformers' SDPA attention unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if _ACTIVE:
        rec = _ACTIVE[-1]
        scaling = kwargs.get("scaling")
        beta = float(scaling) if scaling is not None else query.shape[-1] ** -0.5
        layer = getattr(module, "layer_idx", None)
        rec.calls.append(AttentionCall(
            module=rec.names.get(id(module), type(module).__name__),
            layer_idx=layer if isinstance(layer, int) else None,
            query=query.detach()[0].double(), key=key.detach()[0].double(),
            value=value.detach()[0].double(), beta=beta,
            stack=rec.stacks.get(id(module), "model"),
            score_bias=_has_score_bias(kwargs.get("position_bias"))))
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _register_probe(transformers: Any) -> None:
    from transformers.masking_utils import sdpa_mask

    transformers.AttentionInterface.register(PROBE, _probe)
    transformers.AttentionMaskInterface.register(PROBE, sdpa_mask)


@contextmanager
def _recording(model: Any) -> Iterator[_Recorder]:
    rec = _Recorder(names={id(m): name for name, m in model.named_modules()})
    if getattr(model.config, "is_encoder_decoder", False):
        for stack, part in (("encoder", model.get_encoder()), ("decoder", model.get_decoder())):
            rec.stacks.update({id(m): stack for m in part.modules()})
    _ACTIVE.append(rec)
    try:
        yield rec
    finally:
        _ACTIVE.remove(rec)


# --- loading -----------------------------------------------------------------------------

def _supported() -> str:
    return ("models whose attention dispatches through transformers' AttentionInterface "
            "(e.g. bert, gpt2, llama); models with bespoke attention code are not")


def load_model(path: Path) -> Any:
    """``AutoModel`` from the local folder ``path`` with the probe as attention (eval mode).

    Raises:
        InvalidArgument: missing folder, no or unreadable ``config.json``, weights that do
            not load, or a model type that cannot use the probe.
    """
    transformers, _ = _hf()
    where = f"--model={str(path)!r}"
    if not Path(path).is_dir():
        raise InvalidArgument(f"{where}: not a directory; expected a transformers model "
                              "folder (config.json and weights)")
    if not (Path(path) / "config.json").is_file():
        raise InvalidArgument(f"{where}: no config.json; expected a transformers model "
                              "folder saved with save_pretrained")
    # Third-party loaders raise many types (json, safetensors' Rust errors, torch): at this
    # boundary every failure to read the user's files is one line naming the folder.
    try:
        config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:
        raise InvalidArgument(f"{where}: config.json unreadable ({_one_line(exc)})") from None
    try:
        model = transformers.AutoModel.from_pretrained(
            str(path), local_files_only=True, attn_implementation=PROBE)
    except Exception as exc:
        names = ", ".join(sorted(p.name for p in Path(path).iterdir()
                                 if p.suffix in (".safetensors", ".bin"))) or "none"
        raise InvalidArgument(
            f"{where}: model_type {config.model_type!r} did not load ({_one_line(exc)}; "
            f"weights: {names}); a truncated or corrupt weights file, or a model type that "
            f"cannot use the probe attention (supported: {_supported()})") from None
    return model.eval()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"


def _adapter_config(path: Path) -> dict[str, Any]:
    where = f"--adapter={str(path)!r}"
    config_path = Path(path) / "adapter_config.json"
    if not Path(path).is_dir():
        raise InvalidArgument(f"{where}: not a directory; expected a PEFT adapter folder")
    if not config_path.is_file():
        raise InvalidArgument(f"{where}: no adapter_config.json; expected a PEFT adapter "
                              "folder saved with save_pretrained")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{where}: adapter_config.json unreadable "
                              f"({_one_line(exc)})") from None
    if not isinstance(config, dict):
        raise InvalidArgument(f"{where}: adapter_config.json is not a JSON object")
    return config


#: PEFT adapter kinds whose prompt is a block of soft tokens prepended to the input: prompt
#: tuning (a learned embedding) and P-tuning (an encoder's output, saved as the embedding).
SOFT_PROMPT_TYPES = ("PROMPT_TUNING", "P_TUNING")

#: Prompt-learning kinds that are not a soft prompt at the input, and why they are refused.
REFUSED_PROMPT_TYPES = {
    "PREFIX_TUNING": "prefix tuning inserts learned keys and values into every layer "
                     "instead of prompt tokens at the input",
    "MULTITASK_PROMPT_TUNING": "multitask prompt tuning needs a task id per input to pick "
                               "its prompt",
    "CPT": "context-aware prompt tuning mixes learned offsets into the example tokens",
    "ADAPTION_PROMPT": "adaption prompts are gated per layer, not input tokens",
}


def _check_adapter(path: Path, config: dict[str, Any], model: Any) -> None:
    """Refuse an adapter that is not a soft prompt at the input or was made for another
    model. Any PEFT ``task_type`` is accepted: the prompt does not depend on the task head."""
    where = f"--adapter={str(path)!r}"
    kind = config.get("peft_type")
    if kind in REFUSED_PROMPT_TYPES:
        raise InvalidArgument(f"{where}: peft_type {kind!r} is refused: "
                              f"{REFUSED_PROMPT_TYPES[kind]}; supported: "
                              f"{', '.join(SOFT_PROMPT_TYPES)}")
    if kind not in SOFT_PROMPT_TYPES:
        raise InvalidArgument(f"{where}: peft_type {kind!r} is not a prompt-learning "
                              f"adapter; supported: {', '.join(SOFT_PROMPT_TYPES)}")
    mc = model.config
    submodules = config.get("num_transformer_submodules")
    if submodules not in (None, 1, 2):
        raise InvalidArgument(f"{where}: num_transformer_submodules={submodules!r}; PEFT "
                              "writes 1 (one stack) or 2 (encoder and decoder)")
    if ((config.get("task_type") == "SEQ_2_SEQ_LM" or submodules == 2)
            and not getattr(mc, "is_encoder_decoder", False)):
        raise InvalidArgument(
            f"{where}: task_type {config.get('task_type')!r} with "
            f"num_transformer_submodules={submodules!r} was made for an encoder-decoder "
            f"model, but --model is model_type {mc.model_type!r} with one stack")
    expected = {"token_dim": mc.hidden_size, "num_layers": mc.num_hidden_layers,
                "num_attention_heads": mc.num_attention_heads}
    for key, want in expected.items():
        got = config.get(key)
        if got is not None and got != want:
            raise InvalidArgument(
                f"{where}: {key}={got!r} does not match the model's {want!r} "
                f"(model_type {mc.model_type!r}); the adapter was made for another model")
    base = config.get("base_model_name_or_path")
    base_config = Path(str(base)) / "config.json" if base else None
    if base_config is not None and base_config.is_file():
        try:
            recorded = json.loads(base_config.read_text())
        except (OSError, json.JSONDecodeError):
            return
        for key in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads"):
            if key in recorded and recorded[key] != getattr(mc, key, recorded[key]):
                raise InvalidArgument(
                    f"{where}: base_model_name_or_path={base!r} is a {key}="
                    f"{recorded[key]!r} model, but --model has {key}="
                    f"{getattr(mc, key)!r}; the adapter was made for another model")


def load_prompt(path: Path, model: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    """The soft prompt ``(L_p, hidden)`` of the PEFT prompt-tuning adapter at ``path``.

    The adapter is loaded by PEFT itself (``PeftModel.from_pretrained`` then
    ``get_prompt``) after checking its type and sizes against ``model``. Its task type is
    set aside: a task-specific PEFT wrapper (e.g. ``CAUSAL_LM``'s) expects a model with that
    task's head, while the prompt is the same for every head, so the plain ``PeftModel``
    wraps the bare ``AutoModel``. ``L_p = num_virtual_tokens``: a ``SEQ_2_SEQ_LM`` adapter
    holds ``num_transformer_submodules · L_p`` rows, of which PEFT's prompt-tuning and
    P-tuning forward and ``generate`` give the encoder the first ``L_p`` and use no others.
    """
    _, peft = _hf()
    config = _adapter_config(path)
    _check_adapter(path, config, model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            peft_config = peft.PeftConfig.from_pretrained(str(path))
            peft_config.task_type = None
            wrapped = peft.PeftModel.from_pretrained(model, str(path), config=peft_config,
                                                     is_trainable=False)
            prompt = wrapped.get_prompt(batch_size=1)
    except Exception as exc:          # PEFT, safetensors and torch raise many types
        raise InvalidArgument(f"--adapter={str(path)!r}: PEFT could not load it for "
                              f"this model ({_one_line(exc)})") from None
    if not (isinstance(prompt, torch.Tensor) and prompt.ndim == 3 and prompt.shape[0] == 1):
        raise InvalidArgument(f"--adapter={str(path)!r}: PEFT returned no soft prompt "
                              f"({type(prompt).__name__}); supported: "
                              f"{', '.join(SOFT_PROMPT_TYPES)}")
    L_p = int(getattr(peft_config, "num_virtual_tokens", 0) or prompt.shape[1])
    if not 0 < L_p <= prompt.shape[1]:
        raise InvalidArgument(f"--adapter={str(path)!r}: num_virtual_tokens={L_p} but PEFT "
                              f"returned {prompt.shape[1]} prompt rows")
    info = {"path": str(path), "peft_type": config.get("peft_type"),
            "task_type": config.get("task_type"), "num_virtual_tokens": L_p,
            "num_transformer_submodules": config.get("num_transformer_submodules"),
            "base_model_name_or_path": config.get("base_model_name_or_path")}
    return prompt.detach()[0, :L_p], info


def read_input_ids(path: Path) -> list[int]:
    """Token ids from a file: a JSON list of ints, or whitespace-separated ints."""
    where = f"--input-ids={str(path)!r}"
    allowed = "a non-empty JSON list of integers, or whitespace-separated integers"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise InvalidArgument(f"{where}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{where}: not UTF-8 text (byte {exc.start}); expected "
                              f"{allowed}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, RecursionError):
        data = text.split()
    except ValueError as exc:                   # NaN / Infinity
        raise InvalidArgument(f"{where}: {exc}; expected {allowed}") from None
    if not isinstance(data, list) or not data:
        raise InvalidArgument(f"{where}: expected {allowed}")
    ids = []
    for i, v in enumerate(data):
        if isinstance(v, str) and v.lstrip("-").isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidArgument(f"{where}: entry {i} is {str(v)[:40]!r}, not an integer; "
                                  f"expected {allowed}")
        ids.append(v)
    return ids


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a token id")


#: Files one of which a folder's own tokenizer needs (transformers 5 otherwise builds an
#: empty tokenizer from the config alone, which would turn text into unknown tokens).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                   "tokenizer.model", "spiece.model")


def tokenize(model_path: Path, text: str) -> list[int]:
    """``text`` tokenised with the model folder's own tokenizer (special tokens added)."""
    transformers, _ = _hf()
    if not any((Path(model_path) / name).is_file() for name in TOKENIZER_FILES):
        raise InvalidArgument(
            f"--input={text[:40]!r}: the folder --model={str(model_path)!r} has no usable "
            f"tokenizer (none of {', '.join(TOKENIZER_FILES)}); pass --input-ids FILE "
            "instead")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(
            f"--input={text[:40]!r}: the folder --model={str(model_path)!r} has no usable "
            f"tokenizer ({_one_line(exc)}); pass --input-ids FILE instead") from None
    ids = list(tok(text)["input_ids"])
    if not ids:
        raise InvalidArgument(f"--input={text!r}: tokenises to no tokens")
    return ids


# --- running -----------------------------------------------------------------------------

def _run(model: Any, ids: Sequence[int], prompt: torch.Tensor | None) -> list[AttentionCall]:
    """Run ``model`` on ``[prompt; embed(ids)]`` and return the recorded attention calls."""
    config = model.config
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    bad = [i for i in ids if i < 0 or (vocab and i >= vocab)]
    if bad:
        raise InvalidArgument(f"input ids {bad[:5]!r}: outside the vocabulary [0, {vocab})")
    L_p = 0 if prompt is None else int(prompt.shape[0])
    n = L_p + len(ids)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions",
                                                                        None)
    if limit is not None and n > int(limit):
        raise InvalidArgument(f"n = L_p + L = {L_p} + {len(ids)} = {n}: exceeds the model's "
                              f"max_position_embeddings={limit}")
    with torch.no_grad():
        embeds = model.get_input_embeddings()(torch.tensor([list(ids)]))
        if prompt is not None:
            embeds = torch.cat([prompt.to(embeds.dtype)[None], embeds], dim=1)
        extra = _decoder_inputs(config)
        with _recording(model) as rec:
            try:
                model(inputs_embeds=embeds, attention_mask=torch.ones(1, n, dtype=torch.long),
                      **extra)
            except (TypeError, ValueError, RuntimeError, IndexError) as exc:
                raise InvalidArgument(
                    f"--model: model_type {config.model_type!r} failed on inputs_embeds "
                    f"({_one_line(exc)}); supported: {_supported()}") from None
    if not rec.calls:
        raise InvalidArgument(
            f"--model: model_type {config.model_type!r} ran without calling attention (no "
            f"attention layers, or attention that bypasses AttentionInterface); supported: "
            f"{_supported()}")
    return rec.calls


def _decoder_inputs(config: Any) -> dict[str, torch.Tensor]:
    """An encoder–decoder model's one decoder token (the first step of generation): its
    ``decoder_start_token_id``, else its ``pad_token_id``; ``{}`` for a one-stack model."""
    if not getattr(config, "is_encoder_decoder", False):
        return {}
    start = getattr(config, "decoder_start_token_id", None)
    start = getattr(config, "pad_token_id", None) if start is None else start
    if not isinstance(start, int):
        raise InvalidArgument(
            f"--model: model_type {config.model_type!r} is encoder-decoder but its config "
            "has no decoder_start_token_id or pad_token_id to start the decoder with")
    return {"decoder_input_ids": torch.tensor([[start]])}


# --- the decision ------------------------------------------------------------------------

def kernel_decision(regime: KernelRegime) -> dict[str, Any]:
    """Whether the repo's kernel applies to one head's ``regime`` (its ``s, β, B, δ_F`` and
    ``n``), with the plan's degree and rank.

    Returns ``applies``, ``reason``, ``degree`` and ``rank`` (``None`` without a plan).
    """
    if regime.n is None:
        raise InvalidArgument("regime.n=None: the decision compares the rank with n")
    n = regime.n
    try:
        plan = plan_for(regime, method=METHOD)
    except HarnessError as exc:     # float64 cancellation, or no degree <= max certified
        return {"applies": False, "reason": f"no certified float64 plan: {str(exc)[:160]}",
                "degree": None, "rank": None}
    rank = plan.rank
    applies = rank < n
    reason = (f"rank {rank} < n = {n}" if applies
              else f"rank {rank} >= n = {n}: no cheaper than exact attention")
    return {"applies": applies, "reason": reason, "degree": plan.degree, "rank": rank}


def threshold_ratio(s: int, beta: float, delta_F: float, n: int, *, steps: int = 30
                    ) -> float | None:
    """``c*``: the kernel applies to a head of dimension ``s`` and scale ``beta`` at target
    ``delta_F`` iff ``B/√ln n < c*`` (bisection over ``B`` with :func:`kernel_decision`).

    ``None`` when it applies at no ``B`` (``n = 1``: every rank is at least 1). The search
    terminates because float64 cancellation caps the radius of any plan.
    """
    def applies(B: float) -> bool:
        regime = KernelRegime(s=s, beta=beta, B=B, delta_F=delta_F, n=n)
        return bool(kernel_decision(regime)["applies"])

    if n < 2 or not applies(0.0):
        return None
    lo, hi = 0.0, 1.0
    while applies(hi):
        lo, hi = hi, 2 * hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if applies(mid) else (lo, mid)
    return hi / KernelRegime(s=s, beta=beta, B=hi, n=n).sqrt_log_n


#: The decision for a head whose scores carry an additive position bias.
_BIASED = {"applies": False, "degree": None, "rank": None,
           "reason": "scores carry an additive position bias: the kernel approximates "
                     "exp(beta*q.k) alone"}


def _head_rows(calls: Sequence[AttentionCall], n: int, delta_F: float
               ) -> list[dict[str, Any]]:
    log_inv_eps = error_target(delta_F, 1.0).log_inv_eps
    rows = []
    first: dict[str, int] = {}
    for call in calls:
        layer = call.layer_idx if call.layer_idx is not None else first.setdefault(
            call.module, len(first))
        heads, kv_heads = call.query.shape[0], call.key.shape[0]
        group = max(1, heads // kv_heads)
        for h in range(heads):
            q = call.query[h].T                     # (s, n_q): tokens as columns
            k = call.key[h // group].T              # (s, n)
            v = call.value[h // group].T
            s = int(q.shape[0])
            regime = KernelRegime(s=s, beta=call.beta, B=measured_norm(q, k), delta_F=delta_F,
                                  n=n)
            scores = call.beta * (k.T @ q)
            row: dict[str, Any] = {
                "layer": layer, "module": call.module, "head": h, "kv_head": h // group,
                "s": s, "beta": call.beta,
                "Q_max": float(q.abs().max()), "K_max": float(k.abs().max()), "B": regime.B,
                "V_max": float(v.abs().max()), "R": regime.radius,
                "max_score": float(scores.abs().max()),
                "ratio": regime.ratio if n > 1 else None, "score_bias": call.score_bias,
            }
            row.update(_BIASED if call.score_bias else kernel_decision(regime))
            g = taylor_degree(regime.radius, log_inv_eps)
            row["taylor_degree"] = g
            row["log10_taylor_rank"] = math.log10(feature_rank(s, g))
            rows.append(row)
    return rows


def audit_model(model_path: str | Path, *, adapter_path: str | Path | None = None,
                text: str | None = None, input_ids: Sequence[int] | None = None,
                delta_f: float | None = None) -> dict[str, Any]:
    """The regime audit of one model (and soft prompt) on one input, as a JSON-able dict.

    Exactly one of ``text`` (needs the folder's tokenizer) and ``input_ids``. ``delta_f``:
    the target max-norm error in units of ``‖V‖_max``; default ``1/n``. See the module
    docstring for every reported quantity.
    """
    transformers, peft = _hf()
    if (text is None) == (input_ids is None):
        raise InvalidArgument("give exactly one of --input TEXT and --input-ids FILE")
    if delta_f is not None and not (isinstance(delta_f, (int, float)) and 0 < delta_f < 1):
        raise InvalidArgument(f"--delta-f={delta_f!r}: expected a number in (0, 1)")
    model_path = Path(model_path)
    model = load_model(model_path)
    ids = tokenize(model_path, text) if text is not None else [int(i) for i in input_ids or []]
    if not ids:
        raise InvalidArgument("input_ids=[]: expected at least one token")
    prompt, adapter = (None, None)
    if adapter_path is not None:
        prompt, adapter = load_prompt(Path(adapter_path), model)
    L_p = 0 if prompt is None else int(prompt.shape[0])
    n = L_p + len(ids)
    delta = float(delta_f) if delta_f is not None else 1.0 / n
    eps = error_target(delta, 1.0).eps
    calls = _run(model, ids, prompt)
    audited = [c for c in calls if c.stack != "decoder"]
    keys = {int(c.key.shape[1]) for c in audited}
    if keys != {n}:
        raise HarnessError(f"attention saw key lengths {sorted(keys)}, expected n = L_p + L "
                           f"= {n}: the soft prompt did not reach attention")
    heads = _head_rows(audited, n, delta)
    worst = max(heads, key=lambda r: r["B"])
    unbiased = [r for r in heads if not r["score_bias"]]
    s_values, betas = {r["s"] for r in unbiased}, {r["beta"] for r in unbiased}
    threshold = (threshold_ratio(unbiased[0]["s"], unbiased[0]["beta"], delta, n)
                 if len(s_values) == 1 and len(betas) == 1 else None)
    skipped = [c for c in calls if c.stack == "decoder"]
    applies = sum(r["applies"] for r in heads)
    return {
        "kind": "regime", "paper_ref": PAPER_REF,
        "model": {"path": str(model_path), "model_type": model.config.model_type,
                  "class": type(model).__name__},
        "adapter": adapter,
        "input": {"kind": "text" if text is not None else "ids",
                  "text": text, "ids": list(ids)},
        "L_p": L_p, "L": len(ids), "n": n, "sqrt_log_n": math.sqrt(math.log(n)),
        "delta_F": delta, "delta_F_rule": "1/n" if delta_f is None else "given",
        "eps": eps, "method": METHOD, "threshold_ratio": threshold,
        "layers": len({r["layer"] for r in heads}), "heads": heads,
        "not_audited": {"calls": len(skipped), "modules": sorted({c.module for c in skipped}),
                        "why": "decoder attention: its queries are decoder tokens, not the "
                               "n x n self-attention over [prompt; input]" if skipped
                               else None},
        "worst": {k: worst[k] for k in ("layer", "head", "B", "ratio", "R", "applies",
                                        "degree", "rank")},
        "summary": {"heads": len(heads), "applies": applies,
                    "verdict": _verdict(applies, len(heads))},
        "definitions": DEFINITIONS,
        "versions": {"transformers": transformers.__version__, "peft": peft.__version__,
                     "torch": torch.__version__},
    }


def _verdict(applies: int, total: int) -> str:
    if applies == total:
        return f"the polynomial-method kernel applies to all {total} heads"
    if applies == 0:
        return f"the polynomial-method kernel applies to none of the {total} heads"
    return f"the polynomial-method kernel applies to {applies} of {total} heads"
