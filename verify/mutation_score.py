"""Mutation score of ``core/`` by module, from a mutmut run (issue 7).

``mutmut run`` (configured in ``pyproject.toml`` under ``[tool.mutmut]``) leaves one
``mutants/<file>.meta`` JSON per mutated source file, mapping each mutant to the exit code of
the tests that ran against it. This module turns those into a per-module table:

    score = (killed + timeout) / (mutants − equivalent − not yet checked)

``killed`` means the test selection went red; ``timeout`` means the mutant made the tests
hang (mutmut counts it as killed); a mutant that no test reaches (``no tests``) counts as a
survivor. Mutants judged *equivalent* — no input can tell them from the original — are
listed in :data:`EQUIVALENT`, each with its reason, and leave the denominator.

    python -m verify.mutation_score                      # table
    python -m verify.mutation_score --survivors          # plus every surviving mutant
    python -m verify.mutation_score --min-score 90 --json mutation.json

Exit status 1 if ``--min-score`` is given and a module (or the total) falls below it, or if
a mutant listed as equivalent no longer exists (the list went stale).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import HarnessError

__all__ = ["EQUIVALENT", "ModuleScore", "check_equivalent", "load_statuses", "main",
           "score_by_module"]

#: mutmut's exit-code convention (``mutmut.stats.status_by_exit_code``), restated so this
#: report does not import mutmut.
_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
    36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
    37: "caught by type check", -11: "segfault", -9: "segfault", None: "not checked",
}

#: Mutants no test can kill because they do not change behaviour: mutmut name ->
#: (a fragment of the mutated code, the reason). The fragment is checked against the mutant's
#: source in ``mutants/``, so a renumbered mutant is noticed instead of silently excused.
_SHAPES_VALIDATED = ("every shape is validated before the twin multiplies (TransformerWeights, "
                     "FeedForwardWeights, mp_forward's X and P checks): zipped sequences have "
                     "equal lengths, and strict= is a guard that cannot fire")

EQUIVALENT: dict[str, tuple[str, str]] = {
    "core.model.xǁPromptTunedTransformerǁforward__mutmut_16":
        ("P.shape[+1]", "P.shape[+1] for P.shape[-1]: embed() admits only a 2-D prompt "
                        "(d, L_p), whose axis 1 is axis -1"),
    "core.bounds.x_least_power_reaching__mutmut_35":
        ("while e >= 0 and", "e >= 0 for e > 0 in the step-down loop: at e = 0 the test "
                             "base**-1 < 1 <= 2^M is false anyway"),
    "core.bounds.x_least_power_reaching__mutmut_38":
        ("base ** (e + 1) >= target", "the step-down loop may overshoot by two; the step-up "
                                      "loop that follows restores the least solution"),
    "core.bounds.x_least_power_reaching__mutmut_43":
        ("e -= 2", "steps of two down overshoot by at most one; the step-up loop restores "
                   "the least solution"),
    "core.bounds.x_min_prompt_length_exact__mutmut_4":
        ('check_int("M", M, minimum=None', "least_power_reaching re-checks M >= 0 with the "
                                           "same name and message"),
    "core.bounds.x_min_prompt_length_exact__mutmut_8":
        ('check_int("M", M, maximum=MAX_EXACT_BITS)', "as mutant 4: M >= 0 is re-checked"),
    "core.kernels.plan.x_score_radius__mutmut_39":
        ("if (r > 0) or True else", "r = 0 gives 0·(1 + 8u) = 0 either way"),
    "core.kernels.plan.x_score_radius__mutmut_48":
        ("8 * 2.0**-53", "a margin of 4 ulps instead of 8 still exceeds the at most three "
                         "roundings of β·s·B² (each <= 2^-53 relative), so R stays an upper "
                         "bound; tests/test_kernel_polynomial.py checks that property"),
    "core.kernels.plan.x_score_radius__mutmut_49":
        ("if r >= 0 else", "r = 0 gives 0·(1 + 8u) = 0 either way"),
    "core.kernels.plan.x_plan_kernel__mutmut_3":
        ("max_degree: int = 201", "a degree above 200 is never searched: candidate_degree "
                                  "refuses radii whose float64 cancellation exceeds eps/8 "
                                  "(R > ~16), far below where degree 200 is needed"),
    "core.lipschitz.x_max_norm_ratio__mutmut_24":
        ('float("INF")', "float('INF') for float('inf'): Python reads both as infinity"),
    "core.packing.xǁBumpPackingǁcentre__mutmut_11":
        ("np.asarray(cell, dtype=None)", "a cell is a tuple of ints (Sequence[int]); "
                                         "int + 0.5 is float64 with or without the dtype"),
    "core.packing.xǁBumpPackingǁcentre__mutmut_13":
        ("(np.asarray(cell, ) + 0.5)", "as centre mutant 11"),
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair__mutmut_28":
        ("x0[0] < 0.5", "x0 is a uniform random draw; x0[0] == 0.5 exactly does not occur, "
                        "and there both directions stay in [0, 1]"),
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair__mutmut_60":
        ("np.full(n, u0 - h)", "the sinusoid's derivative at u0 is the same from either "
                               "side; a step of 1e-4/ω either way attains C to O(h)"),
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair__mutmut_61":
        ("j = None", "x1[None] = t moves every entry by t: the max-norm distance is still t "
                     "and every output's tooth still rises by C·t"),
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair__mutmut_78":
        ("min(2.0 / self.grid", "the step min(1/K, 1/(2C)) still lies on the tooth's "
                                "rising edge (width min(1/K, 1/C)): ratio C either way"),
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair__mutmut_80":
        ("2.0 / self.C)", "the step min(1/(2K), 1/C) still lies on the tooth's rising edge"),
    "core.model.xǁPromptTunedTransformerǁ__init____mutmut_13":
        ("(dtype == torch.float64) and False", "for float64, float(torch.tensor(β, float64)) "
                                               "is β exactly"),
    "core.model.xǁPromptTunedTransformerǁ__init____mutmut_70":
        ("layer.arrays(), strict=None)", "FeedForwardWeights.arrays() always returns the "
                                         "four arrays w1, b1, w2, b2"),
    "core.model.xǁPromptTunedTransformerǁ__init____mutmut_73":
        ("layer.arrays(), )", "as mutant 70"),
    "core.model.xǁPromptTunedTransformerǁ__init____mutmut_82":
        ("layer.arrays(), strict=False)", "as mutant 70"),
    "core.model.xǁPromptTunedTransformerǁembed__mutmut_38":
        ("self.pos.shape[+1]", "pos is validated as a 2-D (d, n) array: axis 1 is axis -1"),
    "core.regime.x_attention_inputs__mutmut_23":
        ("z[:, P.shape[+1]:]", "P is a 2-D (d, L_p) prompt (embed refuses others)"),
    "core.regime.x_measure_regime__mutmut_9":
        ("attention_inputs(model, X, P, )", "full=True is attention_inputs' default"),
    "core.mp_twin.x_to_float64__mutmut_2":
        ("for row in matrix], dtype=None)", "a nested list of Python floats becomes float64 "
                                            "by default"),
    "core.mp_twin.x_to_float64__mutmut_4":
        ("for row in matrix], )", "as mutant 2"),
    "core.attention.x_exact_attention__mutmut_76":
        ("Q.shape[1] < query_chunk", "at m == query_chunk the chunked path runs one chunk: "
                                     "the same scores, softmax and product"),
    "core.weights.xǁTransformerWeightsǁdigest__mutmut_4":
        ("self.pos is None)", "flips one boolean of the digest's header: equal weights "
                              "still get equal digests and different weights different ones"),
    'core.weights.x_as_float64_matrix__mutmut_16':
        ('arr.shape[+1] != cols',
         'every caller passing cols has ndim = 2 (ndim=1 callers pass rows only): axis 1 is '
         'axis -1'),
    "core.weights.xǁTransformerWeightsǁrounded_to__mutmut_1":
        ("astype(dtype).astype(None)", "numpy's astype(None) is float64"),
    "core.kernels.model_forward.x__row_sum_upper__mutmut_13":
        ("default=1.0", "only a width-0 layer has no rows in W_1; its W_2 then has no "
                        "columns, norm 0, and the product rounds up to the same bound"),
    "core.prompt_tuning.x_check_training_data__mutmut_12":
        ("isinstance(X, torch.Tensor) or isinstance(Y, torch.Tensor)",
         "both are already checked to be tensors by the loop above it"),
    "core.prompt_tuning.x_train_prompt__mutmut_59":
        ("range(n_steps + 2)", "the loop breaks at step == n_steps, so a longer range never "
                               "runs its extra iteration"),
    "core.prompt_tuning.x_train_prompt__mutmut_61":
        ("use = None", "with no plan use is None anyway; with a plan _regime_step overwrites "
                       "it before it is read"),
    "core.prompt_tuning.x_train_prompt__mutmut_69":
        ("kernel_chunk=None)", "the exact (no-plan) branch never reads kernel_chunk"),
    "core.prompt_tuning.x_train_prompt__mutmut_75":
        ("query_chunk=query_chunk,\n" + " " * 44 + ")",
         "as mutant 69: kernel_chunk dropped from the exact branch's call"),
    "core.capacity_sweep.x_frozen_random_model__mutmut_4":
        ("default_rng([seed, d, 8])", "salt of a seeded stream: another constant gives an "
         "equally distributed, equally reproducible draw (no other stream has this seed-sequence"
         " length); which draw is not part of the contract"),
    "core.capacity_sweep.x_frozen_random_model__mutmut_19":
        ("for _ in range(4)]", "one more weight matrix drawn and unused: the three used are "
                               "still i.i.d. N(0, 1/d) from the seeded stream"),
    "core.capacity_sweep.x_random_dataset__mutmut_3":
        ("setting.N, 12])", "salt of a seeded stream: another constant gives an equally "
         "distributed, equally reproducible draw (no other stream has this seed-sequence "
         "length); which draw is not part of the contract"),
    "core.capacity_sweep.x_capacity_row__mutmut_18":
        ("default_rng([cfg.seed, lp, 14])", "salt of a seeded stream: another constant gives an "
         "equally distributed, equally reproducible draw (no other stream has this seed-sequence"
         " length); which draw is not part of the contract"),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_62':
        ('lp = max(1, math.floor(N * L * math.log2(M + 1) / bits) - 1)',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_63':
        ('/ bits) + 1)',
         'a guess one above ⌊x⌋ is still <= ⌈x⌉ or one over it, which the down-loop repairs'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_65':
        ('math.log2(M + 1) * bits) - 1)',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_66':
        ('N * L / math.log2(M + 1) / bits',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_67':
        ('N / L * math.log2(M + 1)',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_70':
        ('math.log2(M + 2)',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_71':
        ('/ bits) - 2)',
         'the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >='
         ' 1; the up-loop then lands on it whatever the guess'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_76':
        ('while (1 << (bits * d * lp)) <= need:',
         'overshoots by one at equality; the down-loop repairs it'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_79':
        ('lp += 2',
         'overshoots by at most one; the down-loop repairs it'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_81':
        ('while lp >= 0 and (1 << (bits * d * (lp - 1))) >= need:',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_82':
        ('while lp > 1 and',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_83':
        ('(1 >> (bits * d * (lp - 1))) >= need',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_89':
        ('(1 << (bits * d * (lp - 1))) > need:',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_90':
        ('lp = 1',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_91':
        ('lp += 1',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_lower_bound__mutmut_92':
        ('lp -= 2',
         'the down-loop never runs: the guess never exceeds the least solution'),
    'core.constructions.memorise.x_memorisation_request__mutmut_14':
        ('d = check_int("d", d, minimum=None, maximum=4)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_15':
        ('d = check_int("d", d, minimum=1, maximum=None)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_18':
        ('d = check_int("d", d, maximum=4)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_19':
        ('d = check_int("d", d, minimum=1, )',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_23':
        ('d = check_int("d", d, minimum=1, maximum=5)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_27':
        ('L = check_int("L", L, minimum=None, maximum=4)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_28':
        ('L = check_int("L", L, minimum=1, maximum=None)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_31':
        ('L = check_int("L", L, maximum=4)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_32':
        ('L = check_int("L", L, minimum=1, )',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_36':
        ('L = check_int("L", L, minimum=1, maximum=5)',
         'plan_universal re-checks d and L with the same names, limits and messages'),
    'core.constructions.memorise.x_memorisation_request__mutmut_38':
        ('best = 1',
         "the ladder's first plan (C = 1/4) fits every (d, L) up to (4, 4), so best is at least "
         "1 already"),
    'core.constructions.memorise.x_label_levels__mutmut_17':
        ('np.array(flat, dtype=None)',
         'a list of Python ints becomes int64 either way'),
    'core.constructions.memorise.x_label_levels__mutmut_19':
        ('np.array(flat, )',
         'as mutant 17'),
    'core.constructions.memorise.x_memorisation_table__mutmut_30':
        ('label_levels(s, np.asarray(Y, dtype=None))',
         'label_levels reads each entry with float(); Y is already validated'),
    'core.constructions.memorise.x_memorisation_table__mutmut_32':
        ('label_levels(s, np.asarray(Y, ))',
         'as mutant 30'),
    'core.constructions.sizes.x__nearest__mutmut_51':
        ('if e > 0.999:',
         'the ladder is capped at 0.999, so e == 0.999 re-tries the same plan: same result'),
    'core.constructions.sizes.x__nearest__mutmut_52':
        ('if e >= 1.999:',
         'as mutant 51'),
    'core.constructions.sizes.x_form_cost_table__mutmut_35':
        ('deep = _sizes(d, L, C, None, p, "deep", *choice)',
         'ε is only stored in the record, and this table never reads it'),
    'core.constructions.sizes.x_form_cost_table__mutmut_51':
        ('wide = _sizes(d, L, C, None, p, "wide", *choice)',
         'as mutant 35'),
    'core.constructions.sizes.x_form_cost_table__mutmut_53':
        ('wide = _sizes(d, L, C, eps, p, None, *choice)',
         '_sizes takes the wide branch for any form other than "deep"'),
    'core.constructions.sizes.x_form_cost_table__mutmut_61':
        ('"XXwideXX"',
         'as mutant 53'),
    'core.constructions.sizes.x_form_cost_table__mutmut_62':
        ('"WIDE"',
         'as mutant 53'),
    'core.constructions.sizes.x_form_cost_table__mutmut_67':
        ('if wide.slots <= 65 else',
         'slots = L·2^m is a power of two times L <= 4: never 65'),
    'core.constructions.contextual.x_contextual_separation__mutmut_85':
        ('if count >= 2000:',
         'no admissible (vocabulary, L) gives exactly 2000 contexts (nearest: 1944, 2160)'),
    'core.constructions.contextual.x_contextual_separation__mutmut_86':
        ('if count > 2001:',
         'as mutant 85'),
    'core.constructions.contextual.x_contextual_separation__mutmut_208':
        ('ratio <= best[0]:',
         'differs only if two draws of continuous random matrices give exactly equal ratios'),
    'core.constructions.contextual.x_contextual_separation__mutmut_293':
        ('w = [mpmath.exp(x + top) for x in sc]',
         "softmax is invariant under a common factor and mpmath exponents are unbounded: the "
         "weights agree to the working precision's last digit"),
    'core.constructions.contextual.x_contextual_separation__mutmut_345':
        ('if (hi > 0) or True else -math.inf',
         'mpmath.log10(0) is already -inf'),
    'core.constructions.contextual.x_contextual_separation__mutmut_348':
        ('if hi >= 0 else -math.inf',
         'as mutant 345'),
    'core.constructions.contextual.x_contextual_separation__mutmut_373':
        ('math.sqrt(math.log(n)) if (n > 1) or True else 0.0',
         '√(ln 1) is 0.0'),
    'core.constructions.contextual.x_contextual_separation__mutmut_376':
        ('if n >= 1 else 0.0',
         'as mutant 373'),
    'core.constructions.contextual.x_vocabulary__mutmut_17':
        ('if np.linalg.norm(cand) <= min_norm:',
         "differs only if a continuous random draw's norm equals the threshold exactly"),
    'core.constructions.contextual.x_vocabulary__mutmut_22':
        ('> min_gap for t in toks',
         "differs only if a continuous random draw's distance equals the threshold exactly"),
    'core.constructions.universal.x__torch_forward__mutmut_5':
        ('model = PromptTunedTransformer(weights, )',
         "float64 is the model's default dtype"),
    'core.mp_twin.x__matmul__mutmut_3':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__matmul__mutmut_5':
        ('zip(*b, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__matmul__mutmut_6':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__matmul__mutmut_11':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__matmul__mutmut_14':
        ('zip(row, col, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__matmul__mutmut_15':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_4':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_7':
        ('zip(ra, rb, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_8':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_11':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_14':
        ('zip(a, b, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__add__mutmut_15':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_25':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_28':
        ('zip(pre, b1, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_29':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_39':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_42':
        ('zip(zrow, yrow, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_43':
        ('strict=False', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_47':
        ('strict=None', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_51':
        ('zip(z, lifted, b2, )', _SHAPES_VALIDATED),
    'core.mp_twin.x__feed_forward__mutmut_52':
        ('strict=False', _SHAPES_VALIDATED),
    'core.lipschitz.xǁLipschitzTargetǁenclose__mutmut_37':
        ('range(len(x))), ))',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' the sum is never empty (d·L >= 1 entries)'),
    'core.lipschitz.xǁLipschitzTargetǁenclose__mutmut_52':
        ('range(len(h))), ))',
         'as mutant 37 (the hidden width is fixed and positive)'),
    'core.lipschitz.xǁLipschitzTargetǁenclose__mutmut_135':
        ('p["sign"][i] >= 0',
         "the sawtooth's signs are drawn from {-1, +1}: never 0"),
    'core.lipschitz.xǁLipschitzTargetǁ_enclose_sinusoid__mutmut_25':
        ('range(len(x))), )',
         'sum() starting at int 0 instead of arb(0): 0 + arb is the same ball'),
    'core.lipschitz.xǁLipschitzTargetǁ_enclose_sinusoid__mutmut_32':
        ('arb(None)',
         'python-flint reads arb(None) as the exact ball 0'),
    'core.lipschitz.x__build_sawtooth__mutmut_13':
        ('rng.permutation(n).astype(None)',
         "numpy's astype(None) is float64"),
    'core.gradient_bound.x_certified_derivative_eps__mutmut_19':
        ('if not getattr(cert, "derivative", None):',
         'a missing attribute gives None or False: both falsy'),
    'core.gradient_bound.x__ff_pre_abs_jacobian__mutmut_20':
        ('torch.eye(d, dtype=None)',
         'an identity of exact 0s and 1s, promoted to float64 by the add'),
    'core.gradient_bound.x__ff_pre_abs_jacobian__mutmut_22':
        ('torch.eye(d, )',
         'as mutant 20'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_167':
        ('A = (w * a).sum(dim=0, )',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_170':
        ('A = (w * a).sum(dim=0, keepdim=False)',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_182':
        ('att.abs().sum(dim=0, ) + d * delta_att',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_184':
        ('att.abs().sum(dim=0, keepdim=False) + d * delta_att',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_190':
        ('G.abs().sum(dim=0, ) * delta_att',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_192':
        ('G.abs().sum(dim=0, keepdim=False) * delta_att',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_240':
        ('(w * a_abs).sum(dim=0, ))',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.gradient_bound.x_prompt_gradient_bound__mutmut_243':
        ('(w * a_abs).sum(dim=0, keepdim=False))',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.kernels.fast_attention.x_rounding_allowance__mutmut_16':
        ('float("INF")',
         "Python reads 'INF' as infinity too"),
    'core.kernels.fast_attention.x__chunk_size__mutmut_19':
        ('fitting = (memory_limit - fixed) / per_column',
         'int(min(...)) floors the quotient the same way below 2^53; larger would need terabyte '
         'feature tables, refused earlier'),
    'core.kernels.fast_attention.x__polynomial_attention__mutmut_21':
        ('S = torch.zeros(features.rank, dtype=V.dtype, device=V.device)',
         'a zero (r,) vector broadcasts to the same accumulated S (n >= 1)'),
    'core.kernels.fast_attention.x__polynomial_attention__mutmut_68':
        ('if (len(outs) == 1) and False else torch.cat(outs, dim=1)',
         'torch.cat of a single block returns the same values'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_79':
        ('for d, row in zip(degrees, exponents, strict=True)], dtype=None)',
         'numpy makes an array of Python floats float64 by default'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_81':
        ('for d, row in zip(degrees, exponents, strict=True)], )',
         'as mutant 79'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_83':
        ('float(math.factorial(int(d)) / math.prod(',
         'a multinomial coefficient is an exact integer quotient: int true division and float(a '
         '// b) are both correctly rounded'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_91':
        ('zip(degrees, exponents, strict=None)], dtype=np.float64)',
         'degrees and exponents have equal lengths by construction'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_94':
        ('zip(degrees, exponents, )], dtype=np.float64)',
         'as mutant 91'),
    'core.kernels.features.xǁMonomialFeaturesǁbuild__mutmut_95':
        ('zip(degrees, exponents, strict=False)], dtype=np.float64)',
         'as mutant 91'),
    'core.kernels.features.xǁMonomialFeaturesǁquery_weights__mutmut_3':
        ('c = np.asarray(coefficients, dtype=None)',
         'a tuple of Python floats becomes float64'),
    'core.kernels.features.xǁMonomialFeaturesǁquery_weights__mutmut_5':
        ('c = np.asarray(coefficients, )',
         'as mutant 3'),
    'core.kernels.features.xǁMonomialFeaturesǁquery_weights__mutmut_9':
        ('self.degrees.astype(None)',
         "numpy's astype(None) is float64"),
    'core.kernels.features.xǁMonomialFeaturesǁmonomials__mutmut_1':
        ('if torch.is_grad_enabled() or X.requires_grad:',
         'the functional (autograd) path computes bit-identical values'),
    'core.kernels.features.xǁMonomialFeaturesǁmonomials__mutmut_28':
        ('out=out[row:row - count])',
         'torch resizes the empty view in place at the same storage offset'),
    'core.kernels.peers.x_favor_plus_features__mutmut_7':
        ('sq = 0.5 * (X * X).sum(dim=0, )',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.kernels.peers.x_favor_plus_features__mutmut_10':
        ('sq = 0.5 * (X * X).sum(dim=0, keepdim=False)',
         'a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives'),
    'core.kernels.peers.x_favor_plus_attention__mutmut_109':
        ('S = torch.zeros(M, dtype=V.dtype, device=V.device)',
         'a zero (M,) vector broadcasts to the same accumulated S'),
    'core.kernels.peers.x_favor_plus_attention__mutmut_123':
        ('S = S - values[:, j:j + chunk] @',
         'numerator and denominator are both negated exactly: their quotient is unchanged'),
    'core.kernels.peers.x_favor_plus_attention__mutmut_153':
        ('if (len(outs) == 1) and False else torch.cat(outs, dim=1)',
         'torch.cat of a single block returns the same values'),
    'core.kernels.peers.x_sdpa_attention__mutmut_78':
        ('if (len(blocks) == 1) and False else torch.cat(blocks, dim=1)',
         'torch.cat of a single block returns the same values'),
    'core.kernels.polynomial.xǁExpPolynomialǁ__call____mutmut_3':
        ('np.zeros_like(np.asarray(None, dtype=np.float64))',
         "a 0-d float64 zero broadcasts to x's shape on the first Horner step"),
    'core.kernels.polynomial.x_sampled_relative_error__mutmut_14':
        ('[+1.0, 1.0]])',
         '-R is sampled anyway: cos(pi) is exactly -1.0 in float64'),
    'core.kernels.polynomial.x_candidate_degree__mutmut_11':
        ('for g in range(MAX_DEGREE - 1):',
         'unreachable: the float64 guard limits R to about 17, where the least degree is <= 59 '
         '(Taylor) or 36 (Chebyshev)'),
    'core.kernels.polynomial.x_candidate_degree__mutmut_12':
        ('for g in range(MAX_DEGREE + 2):',
         'as mutant 11'),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_3':
        ('for row in self.entries], dtype=None)',
         'a nested list of Python floats becomes float64'),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_5':
        ('for row in self.entries], )',
         'as mutant 3'),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_9':
        ('zip(self.entries, out, strict=None)',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_12':
        ('zip(self.entries, out, )',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_13':
        ('zip(self.entries, out, strict=False)',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_16':
        ('zip(row, frow, strict=None)',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_19':
        ('zip(row, frow, )',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.constructions.universal.xǁPromptǁfloat64__mutmut_20':
        ('zip(row, frow, strict=False)',
         "the prompt's entries are d rows of L_p Fractions and out is built from them: equal "
         "lengths"),
    'core.mp_twin.x_mp_attention__mutmut_14':
        ('mpmath.exp(x + top)',
         "softmax is invariant under a common factor and mpmath exponents are unbounded: the "
         "weights agree to the working precision's last digit"),
    'core.mp_twin.x_mp_attention__mutmut_23':
        ('zip(*out_cols, strict=None)',
         'every output column has d entries by construction'),
    'core.mp_twin.x_mp_attention__mutmut_25':
        ('zip(*out_cols, )',
         'as mutant 23'),
    'core.mp_twin.x_mp_attention__mutmut_26':
        ('zip(*out_cols, strict=False)',
         'as mutant 23'),
    'core.mp_twin.x_to_mp__mutmut_4':
        ('np.asarray(array, dtype=None)',
         'every caller passes float64 arrays (validated weights, X and P)'),
    'core.mp_twin.x_to_mp__mutmut_6':
        ('np.asarray(array, )]',
         'as mutant 4'),
    'core.mp_twin.x_mp_forward__mutmut_66':
        ('_columns(z, lp, None)',
         'a slice to None runs to the end, which is len(z[0])'),
    'core.lipschitz.xǁLipschitzTargetǁvalues__mutmut_138':
        ('np.where(p["sign"] >= 0,',
         "the sawtooth's signs are drawn from {-1, +1}: never 0"),
    'core.lipschitz.xǁLipschitzTargetǁvalues__mutmut_150':
        ('np.clip(out, None, 1.0)',
         "the sawtooth's clip only trims float64 rounding: base lies in [0, 1 - C·w] and the "
         "tooth rises by at most C·w"),
    'core.lipschitz.xǁLipschitzTargetǁvalues__mutmut_151':
        ('np.clip(out, 0.0, None)',
         "the sawtooth's clip only trims float64 rounding: base lies in [0, 1 - C·w] and the "
         "tooth rises by at most C·w"),
    'core.lipschitz.xǁLipschitzTargetǁvalues__mutmut_156':
        ('np.clip(out, 0.0, 2.0)',
         "the sawtooth's clip only trims float64 rounding: base lies in [0, 1 - C·w] and the "
         "tooth rises by at most C·w"),
    'core.constructions.evaluate.x_compile_exact__mutmut_14':
        ('for k in range(weights.s)), )',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' an empty sum (a unit reading no channel) gives 0 either way'),
    'core.constructions._pl.x__values_at__mutmut_3':
        ('p[1] > 0), key=None)',
         'sorting the (breakpoint, a, b, w) tuples themselves orders them by breakpoint first; '
         'pieces that share a breakpoint are summed in either order'),
    'core.constructions._pl.x__values_at__mutmut_5':
        ('p[1] > 0), )',
         'as mutant 3'),
    'core.constructions._pl.x__values_at__mutmut_13':
        ('p[1] < 0), key=None)',
         'as mutant 3'),
    'core.constructions._pl.x__values_at__mutmut_15':
        ('p[1] < 0), )',
         'as mutant 3'),
    'core.constructions._pl.x__values_at__mutmut_7':
        ('p[1] >= 0)',
         'no piece has a = 0: profiles_of_layer keeps only units that read their channel '
         "(flatnonzero of w1's row)"),
    'core.constructions._pl.x__values_at__mutmut_17':
        ('p[1] <= 0)',
         'as mutant 7'),
    'core.constructions._pl.x__values_at__mutmut_29':
        ('na = sum((p[3] * p[1] for p in neg), )',
         'sum() starting at int 0: 0 + Fraction is the same Fraction, and an empty sum 0 only '
         'enters Fraction arithmetic'),
    'core.constructions._pl.x__values_at__mutmut_39':
        ('nb = sum((p[3] * p[2] for p in neg), )',
         'as mutant 29'),
    'core.constructions._pl.x__values_at__mutmut_50':
        ('pos[ip][0] <= x',
         'a unit whose breakpoint is x contributes ReLU(0) = 0 at x whether or not it is active'),
    'core.constructions._pl.x__values_at__mutmut_67':
        ('neg[ineg][0] < x',
         'as mutant 50'),
    'core.constructions._pl.x_profiles_of_layer__mutmut_43':
        ('if a * y + b > 0), )',
         'sum() starting at int 0: 1 + 0 == Fraction(1), and the slope only enters Fraction '
         'arithmetic and comparisons'),
    'core.constructions._pl.x_profiles_of_layer__mutmut_45':
        ('a * y - b > 0',
         'at y = ±far, far = max|−b/a| + 1, |a·y| > |b|: the sign of a·y ± b is the sign of a·y'),
    'core.constructions._pl.x_profiles_of_layer__mutmut_47':
        ('a * y + b >= 0',
         'as mutant 45: a·y + b is never 0 there'),
    'core.constructions._pl.x_profiles_of_layer__mutmut_70':
        ('for x in xs) + 2',
         'any y beyond every breakpoint gives the same end slopes'),
    'core.constructions.universal.x__deep_post__mutmut_3':
        ('if len(vs) >= 1:',
         'with one slot value the branch builds [shift] * 0 = []: no layer either way'),
    'core.constructions.universal.x__deep_post__mutmut_14':
        ('Region(const - vs[0], const + vs[0] + 1,',
         'vs[0] = 0 always: slot values are sorted and code_value(s, 0, (0, …)) = 0, so ±vs[0] is'
         ' the same'),
    'core.constructions.universal.x__deep_post__mutmut_17':
        ('const - vs[0] + 1, Fraction(1)',
         'vs[0] = 0 always: slot values are sorted and code_value(s, 0, (0, …)) = 0, so ±vs[0] is'
         ' the same'),
    'core.constructions.universal.x__deep_post__mutmut_22':
        ('Fraction(1), const - vs[0])]',
         'vs[0] = 0 always: slot values are sorted and code_value(s, 0, (0, …)) = 0, so ±vs[0] is'
         ' the same'),
    'core.constructions.universal.x_prompt_from_levels__mutmut_50':
        ('for r in chunk),\n                           ))',
         'sum() of a nonempty chunk of Fractions (prompt_tokens = ⌈(N+1)/per_entry⌉ leaves no '
         'empty chunk): int 0 + Fraction is the same Fraction'),
    'core.constructions.universal.x__ff_pre__mutmut_13':
        ('units.append((c, 1.0, -2.0, w2))',
         'collapses every input token to 2 instead of 1 (inputs are ≥ 2 after the positions): a '
         'uniform shift that const, computed by the same network at the centre of cell 0, absorbs'),
    'core.constructions.universal.x__ff_pre__mutmut_82':
        ('Fraction(float(edge)) != edge and Fraction(float(w)) != w',
         'the guard cannot fire: w = R^(jd+i)/η and the knots o + b/K ± η/2 are dyadic with at '
         'most ~45 significant bits (K, η powers of two, η ≥ 2^-40, o ≤ 10)'),
    'core.constructions.universal.x__pos__mutmut_5':
        ('E[:, : s.prompt_tokens] = -2.0',
         'prompt tokens stay below 1, where the collapsing unit ReLU(y − 1) is silent: every '
         'prompt token shifts by −1, a uniform shift of the attention mean that const absorbs'),
    'core.constructions._pl.x_layer_from_regions__mutmut_36':
        ('_exact(None, 1 - slopes[0])',
         'the unit before it checks slopes[0] − 1, which float64 holds exactly iff it holds 1 − '
         'slopes[0]: this check never fires first'),
    'core.constructions._pl.x_layer_from_regions__mutmut_40':
        ('_exact("XXslopeXX", 1 - slopes[0])',
         'as mutant 36'),
    'core.constructions._pl.x_layer_from_regions__mutmut_41':
        ('_exact("SLOPE", 1 - slopes[0])',
         'as mutant 36'),
    'core.constructions.universal.x_build_universal__mutmut_46':
        ('att["w_o"], beta=2.0,',
         'attention is uniform (W_Q = 0): softmax of all-zero scores is 1/n at any β'),
    'core.constructions.universal.x_build_universal__mutmut_128':
        ('att["w_o"], beta=2.0,',
         'as mutant 46'),
    'core.constructions.universal.x_build_universal__mutmut_60':
        ('Fraction(1, 3 * s.K)',
         'const is read at one point of cell 0 away from its η-strip; x = 1/(3K) is such a point '
         'as well as 1/(2K), and FF_pre maps both to the same code'),
    'core.constructions.universal.x_digits_per_prompt_entry__mutmut_5':
        ('return max(2, ',
         'β = pow2 ≥ M + 3 with M ≤ 2^10, so log2 β ≤ 11 and ⌊48/log2 β⌋ ≥ 4: neither floor binds'),
    'core.constructions.universal.x__wide_post__mutmut_30':
        ('enumerate(prefix)),\n' + ' ' * 24 + ')\n',
         'sum() of a nonempty prefix (idx + 1 >= 1 terms) of Fractions: int 0 + Fraction is '
         'the same Fraction'),
    'core.constructions.universal.x_build_prompt__mutmut_15':
        ('table = [[1] * s.slots', 'the initial table value is overwritten: the N = L·K^{dL} '
                                   'slots are exactly the (cell, position) codes, which are '
                                   'injective (test_codes_are_injective_and_match_the_network)'),
    'core.constructions.evaluate.x_compile_exact__mutmut_49':
        ('len(_CACHE) >= 32', 'the cache is emptied one program earlier: only memory changes, '
                              'every lookup still returns the program of that digest'),
    'core.constructions.evaluate.x_compile_exact__mutmut_50':
        ('len(_CACHE) > 33', 'as mutant 49: one program later'),
    'core.constructions.evaluate.x_compile_exact__mutmut_25':
        ('b"XXXX".join(',
         'a cache key only within this call: any separator maps equal layers to equal keys and, '
         'for arrays of fixed shapes, distinct layers to distinct keys'),
    'core.constructions.evaluate.x_rational_matrix__mutmut_4':
        ('np.asarray(a, dtype=None)',
         'Fraction(float(v)) reads the same value from any real dtype'),
    'core.constructions.evaluate.x_rational_matrix__mutmut_6':
        ('np.asarray(a, )]',
         'as mutant 4'),
    'core.constructions.evaluate.xǁExactProgramǁforward__mutmut_43':
        ('for col in cols), ) / n',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' an empty sum (a unit reading no channel) gives 0 either way'),
    'core.constructions.evaluate.xǁExactProgramǁforward__mutmut_51':
        ('total[c] for c in range(d)), )',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' an empty sum (a unit reading no channel) gives 0 either way'),
    'core.constructions.evaluate.xǁ_Denseǁapply__mutmut_12':
        ('for c, w in row), ))',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' an empty sum (a unit reading no channel) gives 0 either way'),
    'core.constructions.evaluate.xǁ_Denseǁapply__mutmut_18':
        ('zip(self.rows, self.b1, strict=None)',
         'rows and b1 both have one entry per hidden unit, by construction in _Dense.of'),
    'core.constructions.evaluate.xǁ_Denseǁapply__mutmut_21':
        ('zip(self.rows, self.b1, )]',
         'as mutant 18'),
    'core.constructions.evaluate.xǁ_Denseǁapply__mutmut_22':
        ('zip(self.rows, self.b1, strict=False)',
         'as mutant 18'),
    'core.constructions.evaluate.xǁ_Denseǁapply__mutmut_28':
        ('for u, w in self.cols[c]), )',
         'sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and'
         ' an empty sum (a unit reading no channel) gives 0 either way'),
}


@dataclass
class ModuleScore:
    """Counts of one module's mutants by status."""

    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def scored(self) -> int:
        """Mutants in the denominator: checked, not skipped, not equivalent."""
        return self.total - sum(self.counts[s] for s in ("not checked", "skipped",
                                                          "equivalent"))

    @property
    def killed(self) -> int:
        return sum(self.counts[s] for s in ("killed", "timeout", "caught by type check",
                                            "segfault"))

    @property
    def score(self) -> float | None:
        return 100.0 * self.killed / self.scored if self.scored else None

    @property
    def floor(self) -> float | None:
        """The score if every mutant not yet checked survived: a bound that holds now."""
        scored = self.scored + self.counts["not checked"]
        return 100.0 * self.killed / scored if scored else None


def load_statuses(mutants_dir: Path) -> dict[str, str]:
    """``{mutant name: status}`` from every ``*.meta`` file under ``mutants_dir/core``."""
    metas = sorted((mutants_dir / "core").rglob("*.meta"))
    if not metas:
        raise HarnessError(
            f"mutants_dir={str(mutants_dir)!r}: no mutmut results (*.meta) under core/; run "
            "'mutmut run' first (see docs/mutation.md)")
    statuses: dict[str, str] = {}
    for meta in metas:
        try:
            codes = json.loads(meta.read_text())["exit_code_by_key"]
        except (OSError, ValueError, KeyError) as exc:
            raise HarnessError(f"{meta}: not a mutmut result file ({exc})") from None
        for name, code in codes.items():
            statuses[name] = _STATUS_BY_EXIT_CODE.get(code, "suspicious")
    return statuses


def _function_body(text: str, function: str) -> str:
    """Source of ``def function(...)`` in ``text``: its lines up to the first non-blank line
    indented no deeper than the ``def`` (nested definitions stay inside); ``""`` if absent."""
    match = re.search(rf"^([ \t]*)def {re.escape(function)}\(", text, flags=re.MULTILINE)
    if match is None:
        return ""
    indent = len(match.group(1))
    lines = text[match.start():].split("\n")
    body = [lines[0]]
    for line in lines[1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent and \
                not line.lstrip().startswith(")"):
            break
        body.append(line)
    return "\n".join(body)


def check_equivalent(mutants_dir: Path,
                     equivalent: dict[str, tuple[str, str]] = EQUIVALENT) -> None:
    """Each listed mutant's generated source still contains its recorded fragment."""
    for name, (fragment, _reason) in equivalent.items():
        module, _, function = name.rpartition(".")
        source = mutants_dir / (module.replace(".", "/") + ".py")
        text = source.read_text() if source.is_file() else ""
        body = _function_body(text, function)
        if fragment not in body:
            raise HarnessError(
                f"EQUIVALENT[{name!r}]: its source in {source} no longer contains {fragment!r};"
                " the mutants were renumbered or the code changed, so re-judge it")


def _module_of(mutant: str) -> str:
    """``core.kernels.plan.x_f__mutmut_3`` -> ``core.kernels.plan``."""
    parts = mutant.split(".")
    return ".".join(p for p in parts[:-1])


def score_by_module(statuses: dict[str, str],
                    equivalent: Iterable[str] = EQUIVALENT) -> list[ModuleScore]:
    """One :class:`ModuleScore` per module plus a final ``TOTAL`` row."""
    equivalent = set(equivalent)
    stale = sorted(equivalent - set(statuses))
    if stale:
        raise HarnessError(f"EQUIVALENT lists mutants that no longer exist: {stale}; the "
                           "source changed, so re-judge them")
    rows: dict[str, ModuleScore] = {}
    total = ModuleScore("TOTAL")
    for name, status in sorted(statuses.items()):
        if name in equivalent and status in ("survived", "no tests"):
            status = "equivalent"
        row = rows.setdefault(_module_of(name), ModuleScore(_module_of(name)))
        for r in (row, total):
            r.counts[status] += 1
            if status in ("survived", "no tests", "suspicious"):
                r.survivors.append(name)
    return [*rows.values(), total]


def _table(rows: Sequence[ModuleScore]) -> str:
    head = (f"{'module':<32} {'mutants':>7} {'killed':>6} {'surv':>5} {'equiv':>5} "
            f"{'unchk':>5} {'score':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        score = "—" if r.score is None else f"{r.score:.1f}%"
        lines.append(f"{r.module:<32} {r.total:>7} {r.killed:>6} {len(r.survivors):>5} "
                     f"{r.counts['equivalent']:>5} {r.counts['not checked']:>5} {score:>6}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.mutation_score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutants-dir", type=Path, default=Path("mutants"), metavar="DIR",
                        help="mutmut's working directory (default: ./mutants)")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument("--min-score", type=float, default=None, metavar="PERCENT",
                        help="exit 1 if any module or the total scores below PERCENT")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the table as JSON")
    args = parser.parse_args(argv)
    if args.min_score is not None and not 0 <= args.min_score <= 100:
        parser.error(f"--min-score={args.min_score}: must be a percentage in [0, 100]")
    try:
        statuses = load_statuses(args.mutants_dir)
        check_equivalent(args.mutants_dir, EQUIVALENT)
        rows = score_by_module(statuses, EQUIVALENT)
    except HarnessError as exc:
        print(f"mutation_score: error: {exc}", file=sys.stderr)
        return 2
    print(_table(rows))
    total = rows[-1]
    if total.counts["not checked"] and total.floor is not None:
        print(f"{total.counts['not checked']} mutants not yet checked: if all of them "
              f"survived, the total would be {total.floor:.1f}%")
    if args.survivors:
        for name in rows[-1].survivors:
            print(f"  survived: {name}")
    if args.json is not None:
        from .bench import write_json_atomically

        write_json_atomically(args.json, {"modules": [
            {"module": r.module, "counts": dict(r.counts), "score": r.score,
             "survivors": r.survivors} for r in rows]})
    if args.min_score is not None:
        low = [r.module for r in rows if r.score is not None and r.score < args.min_score]
        if low:
            print(f"below {args.min_score}%: {', '.join(low)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
