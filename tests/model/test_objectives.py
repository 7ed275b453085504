"""Every pretraining objective: finite values, gradients where they belong, weight 0 = absent."""

from __future__ import annotations

import pytest
import torch

from tempvl_core import losses
from tempvl_core.model import TemPVL

ALL = ("vtc", "mlm", "mr", "tl", "vtm")
# Parameters each objective must train (beyond the shared encoders) and never touches otherwise.
OWN_PARAMS = {
    "vtc": ["logit_scale", "video_proj.weight", "text_proj.weight"],
    "mlm": ["lm_head.dense.weight"],
    "mr": ["mr_head.mlp.0.weight", "grounding.convs.0.depthwise.weight"],
    "tl": ["tl_span_head.mlp.0.weight"],
    "vtm": ["vtm_head.mlp.0.weight"],
}
SHARED = ["video_encoder.backbone.net.0.weight", "text_encoder.model.encoder.layer.0.output.dense.weight"]


def _only(model: TemPVL, name: str) -> None:
    model.config.loss_weights = {k: (1.0 if k == name else 0.0) for k in ALL}


def _grad(model: TemPVL, name: str) -> torch.Tensor | None:
    return dict(model.named_parameters())[name].grad


@pytest.mark.parametrize("name", ALL)
def test_each_loss_trains_its_own_parameters(model: TemPVL, batch: dict, name: str) -> None:
    _only(model, name)
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert set(out) == {f"loss_{name}", "loss"}
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"]) and out["loss"] > 0
    out["loss"].backward()
    for p in OWN_PARAMS[name] + SHARED:
        g = _grad(model, p)
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, f"{name}: no gradient on {p}"
    for other, params in OWN_PARAMS.items():
        if other != name and not (name in ("vtm", "mlm", "tl") and other in ("vtm", "mlm", "tl")):
            for p in params:
                if p not in OWN_PARAMS[name]:
                    assert _grad(model, p) is None, f"{name} touched {p} of {other}"


def test_mlm_and_mr_are_conditioned_on_the_video(model: TemPVL, batch: dict) -> None:
    for name, param in (("mlm", "fusion.stack.blocks.0.cross_attn.kv.weight"), ("mr", "grounding.blocks.0.cross_attn.kv.weight")):
        model.zero_grad()
        _only(model, name)
        model(batch, generator=torch.Generator().manual_seed(0))["loss"].backward()
        assert _grad(model, param).abs().sum() > 0


def test_zero_weight_is_absent_and_adds_no_gradient(model: TemPVL, batch: dict) -> None:
    model.config.loss_weights = {"vtc": 1.0, "mlm": 0.0, "mr": 0.0, "tl": 1.0, "vtm": 0.0}
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert set(out) == {"loss_vtc", "loss_tl", "loss"}
    assert torch.allclose(out["loss"], out["loss_vtc"] + out["loss_tl"])
    out["loss"].backward()
    for name in OWN_PARAMS["mr"] + OWN_PARAMS["mlm"] + OWN_PARAMS["vtm"]:
        assert _grad(model, name) is None, name


def test_weights_scale_losses_and_forward_is_reproducible(model: TemPVL, batch: dict) -> None:
    model.config.loss_weights = {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0}
    a = model(batch, generator=torch.Generator().manual_seed(5))
    b = model(batch, generator=torch.Generator().manual_seed(5))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    model.config.loss_weights = {"vtc": 2.0, "mlm": 0.5, "mr": 3.0, "tl": 1.0}
    c = model(batch, generator=torch.Generator().manual_seed(5))
    for key, w in (("vtc", 2.0), ("mlm", 0.5), ("mr", 3.0)):
        assert torch.allclose(c[f"loss_{key}"], w * a[f"loss_{key}"], rtol=1e-5), key


@pytest.mark.parametrize("strategy,sampling", [("cls", "hard"), ("tokens", "hard"), ("cls", "random")])
def test_tl_and_mr_variants(model: TemPVL, batch: dict, strategy: str, sampling: str) -> None:
    model.config.loss_weights = {"mr": 1.0, "tl": 1.0}
    model.config.tl_strategy, model.config.merge_sampling = strategy, sampling
    model.config.merge_frames_per_clip = 2
    out = model(batch, generator=torch.Generator().manual_seed(0))
    out["loss"].backward()
    head = "tl_cls_head.mlp.0.weight" if strategy == "cls" else "tl_span_head.mlp.0.weight"
    assert _grad(model, head).abs().sum() > 0
    assert torch.isfinite(out["loss_mr"]) and torch.isfinite(out["loss_tl"])


@pytest.mark.parametrize("strategy", ["tokens", "cls"])
def test_source_order_merges_within_a_video(model: TemPVL, batch: dict, strategy: str) -> None:
    """merge_order 'source': clips 0-2 come from one video, clip 3 from another (so its
    groups are one clip and two empty slots): every loss stays finite and trains its head."""
    model.config.loss_weights = {"mr": 1.0, "tl": 1.0}
    model.config.merge_order, model.config.tl_strategy = "source", strategy
    with pytest.raises(ValueError, match=r"merge_order 'source' needs batch\['source'\]"):
        model(batch, generator=torch.Generator().manual_seed(0))
    batch = {**batch, "source": torch.tensor([7, 7, 7, 9]), "source_index": torch.tensor([2, 0, 1, 0])}
    out = model(batch, generator=torch.Generator().manual_seed(0))
    out["loss"].backward()
    head = "tl_cls_head.mlp.0.weight" if strategy == "cls" else "tl_span_head.mlp.0.weight"
    assert _grad(model, head).abs().sum() > 0 and _grad(model, "mr_head.mlp.0.weight").abs().sum() > 0
    assert torch.isfinite(out["loss_mr"]) and torch.isfinite(out["loss_tl"])
    with pytest.raises(ValueError, match=r"batch\['source'\] must be \[4\] integers"):
        model({**batch, "source": torch.tensor([7.0, 7.0, 7.0, 9.0])})


def test_mr_and_tl_share_one_merge_pool(model: TemPVL, batch: dict, monkeypatch) -> None:
    """The merge candidates (features, metadata, under DDP a gather each) are collected once
    per batch, not once per objective."""
    from tempvl_core.model import objectives

    calls = []
    gather = objectives._gather_pool
    monkeypatch.setattr(objectives, "_gather_pool", lambda s: calls.append(1) or gather(s))
    model.config.loss_weights = {"mr": 1.0, "tl": 1.0}
    out = model(batch, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss_mr"]) and torch.isfinite(out["loss_tl"]) and len(calls) == 1


def test_pretokenized_batch_and_errors(model: TemPVL, batch: dict) -> None:
    tokens = model.tokenize(batch["texts"])
    model.config.loss_weights = {"vtc": 1.0}
    a = model({"frames": batch["frames"], "texts": batch["texts"]})
    b = model({"frames": batch["frames"], **tokens})
    assert torch.allclose(a["loss"], b["loss"])
    with pytest.raises(KeyError, match="texts"):
        model({"frames": batch["frames"]})
    with pytest.raises(ValueError, match="4 videos but 3 texts"):
        model({"frames": batch["frames"], "texts": batch["texts"][:3]})
    model.config.loss_weights = {"vtc": 0.0}
    with pytest.raises(ValueError, match="enable at least one"):
        model(batch)


def test_mr_learns_to_locate_clips(model: TemPVL, batch: dict) -> None:
    """A few steps on one batch must lower the MR loss: the labels carry real signal."""
    model.config.loss_weights = {"mr": 1.0}
    model.text_encoder.requires_grad_(False)  # keeps the test fast; the MR path is what learns
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    history = []
    for step in range(10):
        loss = model(batch, generator=torch.Generator().manual_seed(step % 2))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert min(history[-3:]) < 0.8 * history[0], history


def test_mask_tokens_follows_bert_rule() -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (64, 128), generator=g)
    ids[:, 0], ids[:, -1] = 101, 102
    att = torch.ones_like(ids)
    att[:, 100:] = 0
    masked, labels = losses.mask_tokens(ids, att, 103, 30522, [0, 101, 102, 103], 0.15, generator=g)
    chosen = labels != losses.IGNORE_INDEX
    assert not chosen[:, 0].any() and not chosen[:, 100:].any()  # specials and padding never targets
    assert torch.equal(labels[chosen], ids[chosen])
    assert abs(chosen[:, 1:100].float().mean().item() - 0.15) < 0.02
    frac_mask = (masked[chosen] == 103).float().mean().item()
    frac_same = (masked[chosen] == ids[chosen]).float().mean().item()
    assert abs(frac_mask - 0.8) < 0.05 and abs(frac_same - 0.1) < 0.04
    assert torch.equal(masked[~chosen], ids[~chosen])
    # A short caption still gets one target.
    _, few = losses.mask_tokens(torch.tensor([[101, 1500, 102]]), torch.ones(1, 3, dtype=torch.long), 103, 30522, [101, 102], 0.0001)
    assert (few != losses.IGNORE_INDEX).sum() == 1


def test_hard_negatives_never_pick_the_positive() -> None:
    sim = torch.randn(6, 6) * 5
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        neg = losses.sample_hard_negatives(sim, g)
        assert (neg != torch.arange(6)).all()
    peaked = torch.full((3, 3), -50.0)
    peaked[0, 2] = peaked[1, 0] = peaked[2, 1] = 50.0
    assert losses.sample_hard_negatives(peaked, g).tolist() == [2, 0, 1]


def test_forward_under_bf16_autocast(model: TemPVL, batch: dict) -> None:
    """GPU training runs under autocast: masks, merging and index writes must follow its dtype."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch, generator=torch.Generator().manual_seed(0))
    assert all(torch.isfinite(v) for v in out.values())
    out["loss"].backward()
    assert model.mr_head.mlp[0].weight.grad is not None


def test_hard_negatives_follow_the_softmax() -> None:
    """Gumbel-max on host-drawn noise samples like multinomial(softmax(sim)) off the diagonal."""
    sim = torch.tensor([[3.0, 1.0, 0.0, 2.0], [0.5, 3.0, 1.5, -1.0], [0.0, 0.0, 3.0, 0.0], [1.0, 2.0, 0.0, 3.0]])
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([losses.sample_hard_negatives(sim, g) for _ in range(3000)])
    for row in range(4):
        others = [j for j in range(4) if j != row]
        expected = sim[row, others].softmax(0)
        counts = torch.bincount(draws[:, row], minlength=4).float() / len(draws)
        assert counts[row] == 0 and torch.allclose(counts[others], expected, atol=0.03), (row, counts, expected)


def test_mr_saliency_trains_the_joint_space_frame_by_frame(model: TemPVL, batch: dict, monkeypatch) -> None:
    """mr_saliency_weight adds the merged-video hinge to MR: with it MR reaches video_proj and
    text_proj (the joint space the alignment probe reads), without it MR never does; the added
    term is the weight times the hinge, whose inside frames are exactly the anchor's span."""
    from tempvl_core.model import objectives

    model.config.loss_weights = {"mr": 1.0}
    plain = model(batch, generator=torch.Generator().manual_seed(0))["loss_mr"]
    plain.backward()
    assert _grad(model, "video_proj.weight") is None and _grad(model, "text_proj.weight") is None
    model.zero_grad(set_to_none=True)

    seen = []
    hinge = losses.saliency_hinge
    monkeypatch.setattr(losses, "saliency_hinge", lambda sim, inside, mask: seen.append((sim, inside, mask))
                        or hinge(sim, inside, mask))
    spans = []
    anchor_span = objectives.merging.MergedVideo.anchor_span
    monkeypatch.setattr(objectives.merging.MergedVideo, "anchor_span",
                        lambda self: spans.append(anchor_span(self)) or spans[-1])
    model.config.mr_saliency_weight = 0.5
    out = model(batch, generator=torch.Generator().manual_seed(0))["loss_mr"]
    (sim, inside, mask), (starts, ends) = seen[0], spans[0]
    assert torch.allclose(out, plain + 0.5 * hinge(sim, inside, mask))
    assert hinge(sim, inside, mask) > 0
    for row in range(inside.shape[0]):
        assert inside[row].nonzero().squeeze(1).tolist() == list(range(int(starts[row]), int(ends[row]) + 1))
    assert (inside.sum(1) < mask.sum(1)).any()  # anchors with frames of other clips to beat
    out.backward()
    assert _grad(model, "video_proj.weight").abs().sum() > 0 and _grad(model, "text_proj.weight").abs().sum() > 0
    with pytest.raises(ValueError, match="mr_saliency_weight"):
        type(model.config)(mr_saliency_weight=-1.0)


def test_saliency_hinge() -> None:
    """losses.saliency_hinge, shared by MR's merged-video term and moment-retrieval finetuning."""
    mask = torch.tensor([[True, True, True, False]])
    inside = torch.tensor([[True, False, False, True]])
    separated = torch.tensor([[0.9, 0.1, 0.2, -5.0]])  # padded frame ignored
    assert losses.saliency_hinge(separated, inside, mask).item() == 0.0
    close = torch.tensor([[0.3, 0.2, 0.4, 0.0]], requires_grad=True)
    loss = losses.saliency_hinge(close, inside, mask)
    expected = (max(0.0, losses.SALIENCY_MARGIN - 0.1) + max(0.0, losses.SALIENCY_MARGIN + 0.1)) / 2
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert close.grad[0, 0] < 0 and close.grad[0, 3] == 0  # raises the inside frame, ignores padding
    assert losses.saliency_hinge(close, torch.zeros_like(inside), mask).item() == 0.0  # no positive frame

    # Several queries with padding: a mean over all (inside, outside) pairs of real frames.
    sim = torch.tensor([[0.9, 0.1, 0.5, 0.0], [0.2, 0.3, 0.0, 0.0]])
    inside = torch.tensor([[True, False, False, False], [False, True, False, False]])
    mask = torch.tensor([[True, True, True, False], [True, True, False, False]])
    # Row 0: 0.9 beats 0.1 (gap 0.8) and 0.5 (gap 0.4) by more than 0.2; row 1: gap 0.1 -> 0.1.
    assert torch.isclose(losses.saliency_hinge(sim, inside, mask), torch.tensor(0.1 / 3))
    assert losses.saliency_hinge(sim, torch.zeros_like(inside), mask) == 0  # no frame inside: nothing
