"""Unit tests for the model and the attention reference beyond the registry's claims."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.attention import exact_attention
from core.model import PromptTunedTransformer
from core.weights import FeedForwardWeights, TransformerWeights
from properties.strategies import ModelInstance, build_model_case

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _case(**kw: object) -> tuple[PromptTunedTransformer, torch.Tensor, torch.Tensor]:
    inst = ModelInstance(**{"seed": 11, "d": 3, "s": 2, "L": 4, "Lp": 3, **kw})  # type: ignore[arg-type]
    case = build_model_case(inst)
    model = PromptTunedTransformer(case.weights)
    return model, torch.tensor(case.X), torch.tensor(case.P)


def test_gradients_reach_the_prompt_and_not_the_weights() -> None:
    model, X, P = _case()
    P = P.clone().requires_grad_(True)
    model(X, P).sum().backward()
    assert P.grad is not None and bool(P.grad.abs().sum() > 0)
    assert all(not b.requires_grad for b in model.buffers())


def test_prompt_gradient_matches_finite_differences() -> None:
    model, X, P = _case()
    P = P.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: model(X, p), (P,))


def test_batched_input_equals_per_example_forward() -> None:
    model, X, P = _case()
    batch = torch.stack([X, X.flip(-1), 1 - X])
    out = model(batch, P)
    for i in range(3):
        torch.testing.assert_close(out[i], model(batch[i], P), rtol=0, atol=1e-14)


def test_empty_prompt_and_full_output_shape() -> None:
    model, X, P = _case(Lp=0)
    assert model(X, P).shape == (3, 4)
    assert model(X, P, full=True).shape == (3, 4)
    model, X, P = _case(Lp=5)
    assert model(X, P, full=True).shape == (3, 9)


def test_prompt_changes_the_output() -> None:
    model, X, P = _case()
    assert not torch.allclose(model(X, P), model(X, P + 1.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_devices_and_dtypes(device: str, dtype: torch.dtype) -> None:
    case = build_model_case(ModelInstance(seed=5, d=2, s=2, L=3, Lp=2))
    model = PromptTunedTransformer(case.weights, dtype=dtype, device=device)
    out = model(torch.tensor(case.X, dtype=dtype, device=device),
                torch.tensor(case.P, dtype=dtype, device=device))
    assert out.dtype == dtype and out.device.type == device


def test_weights_digest_identifies_the_frozen_model() -> None:
    a = build_model_case(ModelInstance(seed=1, d=2, s=2, L=2, Lp=1)).weights
    b = build_model_case(ModelInstance(seed=1, d=2, s=2, L=2, Lp=1)).weights
    c = build_model_case(ModelInstance(seed=2, d=2, s=2, L=2, Lp=1)).weights
    assert a.digest() == b.digest() != c.digest()


def test_weights_are_read_only() -> None:
    w = build_model_case(ModelInstance(seed=1, d=2, s=2, L=2, Lp=1)).weights
    with pytest.raises(ValueError):
        w.w_q[0, 0] = 1.0


def test_chunked_attention_equals_unchunked() -> None:
    rng = np.random.default_rng(0)
    Q, K, V = (torch.tensor(rng.normal(size=s)) for s in ((3, 50), (3, 40), (2, 40)))
    whole = exact_attention(Q, K, V, 0.5)
    chunked = exact_attention(Q, K, V, 0.5, query_chunk=7)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-15)
    torch.testing.assert_close(exact_attention(Q, K, V, 0.5, last=9), whole[:, -9:],
                               rtol=0, atol=1e-15)


def test_attention_with_one_dominant_key_selects_its_value() -> None:
    Q = torch.tensor([[1.0]], dtype=torch.float64)
    K = torch.tensor([[0.0, 1e4, 0.0]], dtype=torch.float64)
    V = torch.tensor([[1.0, 7.0, 3.0]], dtype=torch.float64)
    assert exact_attention(Q, K, V, 1.0).item() == 7.0


def test_rounded_weights_are_float32_representable() -> None:
    w = build_model_case(ModelInstance(seed=3, d=2, s=2, L=2, Lp=1)).weights
    r = w.rounded_to(np.float32)
    assert isinstance(r, TransformerWeights)
    assert np.array_equal(r.w_q, r.w_q.astype(np.float32).astype(np.float64))


def test_beta_is_rounded_to_the_model_dtype_and_bad_inputs_are_named() -> None:
    """A float32 model uses β rounded to float32 (what its arithmetic can hold), a float64
    model the exact β; each input error starts with the input's own name, and a batched X
    with no tokens is refused."""
    from core.errors import InvalidArgument, NonFiniteError

    eye = np.eye(2)
    w = TransformerWeights(w_q=eye, w_k=eye, w_v=eye, w_o=eye, beta=0.1)
    assert PromptTunedTransformer(w, dtype=torch.float64).beta == 0.1
    assert PromptTunedTransformer(w, dtype=torch.float32).beta == float(np.float32(0.1)) != 0.1
    with pytest.raises(InvalidArgument) as info:
        PromptTunedTransformer(w, dtype=torch.int32)
    assert str(info.value).startswith("dtype=")
    model = PromptTunedTransformer(w)
    X, P = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64)
    for bad_x, bad_p, name in ((X.clone().fill_(float("nan")), P, "X"),
                               (X, P.clone().fill_(float("inf")), "P")):
        with pytest.raises(NonFiniteError) as nonfinite:
            model(bad_x, bad_p)
        assert str(nonfinite.value).startswith(f"{name} ")
    with pytest.raises(InvalidArgument) as empty:
        model(torch.zeros(4, 2, 0, dtype=torch.float64), P)
    assert str(empty.value).startswith("X=") and "L >= 1" in str(empty.value)


def test_float32_beta_is_rounded_whatever_torch_default_dtype() -> None:
    """β of a float32 model is float32-rounded even when torch's default dtype is float64."""
    eye = np.eye(2)
    w = TransformerWeights(w_q=eye, w_k=eye, w_v=eye, w_o=eye, beta=0.1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert PromptTunedTransformer(w, dtype=torch.float32).beta == float(np.float32(0.1))
    finally:
        torch.set_default_dtype(previous)


def test_every_buffer_is_created_on_the_requested_device() -> None:
    """``device`` places every weight buffer (``meta`` stands in for an accelerator here)."""
    eye = np.eye(2)
    ff = FeedForwardWeights(eye, np.zeros(2), eye, np.zeros(2))
    w = TransformerWeights(w_q=eye, w_k=eye, w_v=eye, w_o=eye, beta=0.5, ff_pre=(ff,),
                           ff_post=(ff,), pos=np.zeros((2, 3)))
    model = PromptTunedTransformer(w, device="meta")
    names = [name for name, _ in model.named_buffers()]
    assert {"w_q", "w_k", "w_ov", "pos", "pre.0.w1", "post.0.b2"} <= set(names)
    assert [layer.tensors[0].shape for layer in model.ff_pre_layers] == [(2, 2)]
    assert len(model.ff_post_layers) == 1
    assert all(b.device.type == "meta" for b in model.buffers())


def test_rounding_weights_keeps_every_part_rounded() -> None:
    """``rounded_to(float32)`` rounds every array and β, and keeps the FF stacks and the
    positional encoding (none dropped)."""
    rng = np.random.default_rng(5)
    a = lambda *shape: rng.normal(size=shape)  # noqa: E731
    ff = FeedForwardWeights(a(3, 2), a(3), a(2, 3), a(2))
    w = TransformerWeights(w_q=a(2, 2), w_k=a(2, 2), w_v=a(2, 2), w_o=a(2, 2), beta=0.1,
                           ff_pre=(ff,), ff_post=(ff, ff), pos=a(2, 4))
    r = w.rounded_to(np.float32)

    def f32(x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32).astype(np.float64)

    assert r.beta == float(np.float32(0.1))
    assert r.pos is not None and np.array_equal(r.pos, f32(w.pos))
    assert len(r.ff_pre) == 1 and len(r.ff_post) == 2
    for mine, theirs in zip(r.ff_pre + r.ff_post, w.ff_pre + w.ff_post, strict=True):
        for x, y in zip(mine.arrays(), theirs.arrays(), strict=True):
            assert x.dtype == np.float64 and np.array_equal(x, f32(y))
    for x, y in ((r.w_q, w.w_q), (r.w_k, w.w_k), (r.w_v, w.w_v), (r.w_o, w.w_o)):
        assert x.dtype == np.float64 and np.array_equal(x, f32(y))


def test_feed_forward_layer_is_stored_as_float64_and_names_each_bad_array() -> None:
    """Lists of ints become read-only float64 arrays under their own attribute, and a
    shape error names the offending array (``ff.w1`` …) with the shape it must have."""
    from core.errors import InvalidArgument

    ff = FeedForwardWeights([[1, 0], [0, 1], [1, 1]], [0, 1, 2], [[1, 0, 1], [0, 1, 1]], [3, 4])
    assert (ff.hidden, ff.d) == (3, 2)
    expected = ([[1, 0], [0, 1], [1, 1]], [0, 1, 2], [[1, 0, 1], [0, 1, 1]], [3, 4])
    for name, want in zip(("w1", "b1", "w2", "b2"), expected, strict=True):
        got = getattr(ff, name)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64, name
        assert np.array_equal(got, np.asarray(want, dtype=np.float64)), name
    w1, b1, w2, b2 = np.ones((3, 2)), np.zeros(3), np.ones((2, 3)), np.zeros(2)
    bad = {
        "ff.w1": dict(w1=np.ones(3)),                 # not a matrix
        "ff.b1": dict(b1=np.zeros(4)),                # h = 3 entries needed
        "ff.w2": dict(w2=np.ones((3, 3))),            # d = 2 rows needed
        "ff.w2 ": dict(w2=np.ones((2, 4))),           # h = 3 columns needed
        "ff.b2": dict(b2=np.zeros(3)),                # d = 2 entries needed
        "ff.b2 ": dict(b2=np.zeros((2, 1))),          # a vector, not a matrix
    }
    for name, change in bad.items():
        parts = {"w1": w1, "b1": b1, "w2": w2, "b2": b2, **change}
        with pytest.raises(InvalidArgument) as info:
            FeedForwardWeights(**parts)
        assert str(info.value).startswith(name.strip()), (name, str(info.value))


def test_weights_digest_sees_beta_stack_placement_and_shapes() -> None:
    """Two frozen models that differ only in β, only in whether a layer sits before or
    after attention, or only in the shapes that hold the same numbers, get different
    digests."""
    eye = np.eye(2)
    ff = FeedForwardWeights(eye, np.zeros(2), eye, np.zeros(2))
    base = dict(w_q=eye, w_k=eye, w_v=eye, w_o=eye)
    assert (TransformerWeights(**base, beta=0.5).digest()
            != TransformerWeights(**base, beta=0.25).digest())
    assert (TransformerWeights(**base, beta=0.5, ff_pre=(ff,)).digest()
            != TransformerWeights(**base, beta=0.5, ff_post=(ff,)).digest())
    # s = 1, d = 2 against s = 2, d = 1: the same eight numbers in the same order.
    row, col = np.array([[1.0, 2.0]]), np.array([[1.0], [2.0]])
    wide = TransformerWeights(w_q=row, w_k=row, w_v=row, w_o=col, beta=0.5)
    tall = TransformerWeights(w_q=col, w_k=col, w_v=col, w_o=row, beta=0.5)
    assert wide.digest() != tall.digest()


def test_transformer_weights_store_float64_and_name_each_bad_argument() -> None:
    """Lists become float64 arrays under their own names, β a float, the FF stacks tuples;
    each shape, range or type error names its argument and what it must be."""
    from core.errors import InvalidArgument

    eye = [[1, 0], [0, 1]]
    ff = FeedForwardWeights(np.eye(2), np.zeros(2), np.eye(2), np.zeros(2))
    w = TransformerWeights(w_q=eye, w_k=[[2, 0], [0, 2]], w_v=[[3, 0], [0, 3]],
                           w_o=[[4, 0], [0, 4]], beta=1, ff_pre=[ff], ff_post=[ff, ff],
                           pos=[[0, 1, 2], [3, 4, 5]])
    for scale, name in enumerate(("w_q", "w_k", "w_v", "w_o"), start=1):
        got = getattr(w, name)
        assert isinstance(got, np.ndarray) and got.dtype == np.float64, name
        assert np.array_equal(got, scale * np.eye(2)), name
    assert isinstance(w.pos, np.ndarray) and w.pos.dtype == np.float64
    assert np.array_equal(w.pos, np.arange(6.0).reshape(2, 3))
    assert isinstance(w.beta, float) and w.beta == 1.0
    assert w.ff_pre == (ff,) and w.ff_post == (ff, ff)
    wide = np.ones((1, 2))                   # s = 1, d = 2
    good = dict(w_q=wide, w_k=wide, w_v=wide, w_o=np.ones((2, 1)), beta=0.5)
    bad = [
        ("w_q", dict(w_q=np.ones(2))),
        ("w_k", dict(w_k=np.ones((2, 2)))),       # s = 1 row needed
        ("w_k", dict(w_k=np.ones((1, 3)))),       # d = 2 columns needed
        ("w_v", dict(w_v=np.ones((2, 2)))),
        ("w_v", dict(w_v=np.ones((1, 3)))),
        ("w_o", dict(w_o=np.ones((1, 1)))),       # d = 2 rows needed
        ("w_o", dict(w_o=np.ones((2, 2)))),       # s = 1 column needed
        ("beta", dict(beta=0.0)),                 # β > 0
        ("beta", dict(beta=-1.0)),
        ("pos", dict(pos=np.zeros((3, 4)))),      # d = 2 rows needed
        ("ff_pre[0]", dict(ff_pre=("layer",))),
        ("ff_post[1]", dict(ff_post=(ff, 3))),
    ]
    for name, change in bad:
        with pytest.raises(InvalidArgument) as info:
            TransformerWeights(**{**good, **change})
        message = str(info.value)
        assert message.startswith(name) and message[len(name)] in " =", (name, message)
    small_ff = FeedForwardWeights(np.eye(1), np.zeros(1), np.eye(1), np.zeros(1))
    with pytest.raises(InvalidArgument, match=r"^ff_post\[0\] acts on dimension 1: expected d=2"):
        TransformerWeights(**good, ff_post=(small_ff,))
