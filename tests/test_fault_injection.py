"""Faults inside a computation or around a report are named, never silently passed on."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import NonFiniteError
from core.model import PromptTunedTransformer
from core.weights import FeedForwardWeights, TransformerWeights
from verify import files as files_module
from verify.cli import main


def _weights(ff_pre_scale: float = 1.0, w_scale: float = 1.0) -> TransformerWeights:
    eye = np.eye(2)
    layer = FeedForwardWeights(w1=ff_pre_scale * eye, b1=np.zeros(2), w2=ff_pre_scale * eye,
                               b2=np.zeros(2))
    return TransformerWeights(w_q=w_scale * eye, w_k=w_scale * eye, w_v=eye, w_o=eye,
                              beta=1.0, ff_pre=(layer, layer))


def test_overflow_inside_feed_forward_names_the_layer() -> None:
    model = PromptTunedTransformer(_weights(ff_pre_scale=1e100))   # 1e200 after layer 0
    X = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(NonFiniteError) as info:
        model(X, torch.zeros(2, 1, dtype=torch.float64))
    assert str(info.value).startswith("activations produced by step 'FF_pre[1]' ")


def test_overflow_in_the_attention_residual_names_the_step() -> None:
    """Scores stay 0 (W_Q = W_K = 0) and every projection is finite, but the residual sum
    X + mean(V) overflows: the error names the attention step."""
    eye, zero = np.eye(2), np.zeros((2, 2))
    model = PromptTunedTransformer(TransformerWeights(w_q=zero, w_k=zero, w_v=eye, w_o=eye,
                                                      beta=1.0), dtype=torch.float64)
    X = torch.full((2, 3), 1.5e308, dtype=torch.float64)
    with pytest.raises(NonFiniteError) as info:
        model(X, torch.zeros(2, 1, dtype=torch.float64))
    assert str(info.value).startswith("activations produced by step 'attention' ")


@pytest.mark.parametrize("which", ["queries", "keys", "values"])
def test_overflow_in_projections_names_the_projection_and_step(which: str) -> None:
    """Only one of W_Q, W_K, W_V is huge; the error names that projection and the step."""
    eye = np.eye(2)
    scaled = {f"w_{which[0]}": 1e300 * eye}
    weights = TransformerWeights(**{"w_q": eye, "w_k": eye, "w_v": eye, "w_o": eye, **scaled},
                                 beta=1.0)
    model = PromptTunedTransformer(weights, dtype=torch.float64)
    X = torch.full((2, 3), 1e10, dtype=torch.float64)
    with pytest.raises(NonFiniteError) as info:
        model(X, torch.zeros(2, 1, dtype=torch.float64))
    assert str(info.value).startswith(f"{which} produced by step 'attention projections' ")


def test_disk_full_keeps_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--quick", "--claims", "readout_*", "--out", str(tmp_path),
                 "--jobs", "1", "--no-html"]) == 0
    previous = (tmp_path / "audit.json").read_text()

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files_module.os, "fsync", full_disk)
    capsys.readouterr()
    assert main(["audit", "--quick", "--claims", "readout_*", "--out", str(tmp_path),
                 "--jobs", "1", "--seed", "4", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error:") and "No space left on device" in err
    assert "previous report" in err and "Traceback" not in err
    assert (tmp_path / "audit.json").read_text() == previous
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_output_directory_removed_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    import verify.audit as audit_module

    real = audit_module.run_audit

    def run_then_break(*args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        for child in out.rglob("*"):
            if child.is_file():
                child.unlink()
        for child in sorted(out.rglob("*"), reverse=True):
            child.rmdir()
        out.rmdir()
        out.write_text("now a file")     # the directory became unwritable
        return result

    monkeypatch.setattr(audit_module, "run_audit", run_then_break)
    assert main(["audit", "--quick", "--claims", "readout_*", "--out", str(out),
                 "--jobs", "1", "--no-html"]) == 2
    err = capsys.readouterr().err
    assert "ptlimits: error:" in err and "Traceback" not in err
    assert out.read_text() == "now a file"
    json.dumps(err)
