"""Equivalent mutants of ``core/``: mutmut mutants that no input can tell from the original.

``EQUIVALENT[function][key] = reason``, read by :mod:`tools.mutation_score`:

- ``function``: mutmut's name of the function without the ``__mutmut_N`` suffix,
  ``core.<module>.x_<function>`` or ``core.<module>.xǁ<Class>ǁ<method>``;
- ``key``: the mutated line, the line of the mutant that differs from the original function,
  stripped and with runs of white space made one space (``--survivors`` prints it for each
  surviving mutant); or ``(original line, mutated line)`` where mutants of the function with
  different original lines share the mutated line;
- ``reason``: why no input distinguishes the mutant; "as `…`" refers to another entry of the
  same function.

An entry covers every mutant of its function with that change, so renumbering (an edit
elsewhere in the function) keeps it; an entry that matches no mutant is reported as stale.
"""

from __future__ import annotations

__all__ = ["EQUIVALENT", "EntryKey"]

#: A mutated line, or an (original line, mutated line) pair.
EntryKey = str | tuple[str, str]

_ASTYPE_NONE = "numpy's astype(None) is float64"
_SEED_SALT = (
    "salt of a seeded stream: another constant gives an equally distributed, equally reproducible "
    "draw (no other stream has this seed-sequence length); which draw is not part of the contract")
_START_GUESS_BELOW = (
    "the start guess ⌊x⌋−1 (x = N·L·log2(M+1)/bits) never exceeds the least solution ⌈x⌉ >= 1; "
    "the up-loop then lands on it whatever the guess")
_DOWN_LOOP_NEVER_RUNS = "the down-loop never runs: the guess never exceeds the least solution"
_RECHECKED_BY_PLAN_UNIVERSAL = (
    "plan_universal re-checks d and L with the same names, limits and messages")
_SHAPES_VALIDATED = (
    "every shape is validated before the twin multiplies (TransformerWeights, FeedForwardWeights, "
    "mp_forward's X and P checks): zipped sequences have equal lengths, and strict= is a guard "
    "that cannot fire")
_KEEPDIM_BROADCASTS = (
    "a (m,) row broadcasts against (n, m) exactly like the (1, m) row keepdim gives")
_CAT_OF_ONE_BLOCK = "torch.cat of a single block returns the same values"
_PROMPT_ROWS = (
    "the prompt's entries are d rows of L_p Fractions and out is built from them: equal lengths")
_SAWTOOTH_CLIP = (
    "the sawtooth's clip only trims float64 rounding: base lies in [0, 1 - C·w] and the tooth "
    "rises by at most C·w")
_FRACTION_SUM_START = (
    "sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, and an "
    "empty sum (a unit reading no channel) gives 0 either way")
_FIRST_SLOT_ZERO = (
    "vs[0] = 0 always: slot values are sorted and code_value(s, 0, (0, …)) = 0, so ±vs[0] is the "
    "same")

EQUIVALENT: dict[str, dict[EntryKey, str]] = {
    "core.attention.x_exact_attention": {
        "if Q.shape[1] < query_chunk:":
            "at m == query_chunk the chunked path runs one chunk: the same scores, softmax and "
            "product",
    },
    "core.bounds.x_min_prompt_length_exact": {
        'M = check_int("M", M, minimum=None, maximum=MAX_EXACT_BITS)':
            "least_power_reaching re-checks M >= 0 with the same name and message",
        'M = check_int("M", M, maximum=MAX_EXACT_BITS)':
            'as `check_int("M", M, minimum=None`: M >= 0 is re-checked',
    },
    "core.bounds.x_least_power_reaching": {
        "while e >= 0 and base ** (e - 1) >= target:":
            "e >= 0 for e > 0 in the step-down loop: at e = 0 the test base**-1 < 1 <= 2^M is "
            "false anyway",
        "while e > 0 and base ** (e + 1) >= target:":
            "the step-down loop may overshoot by two; the step-up loop that follows restores the "
            "least solution",
        "e -= 2":
            "steps of two down overshoot by at most one; the step-up loop restores the least "
            "solution",
    },
    "core.capacity_sweep.x_random_dataset": {
        "rng = np.random.default_rng([seed, setting.d, setting.L, setting.N, 12])": _SEED_SALT,
    },
    "core.capacity_sweep.x_frozen_random_model": {
        "rng = np.random.default_rng([seed, d, 8])": _SEED_SALT,
        "ws = [rng.normal(0.0, 1.0 / math.sqrt(d), (s, d)) for _ in range(4)]":
            "one more weight matrix drawn and unused: the three used are still i.i.d. N(0, 1/d) "
            "from the seeded stream",
    },
    "core.capacity_sweep.x_capacity_row": {
        "rng = np.random.default_rng([cfg.seed, lp, 14])": _SEED_SALT,
    },
    "core.constructions._pl.x__values_at": {
        "pos = sorted((p for p in pieces if p[1] > 0), key=None)":
            "sorting the (breakpoint, a, b, w) tuples themselves orders them by breakpoint "
            "first; pieces that share a breakpoint are summed in either order",
        "pos = sorted((p for p in pieces if p[1] > 0), )": "as `p[1] > 0), key=None)`",
        "pos = sorted((p for p in pieces if p[1] >= 0), key=lambda p: p[0])":
            "no piece has a = 0: profiles_of_layer keeps only units that read their channel "
            "(flatnonzero of w1's row)",
        "neg = sorted((p for p in pieces if p[1] < 0), key=None)": "as `p[1] > 0), key=None)`",
        "neg = sorted((p for p in pieces if p[1] < 0), )": "as `p[1] > 0), key=None)`",
        "neg = sorted((p for p in pieces if p[1] <= 0), key=lambda p: p[0])": "as `p[1] >= 0)`",
        "na = sum((p[3] * p[1] for p in neg), )":
            "sum() starting at int 0: 0 + Fraction is the same Fraction, and an empty sum 0 only "
            "enters Fraction arithmetic",
        "nb = sum((p[3] * p[2] for p in neg), )": "as `na = sum((p[3] * p[1] for p in neg), )`",
        "while ip < len(pos) and pos[ip][0] <= x:":
            "a unit whose breakpoint is x contributes ReLU(0) = 0 at x whether or not it is "
            "active",
        "while ineg < len(neg) and neg[ineg][0] < x:": "as `pos[ip][0] <= x`",
    },
    "core.constructions._pl.x_layer_from_regions": {
        "units.append((-1.0, 0.0, _exact(None, 1 - slopes[0])))":
            "the unit before it checks slopes[0] − 1, which float64 holds exactly iff it holds 1 "
            "− slopes[0]: this check never fires first",
        'units.append((-1.0, 0.0, _exact("XXslopeXX", 1 - slopes[0])))':
            "as `_exact(None, 1 - slopes[0])`",
        'units.append((-1.0, 0.0, _exact("SLOPE", 1 - slopes[0])))':
            "as `_exact(None, 1 - slopes[0])`",
    },
    "core.constructions._pl.x_profiles_of_layer": {
        "return 1 + sum((w * a for _, a, b, w in pieces if a * y + b > 0), )":
            "sum() starting at int 0: 1 + 0 == Fraction(1), and the slope only enters Fraction "
            "arithmetic and comparisons",
        "return 1 + sum((w * a for _, a, b, w in pieces if a * y - b > 0), Fraction(0))":
            "at y = ±far, far = max|−b/a| + 1, |a·y| > |b|: the sign of a·y ± b is the sign of "
            "a·y",
        "return 1 + sum((w * a for _, a, b, w in pieces if a * y + b >= 0), Fraction(0))":
            "as `a * y - b > 0`: a·y + b is never 0 there",
        "far = max(abs(x) for x in xs) + 2":
            "any y beyond every breakpoint gives the same end slopes",
    },
    "core.constructions.contextual.x_vocabulary": {
        "if np.linalg.norm(cand) <= min_norm:":
            "differs only if a continuous random draw's norm equals the threshold exactly",
        "if all(np.linalg.norm(cand - t) > min_gap for t in toks):":
            "differs only if a continuous random draw's distance equals the threshold exactly",
    },
    "core.constructions.contextual.x_contextual_separation": {
        "if count >= 2000:":
            "no admissible (vocabulary, L) gives exactly 2000 contexts (nearest: 1944, 2160)",
        "if count > 2001:": "as `if count >= 2000:`",
        "if best is None or ratio <= best[0]:":
            "differs only if two draws of continuous random matrices give exactly equal ratios",
        "w = [mpmath.exp(x + top) for x in sc]":
            "softmax is invariant under a common factor and mpmath exponents are unbounded: the "
            "weights agree to the working precision's last digit",
        "log10_gamma = float(mpmath.log10(hi)) if (hi > 0) or True else -math.inf":
            "mpmath.log10(0) is already -inf",
        "log10_gamma = float(mpmath.log10(hi)) if hi >= 0 else -math.inf":
            "as `if (hi > 0) or True else -math.inf`",
        "B=B, sqrt_log_n=math.sqrt(math.log(n)) if (n > 1) or True else 0.0, rank=rank,":
            "√(ln 1) is 0.0",
        "B=B, sqrt_log_n=math.sqrt(math.log(n)) if n >= 1 else 0.0, rank=rank,":
            "as `math.sqrt(math.log(n)) if (n > 1) or True else 0.0`",
    },
    "core.constructions.evaluate.x_rational_matrix": {
        "return [[Fraction(float(v)) for v in row] for row in np.asarray(a, dtype=None)]":
            "Fraction(float(v)) reads the same value from any real dtype",
        "return [[Fraction(float(v)) for v in row] for row in np.asarray(a, )]":
            "as `np.asarray(a, dtype=None)`",
    },
    "core.constructions.evaluate.xǁ_Denseǁapply": {
        "h = [max(Fraction(0), b + sum((w * col[c] for c, w in row), ))": _FRACTION_SUM_START,
        "for row, b in zip(self.rows, self.b1, strict=None)]":
            "rows and b1 both have one entry per hidden unit, by construction in _Dense.of",
        "for row, b in zip(self.rows, self.b1, )]": "as `zip(self.rows, self.b1, strict=None)`",
        "for row, b in zip(self.rows, self.b1, strict=False)]":
            "as `zip(self.rows, self.b1, strict=None)`",
        "return [col[c] + self.b2[c] + sum((w * h[u] for u, w in self.cols[c]), )":
            _FRACTION_SUM_START,
    },
    "core.constructions.evaluate.x_compile_exact": {
        "mix = [[sum((wo[r][k] * wv[k][c] for k in range(weights.s)), )": _FRACTION_SUM_START,
        'key_layer = b"XXXX".join(a.tobytes() for a in layer.arrays())':
            "a cache key only within this call: any separator maps equal layers to equal keys "
            "and, for arrays of fixed shapes, distinct layers to distinct keys",
        "if len(_CACHE) >= 32:":
            "the cache is emptied one program earlier: only memory changes, every lookup still "
            "returns the program of that digest",
        "if len(_CACHE) > 33:": "as `len(_CACHE) >= 32`: one program later",
    },
    "core.constructions.memorise.x_memorisation_request": {
        'd = check_int("d", d, minimum=None, maximum=4)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'd = check_int("d", d, minimum=1, maximum=None)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'd = check_int("d", d, maximum=4)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'd = check_int("d", d, minimum=1, )': _RECHECKED_BY_PLAN_UNIVERSAL,
        'd = check_int("d", d, minimum=1, maximum=5)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'L = check_int("L", L, minimum=None, maximum=4)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'L = check_int("L", L, minimum=1, maximum=None)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'L = check_int("L", L, maximum=4)': _RECHECKED_BY_PLAN_UNIVERSAL,
        'L = check_int("L", L, minimum=1, )': _RECHECKED_BY_PLAN_UNIVERSAL,
        'L = check_int("L", L, minimum=1, maximum=5)': _RECHECKED_BY_PLAN_UNIVERSAL,
    },
    "core.constructions.memorise.x_label_levels": {
        "return np.array(flat, dtype=None).reshape(np.shape(Y))":
            "a list of Python ints becomes int64 either way",
        "return np.array(flat, ).reshape(np.shape(Y))": "as `np.array(flat, dtype=None)`",
    },
    "core.constructions.memorise.x_memorisation_table": {
        "levels = label_levels(s, np.asarray(Y, dtype=None))":
            "label_levels reads each entry with float(); Y is already validated",
        "levels = label_levels(s, np.asarray(Y, ))":
            "as `label_levels(s, np.asarray(Y, dtype=None))`",
    },
    "core.constructions.memorise.x_memorisation_lower_bound": {
        "lp = max(1, math.floor(N * L * math.log2(M + 1) / bits) - 1)": _START_GUESS_BELOW,
        "lp = max(0, math.floor(N * L * math.log2(M + 1) / bits) + 1)":
            "a guess one above ⌊x⌋ is still <= ⌈x⌉ or one over it, which the down-loop repairs",
        "lp = max(0, math.floor(N * L * math.log2(M + 1) * bits) - 1)": _START_GUESS_BELOW,
        "lp = max(0, math.floor(N * L / math.log2(M + 1) / bits) - 1)": _START_GUESS_BELOW,
        "lp = max(0, math.floor(N / L * math.log2(M + 1) / bits) - 1)": _START_GUESS_BELOW,
        "lp = max(0, math.floor(N * L * math.log2(M + 2) / bits) - 1)": _START_GUESS_BELOW,
        "lp = max(0, math.floor(N * L * math.log2(M + 1) / bits) - 2)": _START_GUESS_BELOW,
        "while (1 << (bits * d * lp)) <= need:":
            "overshoots by one at equality; the down-loop repairs it",
        "lp += 2": "overshoots by at most one; the down-loop repairs it",
        "while lp >= 0 and (1 << (bits * d * (lp - 1))) >= need:": _DOWN_LOOP_NEVER_RUNS,
        "while lp > 1 and (1 << (bits * d * (lp - 1))) >= need:": _DOWN_LOOP_NEVER_RUNS,
        "while lp > 0 and (1 >> (bits * d * (lp - 1))) >= need:": _DOWN_LOOP_NEVER_RUNS,
        "while lp > 0 and (1 << (bits * d * (lp - 1))) > need:": _DOWN_LOOP_NEVER_RUNS,
        ("lp -= 1",
         "lp = 1"):
            _DOWN_LOOP_NEVER_RUNS,
        "lp += 1": _DOWN_LOOP_NEVER_RUNS,
        "lp -= 2": _DOWN_LOOP_NEVER_RUNS,
    },
    "core.constructions.sizes.x_form_cost_table": {
        'deep = _sizes(d, L, C, None, p, "deep", *choice)':
            "ε is only stored in the record, and this table never reads it",
        'wide = _sizes(d, L, C, None, p, "wide", *choice)':
            'as `deep = _sizes(d, L, C, None, p, "deep", *choice)`',
        "wide = _sizes(d, L, C, eps, p, None, *choice)":
            '_sizes takes the wide branch for any form other than "deep"',
        'wide = _sizes(d, L, C, eps, p, "XXwideXX", *choice)':
            "as `wide = _sizes(d, L, C, eps, p, None, *choice)`",
        'wide = _sizes(d, L, C, eps, p, "WIDE", *choice)':
            "as `wide = _sizes(d, L, C, eps, p, None, *choice)`",
        'wide_units = (f"{wide.units:.3g}" if wide.slots <= 65 else':
            "slots = L·2^m is a power of two times L <= 4: never 65",
    },
    "core.constructions.sizes.x__nearest": {
        "if e > 0.999:":
            "the ladder is capped at 0.999, so e == 0.999 re-tries the same plan: same result",
        "if e >= 1.999:": "as `if e > 0.999:`",
    },
    "core.constructions.universal.xǁPromptǁfloat64": {
        "out = np.array([[float(v) for v in row] for row in self.entries], dtype=None)":
            "a nested list of Python floats becomes float64",
        "out = np.array([[float(v) for v in row] for row in self.entries], )":
            "as `for row in self.entries], dtype=None)`",
        "for row, frow in zip(self.entries, out, strict=None):": _PROMPT_ROWS,
        "for row, frow in zip(self.entries, out, ):": _PROMPT_ROWS,
        "for row, frow in zip(self.entries, out, strict=False):": _PROMPT_ROWS,
        "for v, f in zip(row, frow, strict=None):": _PROMPT_ROWS,
        "for v, f in zip(row, frow, ):": _PROMPT_ROWS,
        "for v, f in zip(row, frow, strict=False):": _PROMPT_ROWS,
    },
    "core.constructions.universal.x__deep_post": {
        "if len(vs) >= 1:":
            "with one slot value the branch builds [shift] * 0 = []: no layer either way",
        "regions = [Region(const - vs[0], const + vs[0] + 1, Fraction(1), const + vs[0])]":
            _FIRST_SLOT_ZERO,
        "regions = [Region(const + vs[0], const - vs[0] + 1, Fraction(1), const + vs[0])]":
            _FIRST_SLOT_ZERO,
        "regions = [Region(const + vs[0], const + vs[0] + 1, Fraction(1), const - vs[0])]":
            _FIRST_SLOT_ZERO,
    },
    "core.constructions.universal.x__torch_forward": {
        "model = PromptTunedTransformer(weights, )": "float64 is the model's default dtype",
    },
    "core.constructions.universal.x__pos": {
        "E[:, : s.prompt_tokens] = -2.0":
            "prompt tokens stay below 1, where the collapsing unit ReLU(y − 1) is silent: every "
            "prompt token shifts by −1, a uniform shift of the attention mean that const absorbs",
    },
    "core.constructions.universal.x_digits_per_prompt_entry": {
        "return max(2, BITS_PER_PROMPT_ENTRY // (sizes.beta.bit_length() - 1))":
            "β = pow2 ≥ M + 3 with M ≤ 2^10, so log2 β ≤ 11 and ⌊48/log2 β⌋ ≥ 4: neither floor "
            "binds",
    },
    "core.constructions.universal.x__ff_pre": {
        "units.append((c, 1.0, -2.0, w2))":
            "collapses every input token to 2 instead of 1 (inputs are ≥ 2 after the positions): "
            "a uniform shift that const, computed by the same network at the centre of cell 0, "
            "absorbs",
        "if Fraction(float(edge)) != edge and Fraction(float(w)) != w:":
            "the guard cannot fire: w = R^(jd+i)/η and the knots o + b/K ± η/2 are dyadic with "
            "at most ~45 significant bits (K, η powers of two, η ≥ 2^-40, o ≤ 10)",
    },
    "core.constructions.universal.x_build_prompt": {
        "table = [[1] * s.slots for _ in range(s.d)]":
            "the initial table value is overwritten: the N = L·K^{dL} slots are exactly the "
            "(cell, position) codes, which are injective "
            "(test_codes_are_injective_and_match_the_network)",
    },
    "core.constructions.universal.x__wide_post": {
        ")":
            "sum() of a nonempty prefix (idx + 1 >= 1 terms) of Fractions: int 0 + Fraction is "
            "the same Fraction",
    },
    "core.constructions.universal.x_build_universal": {
        'partial = TransformerWeights(att["w_q"], att["w_k"], att["w_v"], att["w_o"], beta=2.0,':
            "attention is uniform (W_Q = 0): softmax of all-zero scores is 1/n at any β",
        "centre0 = [[Fraction(1, 3 * s.K)] * L for _ in range(d)]":
            "const is read at one point of cell 0 away from its η-strip; x = 1/(3K) is such a "
            "point as well as 1/(2K), and FF_pre maps both to the same code",
        'weights = TransformerWeights(att["w_q"], att["w_k"], att["w_v"], att["w_o"], beta=2.0,':
            'as `att["w_o"], beta=2.0,`',
    },
    "core.constructions.universal.x_prompt_from_levels": {
        "))":
            "sum() of a nonempty chunk of Fractions (prompt_tokens = ⌈(N+1)/per_entry⌉ leaves no "
            "empty chunk): int 0 + Fraction is the same Fraction",
    },
    "core.gradient_bound.x_certified_derivative_eps": {
        'if not getattr(cert, "derivative", None):':
            "a missing attribute gives None or False: both falsy",
    },
    "core.gradient_bound.x__ff_pre_abs_jacobian": {
        "J = (torch.eye(d, dtype=None) + layer.w2.abs() @ layer.w1.abs()) @ J":
            "an identity of exact 0s and 1s, promoted to float64 by the add",
        "J = (torch.eye(d, ) + layer.w2.abs() @ layer.w1.abs()) @ J":
            "as `torch.eye(d, dtype=None)`",
    },
    "core.gradient_bound.x_prompt_gradient_bound": {
        "A = (w * a).sum(dim=0, ) # (1, m)": _KEEPDIM_BROADCASTS,
        "A = (w * a).sum(dim=0, keepdim=False) # (1, m)": _KEEPDIM_BROADCASTS,
        'dA = dG * (att.abs().sum(dim=0, ) + d * delta_att) \\': _KEEPDIM_BROADCASTS,
        'dA = dG * (att.abs().sum(dim=0, keepdim=False) + d * delta_att) \\': _KEEPDIM_BROADCASTS,
        "+ G.abs().sum(dim=0, ) * delta_att # (1, m)": _KEEPDIM_BROADCASTS,
        "+ G.abs().sum(dim=0, keepdim=False) * delta_att # (1, m)": _KEEPDIM_BROADCASTS,
        "s_abs = w * (a_abs + (w * a_abs).sum(dim=0, ))": _KEEPDIM_BROADCASTS,
        "s_abs = w * (a_abs + (w * a_abs).sum(dim=0, keepdim=False))": _KEEPDIM_BROADCASTS,
    },
    "core.kernels.fast_attention.x_rounding_allowance": {
        'return float("INF") if not denom > 0 else 2.0 * rho / denom * v_max':
            "Python reads 'INF' as infinity too",
    },
    "core.kernels.fast_attention.x__chunk_size": {
        "fitting = (memory_limit - fixed) / per_column":
            "int(min(...)) floors the quotient the same way below 2^53; larger would need "
            "terabyte feature tables, refused earlier",
    },
    "core.kernels.fast_attention.x__polynomial_attention": {
        "S = torch.zeros(features.rank, dtype=V.dtype, device=V.device)":
            "a zero (r,) vector broadcasts to the same accumulated S (n >= 1)",
        "return outs[0] if (len(outs) == 1) and False else torch.cat(outs, dim=1)":
            _CAT_OF_ONE_BLOCK,
    },
    "core.kernels.features.xǁMonomialFeaturesǁmonomials": {
        "if torch.is_grad_enabled() or X.requires_grad:":
            "the functional (autograd) path computes bit-identical values",
        "torch.mul(out[prev:prev + count], X[i], out=out[row:row - count])":
            "torch resizes the empty view in place at the same storage offset",
    },
    "core.kernels.features.xǁMonomialFeaturesǁquery_weights": {
        "c = np.asarray(coefficients, dtype=None)": "a tuple of Python floats becomes float64",
        "c = np.asarray(coefficients, )": "as `c = np.asarray(coefficients, dtype=None)`",
        "return c[self.degrees] * beta ** self.degrees.astype(None) * self.multinomials":
            _ASTYPE_NONE,
    },
    "core.kernels.features.xǁMonomialFeaturesǁbuild": {
        "for d, row in zip(degrees, exponents, strict=True)], dtype=None)":
            "numpy makes an array of Python floats float64 by default",
        "for d, row in zip(degrees, exponents, strict=True)], )":
            "as `for d, row in zip(degrees, exponents, strict=True)], dtype=None)`",
        "[float(math.factorial(int(d)) / math.prod(math.factorial(int(a)) for a in row))":
            "a multinomial coefficient is an exact integer quotient: int true division and "
            "float(a // b) are both correctly rounded",
        "for d, row in zip(degrees, exponents, strict=None)], dtype=np.float64)":
            "degrees and exponents have equal lengths by construction",
        "for d, row in zip(degrees, exponents, )], dtype=np.float64)":
            "as `zip(degrees, exponents, strict=None)], dtype=np.float64)`",
        "for d, row in zip(degrees, exponents, strict=False)], dtype=np.float64)":
            "as `zip(degrees, exponents, strict=None)], dtype=np.float64)`",
    },
    "core.kernels.model_forward.x__row_sum_upper": {
        "return math.nextafter(max(rows, default=1.0), math.inf)":
            "only a width-0 layer has no rows in W_1; its W_2 then has no columns, norm 0, and "
            "the product rounds up to the same bound",
    },
    "core.kernels.peers.x_favor_plus_features": {
        "sq = 0.5 * (X * X).sum(dim=0, ) # (1, c)": _KEEPDIM_BROADCASTS,
        "sq = 0.5 * (X * X).sum(dim=0, keepdim=False) # (1, c)": _KEEPDIM_BROADCASTS,
    },
    "core.kernels.peers.x_sdpa_attention": {
        "return blocks[0] if (len(blocks) == 1) and False else torch.cat(blocks, dim=1)":
            _CAT_OF_ONE_BLOCK,
    },
    "core.kernels.peers.x_favor_plus_attention": {
        "S = torch.zeros(M, dtype=V.dtype, device=V.device)":
            "a zero (M,) vector broadcasts to the same accumulated S",
        "S = S - values[:, j:j + chunk] @ favor_plus_features(scale * K[:, j:j + chunk], omega).T":
            "numerator and denominator are both negated exactly: their quotient is unchanged",
        "return outs[0] if (len(outs) == 1) and False else torch.cat(outs, dim=1)":
            _CAT_OF_ONE_BLOCK,
    },
    "core.kernels.plan.x_plan_kernel": {
        'method: str = "chebyshev", max_degree: int = 201) -> KernelPlan:':
            "a degree above 200 is never searched: candidate_degree refuses radii whose float64 "
            "cancellation exceeds eps/8 (R > ~16), far below where degree 200 is needed",
    },
    "core.kernels.regime.x_score_radius": {
        "return r * (1 + 8 * 2.0**-52) if (r > 0) or True else 0.0":
            "r = 0 gives 0·(1 + 8u) = 0 either way",
        "return r * (1 + 8 * 2.0**-53) if r > 0 else 0.0":
            "a margin of 4 ulps instead of 8 still exceeds the at most three roundings of β·s·B² "
            "(each <= 2^-53 relative), so R stays an upper bound; "
            "tests/test_kernel_polynomial.py checks that property",
        "return r * (1 + 8 * 2.0**-52) if r >= 0 else 0.0":
            "r = 0 gives 0·(1 + 8u) = 0 either way",
    },
    "core.kernels.polynomial.xǁExpPolynomialǁ__call__": {
        "acc = np.zeros_like(np.asarray(None, dtype=np.float64))":
            "a 0-d float64 zero broadcasts to x's shape on the first Horner step",
    },
    "core.kernels.polynomial.x_candidate_degree": {
        "for g in range(MAX_DEGREE - 1):":
            "unreachable: the float64 guard limits R to about 17, where the least degree is <= "
            "59 (Taylor) or 36 (Chebyshev)",
        "for g in range(MAX_DEGREE + 2):": "as `for g in range(MAX_DEGREE - 1):`",
    },
    "core.kernels.polynomial.x_sampled_relative_error": {
        "x = r * np.concatenate([np.cos(np.linspace(0.0, np.pi, points)), [+1.0, 1.0]])":
            "-R is sampled anyway: cos(pi) is exactly -1.0 in float64",
    },
    "core.lipschitz.x__build_sawtooth": {
        'return {"perm": rng.permutation(n).astype(None),': _ASTYPE_NONE,
    },
    "core.lipschitz.x_max_norm_ratio": {
        'return 0.0 if num == 0.0 else float("INF")':
            "float('INF') for float('inf'): Python reads both as infinity",
    },
    "core.lipschitz.xǁLipschitzTargetǁ_enclose_sinusoid": {
        'u = sum((to_arb(_frac(p["w"][i, c])) * xa[c] for c in range(len(x))), )':
            "sum() starting at int 0 instead of arb(0): 0 + arb is the same ball",
        'u = sum((to_arb(_frac(p["w"][i, c])) * xa[c] for c in range(len(x))), arb(None))':
            "python-flint reads arb(None) as the exact ball 0",
    },
    "core.lipschitz.xǁLipschitzTargetǁwitness_pair": {
        "step = h if x0[0] < 0.5 else -h":
            "x0 is a uniform random draw; x0[0] == 0.5 exactly does not occur, and there both "
            "directions stay in [0, 1]",
        "x1 = np.full(n, u0 - h)":
            "the sinusoid's derivative at u0 is the same from either side; a step of 1e-4/ω "
            "either way attains C to O(h)",
        "j = None":
            "x1[None] = t moves every entry by t: the max-norm distance is still t and every "
            "output's tooth still rises by C·t",
    },
    "core.lipschitz.xǁLipschitzTargetǁenclose": {
        "(_frac(w1[r, c]) * x[c] for c in range(len(x))), ))":
            "sum() starting at int 0 instead of Fraction(0): 0 + Fraction is the same Fraction, "
            "and the sum is never empty (d·L >= 1 entries)",
        "(_frac(w2[i, r]) * h[r] for r in range(len(h))), ))":
            "as `range(len(x))), ))` (the hidden width is fixed and positive)",
        'val = base + rise if p["sign"][i] >= 0 else base + C * width - rise':
            "the sawtooth's signs are drawn from {-1, +1}: never 0",
    },
    "core.lipschitz.xǁLipschitzTargetǁvalues": {
        'out = np.where(p["sign"] >= 0, p["base"] + rise, p["base"] + self.C * width - rise)':
            "the sawtooth's signs are drawn from {-1, +1}: never 0",
        "out = np.clip(out, None, 1.0)": _SAWTOOTH_CLIP,
        "out = np.clip(out, 0.0, None)": _SAWTOOTH_CLIP,
        "out = np.clip(out, 0.0, 2.0)": _SAWTOOTH_CLIP,
    },
    "core.model.xǁPromptTunedTransformerǁ__init__": {
        "self.beta = weights.beta if (dtype == torch.float64) and False else float(":
            "for float64, float(torch.tensor(β, float64)) is β exactly",
    },
    "core.model.xǁPromptTunedTransformerǁattention_inputs": {
        "queries = z if full else z[..., P.shape[+1]:]":
            "P is a 2-D (d, L_p) prompt (embed refuses others)",
    },
    "core.model.xǁPromptTunedTransformerǁembed": {
        "if self.pos.shape[+1] != n:": "pos is validated as a 2-D (d, n) array: axis 1 is axis -1",
    },
    "core.mp_twin.x_to_float64": {
        "return np.array([[float(x) for x in row] for row in matrix], dtype=None)":
            "a nested list of Python floats becomes float64 by default",
        "return np.array([[float(x) for x in row] for row in matrix], )":
            "as `for row in matrix], dtype=None)`",
    },
    "core.mp_twin.x__matmul": {
        "cols = list(zip(*b, strict=None))": _SHAPES_VALIDATED,
        "cols = list(zip(*b, ))": _SHAPES_VALIDATED,
        "cols = list(zip(*b, strict=False))": _SHAPES_VALIDATED,
        "return [[mpmath.fsum(x * y for x, y in zip(row, col, strict=None)) for col in cols]":
            _SHAPES_VALIDATED,
        "return [[mpmath.fsum(x * y for x, y in zip(row, col, )) for col in cols]":
            _SHAPES_VALIDATED,
        "return [[mpmath.fsum(x * y for x, y in zip(row, col, strict=False)) for col in cols]":
            _SHAPES_VALIDATED,
    },
    "core.mp_twin.x__add": {
        "return [[x + y for x, y in zip(ra, rb, strict=None)] for ra, rb in zip(a, b, "
        "strict=True)]":
            _SHAPES_VALIDATED,
        "return [[x + y for x, y in zip(ra, rb, )] for ra, rb in zip(a, b, strict=True)]":
            _SHAPES_VALIDATED,
        "return [[x + y for x, y in zip(ra, rb, strict=False)] for ra, rb in zip(a, b, "
        "strict=True)]":
            _SHAPES_VALIDATED,
        "return [[x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, "
        "strict=None)]":
            _SHAPES_VALIDATED,
        "return [[x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, )]":
            _SHAPES_VALIDATED,
        "return [[x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, "
        "strict=False)]":
            _SHAPES_VALIDATED,
    },
    "core.mp_twin.x_to_mp": {
        "return [[mpmath.mpf(float(x)) for x in row] for row in np.asarray(array, dtype=None)]":
            "every caller passes float64 arrays (validated weights, X and P)",
        "return [[mpmath.mpf(float(x)) for x in row] for row in np.asarray(array, )]":
            "as `np.asarray(array, dtype=None)`",
    },
    "core.mp_twin.x_mp_attention": {
        "weights = [mpmath.exp(x + top) for x in logits]":
            "softmax is invariant under a common factor and mpmath exponents are unbounded: the "
            "weights agree to the working precision's last digit",
        "return [list(row) for row in zip(*out_cols, strict=None)]":
            "every output column has d entries by construction",
        "return [list(row) for row in zip(*out_cols, )]": "as `zip(*out_cols, strict=None)`",
        "return [list(row) for row in zip(*out_cols, strict=False)]":
            "as `zip(*out_cols, strict=None)`",
    },
    "core.mp_twin.x__feed_forward": {
        "hidden = [[max(x + b, mpmath.mpf(0)) for x in row] for row, b in zip(pre, b1, "
        "strict=None)]":
            _SHAPES_VALIDATED,
        "hidden = [[max(x + b, mpmath.mpf(0)) for x in row] for row, b in zip(pre, b1, )]":
            _SHAPES_VALIDATED,
        "hidden = [[max(x + b, mpmath.mpf(0)) for x in row] for row, b in zip(pre, b1, "
        "strict=False)]":
            _SHAPES_VALIDATED,
        "return [[zi + yi + b for zi, yi in zip(zrow, yrow, strict=None)]": _SHAPES_VALIDATED,
        "return [[zi + yi + b for zi, yi in zip(zrow, yrow, )]": _SHAPES_VALIDATED,
        "return [[zi + yi + b for zi, yi in zip(zrow, yrow, strict=False)]": _SHAPES_VALIDATED,
        "for zrow, yrow, b in zip(z, lifted, b2, strict=None)]": _SHAPES_VALIDATED,
        "for zrow, yrow, b in zip(z, lifted, b2, )]": _SHAPES_VALIDATED,
        "for zrow, yrow, b in zip(z, lifted, b2, strict=False)]": _SHAPES_VALIDATED,
    },
    "core.mp_twin.x_mp_forward": {
        "queries = z if full else _columns(z, lp, None)":
            "a slice to None runs to the end, which is len(z[0])",
    },
    "core.packing.xǁBumpPackingǁcentre": {
        "return ((np.asarray(cell, dtype=None) + 0.5) * h).reshape(self.d, self.L)":
            "a cell is a tuple of ints (Sequence[int]); int + 0.5 is float64 with or without the "
            "dtype",
        "return ((np.asarray(cell, ) + 0.5) * h).reshape(self.d, self.L)":
            "as `np.asarray(cell, dtype=None)`",
    },
    "core.prompt_tuning.x_check_training_data": {
        "assert isinstance(X, torch.Tensor) or isinstance(Y, torch.Tensor)":
            "both are already checked to be tensors by the loop above it",
    },
    "core.prompt_tuning.x_train_prompt": {
        "for step in range(n_steps + 2):":
            "the loop breaks at step == n_steps, so a longer range never runs its extra iteration",
        "use = None":
            "with no plan use is None anyway; with a plan _regime_step overwrites it before it "
            "is read",
        "kernel_chunk=None)": "the exact (no-plan) branch never reads kernel_chunk",
        ("kernel_chunk=kernel_chunk)",
         ")"):
            "as `kernel_chunk=None)`: kernel_chunk dropped from the exact branch's call",
    },
    "core.regime.x_measure_regime": {
        "inputs = model.attention_inputs(X, P, )": "full=True is attention_inputs' default",
    },
    "core.weights.xǁTransformerWeightsǁrounded_to": {
        "return a.astype(dtype).astype(None)": _ASTYPE_NONE,
    },
    "core.weights.xǁTransformerWeightsǁdigest": {
        "self.pos is None)).encode())":
            "flips one boolean of the digest's header: equal weights still get equal digests and "
            "different weights different ones",
    },
    "core.weights.x_as_float64_matrix": {
        "if cols is not None and arr.shape[+1] != cols:":
            "every caller passing cols has ndim = 2 (ndim=1 callers pass rows only): axis 1 is "
            "axis -1",
    },
}
