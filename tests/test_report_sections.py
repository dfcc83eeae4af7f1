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
    assert "<h2>Real models</h2>" in page and "<h2>Empirical capacity</h2>" in page
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
    ({"kind": "kernel", "rows": []}, "not a 'bench capacity' JSON"),
    ({**CAPACITY, "rows": [{**CAPACITY["rows"][0], "smallest_Lp": "2"}]},
     "rows[0].smallest_Lp='2'"),
    ({**CAPACITY, "rows": [{k: v for k, v in CAPACITY["rows"][0].items() if k != "N"}]},
     "rows[0].N=None"),
    ({**CAPACITY, "rows": [{**CAPACITY["rows"][0], "final_errors": [0.1]}]},
     "differ in length"),
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
    with pytest.raises(InvalidArgument, match="not a 'ptlimits regime --json' result"):
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
