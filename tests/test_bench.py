"""Tests of the kernel benchmark (verify.bench): arguments, atomic JSON, and a quick run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from verify.bench import main, write_json_atomically

HEADLINE_KEYS = {"n", "d", "B", "delta_F", "degree", "rank", "seconds_fast",
                 "seconds_exact_best", "speedup", "max_error", "bound", "slope_fast",
                 "slope_exact", "peak_mib_fast", "gemm_ratio"}


def test_json_is_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "bench.json"
    write_json_atomically(target, {"a": 1})
    write_json_atomically(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert os.listdir(target.parent) == ["bench.json"]             # no temporary left over

    class Boom:
        pass

    with pytest.raises(TypeError):
        write_json_atomically(target, {"a": Boom()})
    assert json.loads(target.read_text()) == {"a": 2}              # old file intact
    assert os.listdir(target.parent) == ["bench.json"]


def test_bad_arguments_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["nonsense"])
    assert main(["kernel", "--threads", "0"]) == 2
    assert "--threads=0" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA refusal")
def test_cuda_request_without_cuda_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kernel", "--quick", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_benchmark_writes_complete_report(tmp_path: Path) -> None:
    target = tmp_path / "bench.json"
    assert main(["kernel", "--quick", "--json", str(target)]) == 0
    report = json.loads(target.read_text())
    head = report["headline"]
    assert HEADLINE_KEYS <= set(head)
    assert head["max_error"] <= head["bound"] + head["rounding_bound"]
    assert head["rank"] == 1287 and head["degree"] == 5
    assert report["certificate"]["verdict"] == "certified"
    assert {r["method"] for r in report["rows"]} >= {
        "polynomial", "exact_reference", "sdpa_chunked", "performer_equal_time"}
    assert all(v is not None for v in report["phase_transition"]["crossing"].values())
    assert report["torch"] == torch.__version__ and report["device"].startswith("cpu")
