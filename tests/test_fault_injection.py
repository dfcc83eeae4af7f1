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
from verify.report import write as write_module
from verify.report.write import MANIFEST, read_generation, write_report_files


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


# --- one report generation: audit.json, audit.md and audit.html together or not at all ------

REPORT_NAMES = ("audit.json", "audit.md", "audit.html")


def _generation(tag: str) -> dict[str, bytes]:
    return {name: f"{tag}: {name}\n".encode() * 50 for name in REPORT_NAMES}


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize("failing", REPORT_NAMES)
def test_disk_full_on_any_report_file_keeps_the_previous_generation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    """ENOSPC while writing any one of the three files (half of it written): the previous
    three files stay byte-identical, no staging folder is left, and the error names the file
    and says that nothing was replaced."""
    first = write_report_files(tmp_path, _generation("first"))
    before = _snapshot(tmp_path)
    assert set(before) == {*REPORT_NAMES, MANIFEST}
    real = write_module._write_synced

    def disk_fills(path: Path, data: bytes) -> None:
        if path.name == failing:
            with open(path, "xb") as handle:
                handle.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(write_module, "_write_synced", disk_fills)
    with pytest.raises(OSError) as info:
        write_report_files(tmp_path, _generation("second"))
    assert info.value.errno == errno.ENOSPC
    message = str(info.value.strerror)
    assert message.startswith(f"No space left on device while writing {failing} of the new "
                              "report; nothing was replaced")
    assert "audit.json, audit.md and audit.html" in message and "unchanged" in message
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)
    assert read_generation(tmp_path)["generation"] == first["generation"]


def test_a_failed_swap_puts_the_previous_generation_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename that fails after another has succeeded: the renamed file is put back, so the
    directory holds the previous generation, whole."""
    write_report_files(tmp_path, _generation("first"))
    before = _snapshot(tmp_path)
    real, calls = write_module.os.replace, []

    def second_rename_fails(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(write_module.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="while moving the new report into place; nothing was "
                                      "replaced"):
        write_report_files(tmp_path, _generation("second"))
    monkeypatch.undo()
    assert _snapshot(tmp_path) == before
    read_generation(tmp_path)


def test_interrupted_staging_leaves_nothing_behind(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_report_files(tmp_path, _generation("first"))
    before = _snapshot(tmp_path)

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(write_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report_files(tmp_path, _generation("second"))
    assert _snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_a_new_generation_replaces_all_files_and_drops_stale_ones(tmp_path: Path) -> None:
    """A generation without HTML removes the previous audit.html (a report never mixes two
    runs); the manifest then names exactly the files present."""
    write_report_files(tmp_path, _generation("first"))
    second = {k: v for k, v in _generation("second").items() if k != "audit.html"}
    manifest = write_report_files(tmp_path, second)
    assert _snapshot(tmp_path) == {**second, MANIFEST: (tmp_path / MANIFEST).read_bytes()}
    assert read_generation(tmp_path) == manifest and set(manifest["files"]) == set(second)
    (tmp_path / "audit.md").write_text("edited by hand")
    with pytest.raises(ValueError, match=r"audit\.md: not the file of generation"):
        read_generation(tmp_path)
    with pytest.raises(ValueError, match="not a plain file name"):
        write_report_files(tmp_path, {"../audit.json": b"{}"})
