"""The report's optional sections: "Real models" (regime JSON) and "Empirical capacity".

Payloads are built by hand in the shapes ``ptlimits regime --json`` and
``ptlimits bench capacity --json`` write, so these tests need neither transformers nor
training.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import HarnessError, InvalidArgument
from properties.registry import get_claim
from verify.audit import AuditOptions, run_audit, write_audit
from verify.cli import main
from verify.report.html import render_html
from verify.report.load import load_capacity, load_regime_json, validate_report
from verify.report.markdown import render_markdown
from verify.report.plots import capacity_figure, real_models_figure

CAPACITY: dict[str, Any] = {
    "kind": "capacity", "label": "empirical: Adam on the one-layer model, 3 seeds",
    "config": {"steps": 200},
    "rows": [
        {"d": 1, "L": 1, "N": 4, "eps": 0.25, "target_error": 0.05, "tried_Lp": [1, 2, 4],
         "final_errors": [0.3, 0.04, 0.01], "smallest_Lp": 2, "constructive_Lp": 9,
         "lower_bound_Lp": 1},
        {"d": 2, "L": 1, "N": 16, "eps": 0.125, "target_error": 0.05, "tried_Lp": [1, 2],
         "final_errors": [0.4, 0.2], "smallest_Lp": None, "constructive_Lp": None,
         "lower_bound_Lp": 3},
    ],
}


def _head(layer: int, head: int, B: float, applies: bool) -> dict[str, Any]:
    return {"layer": layer, "module": f"h.{layer}.attn", "head": head, "kv_head": head,
            "s": 8, "beta": 8**-0.5, "Q_max": B, "K_max": B / 2, "B": B, "V_max": 1.0,
            "R": 8**0.5 * B * B, "max_score": 0.1, "ratio": B / 1.5, "applies": applies,
            "reason": "rank 9 < n = 20" if applies else "rank 45 >= n = 20",
            "degree": 1 if applies else 2, "rank": 9 if applies else 45}


REGIME: dict[str, Any] = {
    "kind": "regime", "model": {"path": "/models/tiny-gpt2", "model_type": "gpt2",
                                "class": "GPT2Model"},
    "adapter": {"path": "/adapters/soft", "peft_type": "PROMPT_TUNING",
                "num_virtual_tokens": 4},
    "L_p": 4, "L": 16, "n": 20, "sqrt_log_n": 1.73, "delta_F": 0.05, "delta_F_rule": "1/n",
    "eps": 0.0244, "method": "chebyshev", "threshold_ratio": 0.2,
    "heads": [_head(0, 0, 0.1, True), _head(0, 1, 0.9, False), _head(1, 0, 0.2, True)],
    "worst": {"layer": 0, "head": 1, "B": 0.9, "ratio": 0.6, "R": 2.29, "applies": False,
              "degree": 2, "rank": 45},
    "summary": {"heads": 3, "applies": 2,
                "verdict": "the polynomial-method kernel applies to 2 of 3 heads"},
}


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return run_audit([get_claim("readout_is_last_l_columns")],
                     AuditOptions(seed=0, draws=0, jobs=1))


def _with_sections(base: dict[str, Any]) -> dict[str, Any]:
    report = copy.deepcopy(base)
    report["real_models"] = [REGIME]
    report["capacity"] = CAPACITY
    return report


def test_sections_validate_and_render(base: dict[str, Any]) -> None:
    report = _with_sections(base)
    validate_report(report)
    md = render_markdown(report)
    assert "## Real models" in md and "## Empirical capacity" in md
    assert "/models/tiny-gpt2" in md and "layer 0 head 1" in md and "2 of 3 heads" in md
    assert "not evidence for or against the theorems" in md and "not reached" in md
    page = render_html(report)
    assert "<h2 id=real-models>Real models</h2>" in page
    assert "<h2 id=capacity>Empirical capacity</h2>" in page
    assert page.count("data:image/png;base64,") >= 2
    assert "not evidence for or against the theorems" in page
    plain = render_markdown(base)
    assert "## Real models" not in plain and "## Empirical capacity" not in plain


def test_schema_rejects_broken_sections(base: dict[str, Any]) -> None:
    for key, broken in (("capacity", {**CAPACITY, "kind": "kernel"}),
                        ("real_models", [{**REGIME, "heads": []}]),
                        ("real_models", [{k: v for k, v in REGIME.items() if k != "n"}])):
        with pytest.raises(HarnessError, match="audit report invalid"):
            validate_report({**base, key: broken})


def test_capacity_figure_marks_every_series_and_says_empirical() -> None:
    figures = capacity_figure({"capacity": CAPACITY, "claims": []})
    assert len(figures) == 1
    assert "empirical — not evidence for or against the theorems" in figures[0].title
    assert figures[0].png.startswith(b"\x89PNG")
    assert capacity_figure({"claims": []}) == []
    (figure,) = real_models_figure({"real_models": [REGIME], "claims": []})
    assert "B/√log n" in figure.title and figure.png.startswith(b"\x89PNG")


def _write(tmp_path: Path, name: str, payload: Any) -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


@pytest.mark.parametrize("payload, fragment", [
    ("{oops", "not valid JSON"),
    ({"kind": "kernel", "rows": []}, 'kind: "kernel"; expected "capacity"'),
    ({**CAPACITY, "rows": [{**CAPACITY["rows"][0], "smallest_Lp": "2"}]},
     'rows[0].smallest_Lp: "2" is a string; expected an integer or null'),
    ({**CAPACITY, "rows": [{k: v for k, v in CAPACITY["rows"][0].items() if k != "N"}]},
     "rows[0].N: missing"),
    ({**CAPACITY, "rows": [{**CAPACITY["rows"][0], "final_errors": [0.1]}]},
     "lengths differ"),
])
def test_bad_capacity_json(tmp_path: Path, payload: Any, fragment: str) -> None:
    path = _write(tmp_path, "cap.json", payload)
    with pytest.raises(InvalidArgument, match="--capacity-json=") as info:
        load_capacity(path)
    assert fragment in str(info.value)


def test_bad_regime_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot read"):
        load_regime_json(tmp_path / "missing.json")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        load_regime_json(_write(tmp_path, "a.json", "{"))
    with pytest.raises(InvalidArgument, match='kind: "capacity"; expected "regime"'):
        load_regime_json(_write(tmp_path, "b.json", {**REGIME, "kind": "capacity"}))


def test_cli_embeds_both_sections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    regime = _write(tmp_path, "regime.json", REGIME)
    capacity = _write(tmp_path, "capacity.json", CAPACITY)
    out = tmp_path / "audit"
    code = main(["audit", "--claims", "readout_*", "--draws", "0", "--jobs", "1", "--out",
                 str(out), "--regime-json", str(regime), str(regime), "--capacity-json",
                 str(capacity)])
    assert code == 0
    report = json.loads((out / "audit.json").read_text())
    assert len(report["real_models"]) == 2 and report["capacity"]["rows"] == CAPACITY["rows"]
    assert report["real_models"][0]["source"] == str(regime)
    assert "## Empirical capacity" in (out / "audit.md").read_text()
    capsys.readouterr()
    assert main(["audit", "--claims", "readout_*", "--draws", "0", "--out", str(out),
                 "--capacity-json", str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error: --capacity-json=") and "cannot read" in err


def test_write_audit_round_trips_sections(base: dict[str, Any], tmp_path: Path) -> None:
    report = _with_sections(base)
    write_audit(report, tmp_path)
    assert json.loads((tmp_path / "audit.json").read_text())["capacity"] == CAPACITY


def test_cli_markdown_and_html_lay_out_the_same_head_table(base: dict[str, Any]) -> None:
    """The per-head table is built once (``head_table``): the command line, the Markdown and
    the HTML report each show its header and every row's cells, in order."""
    import html as html_lib
    import re

    from verify.report.tables import head_table
    from verify.report.text import format_regime_table

    header, rows = head_table(REGIME)
    assert len(rows) == len(REGIME["heads"]) and all(len(r) == len(header) for r in rows)
    report = _with_sections(base)
    md = render_markdown(report)
    page = html_lib.unescape(re.sub(r"<[^>]+>", "\t", render_html(report)))
    text = format_regime_table(REGIME)
    for rendered, sep in ((text, r"\s+"), (md, r"\s*\|\s*"), (page, r"\s+")):
        for line in (header, *rows):
            cells = [re.escape(c.replace("|", "\\|") if rendered is md else c) for c in line]
            assert re.search(sep.join(cells), rendered), (line, rendered[:400])


# --- what a reader sees: numbers, near-limit list, benchmark section, figures ---------------

BENCH: dict[str, Any] = {
    "B": 0.5, "s": 8, "d": 8, "delta_F": 1e-6, "degree": 5, "rank": 1287, "n": 2048,
    "speedup": 2.66, "max_error": 2.3e-10, "bound": 5.4e-8, "exact_best_method": "sdpa_chunked",
    "device": "cpu: test", "quick": True, "source": "bench.json",
    "rows": [{"method": m, "B": 0.5, "n": n, "seconds": t * n, "max_error": e}
             for m, t, e in (("exact_reference", 1e-5, 0.0), ("polynomial", 3e-5, 3e-10))
             for n in (512, 2048)],
}


def test_exact_zeros_read_as_zero() -> None:
    from verify.report.tables import fmt_number

    assert [fmt_number(x) for x in (0.0, -0.0, 0, 1e-18, 0.1234, None, True)] == [
        "0", "0", "0", "1e-18", "0.123", "—", "yes"]


def _entry(records: list[tuple[float, float]], status: str = "pass") -> dict[str, Any]:
    worst = max(records, key=lambda r: r[0] / r[1] if r[1] else (0.0 if r[0] == 0
                                                                  else float("inf")))
    return {"id": "c", "status": status, "worst_ratio": worst[0] / worst[1] if worst[1] else 0.0,
            "worst_case": {"error": worst[0], "bound": worst[1]},
            "records": [{"error": e, "bound": b} for e, b in records]}


def test_near_limit_leaves_out_equality_by_construction() -> None:
    """A count or length equal to its bound (equal integers, 0 against 0) is the claim's
    extremal case, not a warning; a float error close to its bound is."""
    from verify.report.tables import at_bound_by_construction, near_limit_ratio, needs_attention

    assert at_bound_by_construction(1.0, 1.0) and at_bound_by_construction(0.0, 0.0)
    assert not at_bound_by_construction(0.5, 0.5) and not at_bound_by_construction(0.9, 1.0)
    count = _entry([(1.0, 1.0), (1.0, 4.0), (0.0, 9.0)])          # pigeonhole-like
    zeros = _entry([(0.0, 0.0), (0.0, 1.0)])
    close = _entry([(1.0, 1.0), (0.999, 1.0)])
    far = _entry([(0.1, 1.0)])
    failed = _entry([(2.0, 1.0)], status="fail")
    assert near_limit_ratio(count) == 0.25 and near_limit_ratio(zeros) == 0.0
    assert near_limit_ratio(close) == 0.999
    listed = needs_attention({"claims": [count, zeros, close, far, failed]})
    assert [e is close or e is failed for e in listed] == [True, True]


def test_markdown_has_the_benchmark_section_of_the_html(base: dict[str, Any]) -> None:
    report = {**copy.deepcopy(base), "benchmarks": BENCH}
    md, page = render_markdown(report), render_html(report)
    assert "## Kernel benchmark" in md and "<h2 id=benchmark>Kernel benchmark</h2>" in page
    for cell in ("speedup ×", "2.66", "guaranteed bound", "5.4e-08", "sdpa_chunked"):
        assert f"| {cell} |" in md and f"<td>{cell}</td>" in page
    assert "## Kernel benchmark" not in render_markdown(base)


def test_page_ids_are_unique_and_summary_links_land_once(base: dict[str, Any]) -> None:
    import re

    from verify.audit import claim_entry
    from verify.report.html import claim_anchor

    claim = get_claim("pigeonhole_forces_shared_prompt")
    report = copy.deepcopy(base)
    near = claim_entry(claim, list(claim.reference_points()))
    near["worst_ratio"] = 0.9      # listed among the near-limit claims, and in full
    near["status"] = "fail"
    report["claims"].append(near)
    page = render_html({**report, "benchmarks": BENCH, "capacity": CAPACITY,
                        "real_models": [REGIME]})
    ids = re.findall(r"\bid=['\"]?([^'\" >]+)", page)
    assert len(ids) == len(set(ids))
    for target in re.findall(r"href='#([^']+)'", page):
        assert ids.count(target) == 1, target
    assert claim_anchor(claim.id) in ids and claim_anchor(claim.id, "near") in ids


def test_one_colour_per_method_in_every_figure() -> None:
    from verify.report.plots import COLOURS, colour

    assert colour("polynomial") == COLOURS["polynomial"]
    assert colour("some_new_method") == colour("some_new_method")
    assert len(set(COLOURS.values())) == len(COLOURS)


def _png_pixels(png: bytes) -> tuple[int, int, int]:
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png))
    return image.width, image.height, len(image.getcolors(1 << 16) or ())


def test_figures_are_small_palette_pngs_with_zeros_marked(base: dict[str, Any]) -> None:
    from verify.report.plots import kernel_benchmark_figure

    (figure,) = kernel_benchmark_figure({**base, "benchmarks": BENCH})
    width, height, colours = _png_pixels(figure.png)
    assert (width, height) == (figure.width, figure.height) and width >= 400
    assert colours <= 256 and len(figure.png) < 60_000


def test_prompt_length_figure_pairs_each_construction_with_its_own_bound() -> None:
    """The constructive lengths are drawn as multiples of the lower bound for their own
    request (a ratio panel), never against the K = 256 curve of another (C, ε)."""
    from verify.report.plots import prompt_length_figure

    claim = get_claim("constructive_lengths_respect_lower_bound")
    report = run_audit([claim], AuditOptions(seed=0, draws=0, jobs=1))
    (figure,) = prompt_length_figure(report)
    assert "its own d·L, C, ε and K = 2^b" in figure.caption
    pairs = [r["detail"] for r in report["claims"][0]["records"]]
    assert all(p["Lp_constructive"] >= p["Lp_lower_bound"] for p in pairs)


# --- statistical–computational tension (first screen) --------------------------------------

@pytest.fixture(scope="module")
def tension_report() -> dict[str, Any]:
    claims = [get_claim("universal_attention_norm_by_route"),
              get_claim("contextual_mapping_separates_all_contexts")]
    return run_audit(claims, AuditOptions(seed=0, quick=True, jobs=1, draws=0))


def test_tension_table_is_on_the_first_screen(tension_report: dict[str, Any]) -> None:
    md = render_markdown(tension_report)
    assert md.index("## Statistical–computational tension") < md.index("| claim |")
    html = render_html(tension_report)
    assert html.index("id=tension") < html.index("id=summary")
    assert "B/√ln n by construction" in html


def test_tension_rows_come_from_the_run(tension_report: dict[str, Any]) -> None:
    from verify.report.tables import tension_rows

    rows = tension_rows(tension_report)
    names = {r["construction"] for r in rows}
    assert {"route A (softmax contextual map)", "route B (uniform attention)",
            "memorisation (route-B τ)", "CM enumeration (Kajitsuka–Sato λ)"} <= names
    by_route = next(e for e in tension_report["claims"]
                    if e["id"] == "universal_attention_norm_by_route")
    first = by_route["records"][0]["detail"]
    route_a = next(r for r in rows if r["construction"].startswith("route A"))
    assert route_a["B"] == first["route_A_B"] and route_a["ratio"] > 1
    assert all(r["B"] == 0 for r in rows if r["construction"].startswith(("route B", "memo")))
    changed = copy.deepcopy(tension_report)
    changed_first = next(e for e in changed["claims"]
                         if e["id"] == "universal_attention_norm_by_route")
    changed_first["records"][0]["detail"]["route_A_B"] = 123.0
    assert next(r for r in tension_rows(changed)
                if r["construction"].startswith("route A"))["B"] == 123.0


def test_no_tension_section_without_its_claims() -> None:
    report = run_audit([get_claim("readout_is_last_l_columns")],
                       AuditOptions(seed=0, quick=True, jobs=1, draws=0))
    assert "tension" not in render_markdown(report).lower()


def test_growth_figure_draws_every_certified_configuration() -> None:
    """The sizes-against-K^dL figure comes from the run's certified records, one marker set
    per FF_post form."""
    from verify.report.plots import universality_growth_figure

    claim = get_claim("universal_certified_dp_below_eps")
    report = run_audit([claim], AuditOptions(seed=0, draws=0, jobs=1))
    (figure,) = universality_growth_figure(report)
    assert "against its number of grid cells" in figure.caption
    forms = {r["detail"]["form"] for r in report["claims"][0]["records"]}
    assert {"deep", "wide"} <= forms
    assert universality_growth_figure({**report, "claims": []}) == []


def test_non_vacuity_table_reads_each_certified_target_of_the_run() -> None:
    """Every record of the two certified universality claims gets a row; the verdict follows
    from ε against the run's best-constant bound (changing the bound changes the verdict)."""
    from verify.report.tables import non_vacuity_table

    claims = [get_claim("universal_certified_beats_best_constant"),
              get_claim("universal_certified_dp_below_eps")]
    report = run_audit(claims, AuditOptions(seed=0, quick=True, jobs=1, draws=0))
    _, rows = non_vacuity_table(report)
    records = sum(len(e["records"]) for e in report["claims"])
    assert len(rows) == records > 0
    demo = [r for r in rows if r[0] == "universal_certified_beats_best_constant"]
    assert demo and all(r[-1] == "non-vacuous" for r in demo)
    assert any(r[-1].startswith("vacuous") for r in rows)     # ε = 0.3–0.5 reference points
    md, html = render_markdown(report), render_html(report)
    assert "## Non-vacuity" in md and "id=non-vacuity" in html
    changed = copy.deepcopy(report)
    entry = next(e for e in changed["claims"]
                 if e["id"] == "universal_certified_beats_best_constant")
    entry["records"][0]["detail"]["best_constant_dp_lower"] = 0.01
    assert non_vacuity_table(changed)[1][0][-1] == "vacuous here (a constant may meet ε)"
