"""Tests of the kernel benchmark (verify.bench): arguments, atomic JSON, and a quick run."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from verify.bench.common import write_json_atomically
from verify.cli import main as cli_main

HEADLINE_KEYS = {"n", "d", "B", "delta_F", "degree", "rank", "seconds_fast",
                 "seconds_exact_best", "speedup", "max_error", "bound", "slope_fast",
                 "slope_exact", "peak_mib_fast", "kernel_over_own_gemm", "gflops_fast",
                 "gemm_peak_gflops", "percent_of_gemm_peak", "seconds_exact",
                 "exact_best_method", "plan_degree", "plan_rank", "radius"}


def main(argv: list[str]) -> int:
    """``ptlimits bench ARGV...``."""
    return cli_main(["bench", *argv])


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
    assert main(["nonsense"]) == 2
    assert capsys.readouterr().err.startswith("ptlimits: error: argument BENCHMARK")
    assert main(["kernel", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error: --threads=0") and err.count("\n") == 1


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
    assert head["plan_rank"] == 495 and head["plan_degree"] == 4     # Chebyshev, R = 0.25
    assert head["radius"] <= head["plan_radius"] and head["degree"] <= head["plan_degree"]
    assert head["exact_best_method"] == min(head["seconds_exact"],
                                            key=head["seconds_exact"].__getitem__)
    assert head["speedup"] == head["seconds_exact_best"] / head["seconds_fast"]
    assert report["certificate"]["verdict"] == "certified"
    single, wide = head["float32"]
    assert (single["arithmetic"], wide["arithmetic"]) == ("float32", "float64")
    for row in (single, wide):
        assert row["max_error"] <= row["total_bound"] == row["bound"] + row["rounding_bound"]
        assert row["certified"] == (row["total_bound"] <= head["delta_F"])
    assert wide["certified"] and not single["certified"]    # float32 sums: N·u worst cases
    methods = {r["method"] for r in report["rows"]}
    assert methods >= {"polynomial", "polynomial_plan_radius", "exact_reference", "sdpa",
                       "tiled_exact", "performer_equal_time"}
    for row in report["rows"]:
        if row["method"] in ("tiled_exact", "sdpa", "exact_reference", "keops"):
            assert row["max_error"] < 1e-13          # exact peers, vs long double
    sqrt_d = [r for r in report["rows"] if r["method"] == "polynomial_beta_1_over_sqrt_d"]
    assert sqrt_d and sqrt_d[-1]["beta"] == 1 / math.sqrt(8)
    assert sqrt_d[-1]["rank"] == 3003                   # degree 6 at R = √8·B²
    assert sqrt_d[-1]["max_error"] <= sqrt_d[-1]["bound"]
    assert sqrt_d[-1]["break_even_n_estimated"] == (
        sqrt_d[-1]["n"] * sqrt_d[-1]["seconds"] / sqrt_d[-1]["exact_seconds"])
    assert all(v is not None for v in report["phase_transition"]["crossing"].values())
    assert report["torch"] == torch.__version__ and report["device"].startswith("cpu")


# --- bench train and bench capacity (issue 8) --------------------------------------------------

CAPACITY_ROW_KEYS = {"d", "L", "N", "eps", "target_error", "tried_Lp", "final_errors",
                     "smallest_Lp", "constructive_Lp", "lower_bound_Lp"}


def test_train_bench_rows_at_tiny_prompts() -> None:
    from verify.bench.train import format_train_table, run_train_bench

    report = run_train_bench(quick=True, log=lambda _: None, prompt_lengths=(64,))
    assert [(r["L_p"], r["setting"]) for r in report["rows"]] == [(64, "full"),
                                                                    (64, "readout")]
    for row in report["rows"]:
        assert row["seconds_fast"] > 0 and row["seconds_exact"] > 0
        assert row["grad_max_abs_diff"] <= 1e-6 * max(row["grad_max_abs"], 1e-300) + 1e-12
    assert "exact attention is already linear in n" in format_train_table(report)
    assert report["plan"]["degree"] == 4 and report["plan"]["rank"] == 495   # R = 0.25, δ_F = 1e-6


def test_capacity_json_has_the_agreed_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import verify.bench.capacity as bench
    from core.capacity_sweep import CapacitySetting, SweepConfig

    monkeypatch.setattr(bench, "capacity_settings", lambda quick: (
        [CapacitySetting(1, 1, 1, 0.1), CapacitySetting(2, 2, 2, 0.25)],
        SweepConfig(steps=20, lr=0.1, hidden_factor=4, prompt_lengths=(1, 2))))
    target = tmp_path / "capacity.json"
    assert main(["capacity", "--quick", "--json", str(target)]) == 0
    report = json.loads(target.read_text())
    assert set(report) == {"kind", "label", "config", "rows"}
    assert report["kind"] == "capacity"
    assert report["label"] == ("empirical: gradient descent on the one-layer model; not "
                               "evidence for or against the theorems")
    assert {"seed", "steps", "lr", "model"} <= set(report["config"])
    for row in report["rows"]:
        assert set(row) == CAPACITY_ROW_KEYS
        assert len(row["tried_Lp"]) == len(row["final_errors"]) >= 1
        assert row["smallest_Lp"] is None or row["smallest_Lp"] == row["tried_Lp"][-1]
        assert isinstance(row["lower_bound_Lp"], int) and row["lower_bound_Lp"] >= 0
    assert report["rows"][1]["lower_bound_Lp"] == 1          # ⌊1/(2·0.25)⌋^4 = 16 bits
    assert "not evidence" in capsys.readouterr().out


def test_train_and_capacity_refuse_bad_threads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--threads", "0"]) == 2
    assert main(["capacity", "--threads", "-1"]) == 2
    assert "--threads" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_capacity_sweep_finishes_in_a_minute(tmp_path: Path) -> None:
    import time

    start = time.perf_counter()
    assert main(["capacity", "--quick", "--json", str(tmp_path / "c.json")]) == 0
    assert time.perf_counter() - start <= 60


def test_train_step_runs_the_reported_optimizer_and_learning_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The config the train benchmark reports is the one its steps use: a non-default
    ``lr`` and optimizer reach the step, whose gradient is the loss's."""
    from verify.bench import train

    cfg = train.TrainBenchConfig(quick=True)
    cfg.lr, cfg.optimizer = 0.5, "sgd-probe"
    seen: list[float] = []

    def probe(params: list[torch.Tensor], lr: float) -> torch.optim.Optimizer:
        seen.append(lr)
        return torch.optim.SGD(params, lr=lr)

    monkeypatch.setitem(train.OPTIMIZERS, "sgd-probe", probe)
    model = train.train_bench_model(cfg)
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(cfg.N, cfg.d, 4, generator=gen, dtype=torch.float64)
    Y = torch.rand(cfg.N, cfg.d, 4, generator=gen, dtype=torch.float64)
    P0 = torch.rand(cfg.d, 8, generator=gen, dtype=torch.float64)
    _, grad = train._train_steps(model, X, Y, P0, None, False, 1, cfg)
    assert seen == [0.5]
    P = P0.clone().requires_grad_(True)
    train.prompt_loss(model, X, Y, P).backward()
    assert P.grad is not None and torch.equal(grad, P.grad)


def test_foreign_load_counts_only_other_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy ticks of the whole machine minus this process's, over the cores and the wall
    time: a call alone on the machine has load 0; one sharing both cores with a busy
    neighbour has load 1/2 on two cores."""
    from verify.bench import common

    monkeypatch.setattr(common.os, "cpu_count", lambda: 2)
    ticks = os.sysconf("SC_CLK_TCK")
    alone = common.foreign_load((1000, 50), (1000 + 2 * ticks, 50 + 2 * ticks), 1.0)
    shared = common.foreign_load((1000, 50), (1000 + 2 * ticks, 50 + ticks), 1.0)
    assert alone == 0.0 and shared == pytest.approx(0.5)
    assert common.foreign_load((0, 0), (10, 10), 1.0 / ticks) is None    # too short to see


def test_timing_reports_the_median_and_retimes_a_loaded_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from verify.bench import common

    loads = iter([0.9, 0.0, 0.0, 0.0])
    monkeypatch.setattr(common, "foreign_load", lambda *a: next(loads))
    clock = iter([0.0, 5.0, 10.0, 11.0, 20.0, 23.0, 30.0, 32.0])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(clock))
    stats, result = common.timing(lambda: "out", torch.device("cpu"), 3)
    assert result == "out" and stats.retimed == 1
    assert stats.seconds == (1.0, 3.0, 2.0) and stats.median == 2.0 and stats.best == 1.0
    assert stats.max_foreign_load == 0.0
