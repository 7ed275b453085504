"""Clip/text merging gives exact labels for any K and any per-clip lengths (property tests)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tempvl_core import merging

CLS, SEP, PAD = 101, 102, 0


def _groups(b: int, k: int, seed: int) -> torch.Tensor:
    return merging.sample_merge_groups(b, k, "random", generator=torch.Generator().manual_seed(seed))


@st.composite
def clip_batches(draw):
    b = draw(st.integers(1, 6))
    t = draw(st.integers(1, 9))
    lengths = draw(st.lists(st.integers(1, t), min_size=b, max_size=b))
    k = draw(st.integers(1, 7))
    per_clip = draw(st.one_of(st.none(), st.integers(1, 9)))
    return b, t, lengths, k, per_clip, draw(st.integers(0, 10_000))


@settings(max_examples=150, deadline=None)
@given(clip_batches())
def test_merged_clip_labels_are_exact(case) -> None:
    b, t, lengths, k, per_clip, seed = case
    # Feature value encodes (clip, frame) so every merged position can be traced back.
    feats = (torch.arange(b)[:, None] * 100 + torch.arange(t)[None, :]).float()[..., None].repeat(1, 1, 2)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    groups = _groups(b, k, seed)
    m = merging.merge_clips(feats, mask, groups, per_clip, torch.Generator().manual_seed(seed))
    k_eff = min(k, b)
    assert m.order.shape == (b, k_eff)
    for g in range(b):
        assert sorted(m.order[g].tolist()) == sorted(groups[g].tolist())
        assert m.order[g, m.anchor_slot[g]] == g
        offset = 0
        for j, clip in enumerate(m.order[g].tolist()):
            n = lengths[clip] if per_clip is None else min(lengths[clip], per_clip)
            assert (m.starts[g, j], m.ends[g, j]) == (offset, offset + n - 1)
            seg = m.features[g, offset : offset + n, 0]
            assert torch.all(seg // 100 == clip)
            frames = (seg % 100).long()
            assert frames[0] == 0  # subsampling spans the whole clip: first and last real frame kept
            assert n == 1 or frames[-1] == lengths[clip] - 1
            assert torch.all(frames.diff() > 0)  # in temporal order, no repeats
            offset += n
        assert m.mask[g].sum() == offset and not m.mask[g, offset:].any()
        assert torch.all(m.features[g, offset:] == 0)
    s, e = m.anchor_span()
    assert torch.equal(s, m.starts[torch.arange(b), m.anchor_slot])
    assert torch.all(e >= s)


@st.composite
def text_batches(draw):
    b = draw(st.integers(1, 6))
    bodies = draw(st.lists(st.lists(st.integers(1000, 1010), min_size=0, max_size=12), min_size=b, max_size=b))
    k = draw(st.integers(1, 6))
    max_len = draw(st.integers(2 * min(k, b) + 1, 64))
    return bodies, k, max_len, draw(st.integers(0, 10_000))


@settings(max_examples=150, deadline=None)
@given(text_batches())
def test_merged_token_spans_are_exact(case) -> None:
    bodies, k, max_len, seed = case
    b = len(bodies)
    width = max(len(x) for x in bodies) + 2
    ids = torch.full((b, width), PAD)
    att = torch.zeros((b, width), dtype=torch.long)
    for i, body in enumerate(bodies):
        seq = [CLS, *body, SEP]
        ids[i, : len(seq)] = torch.tensor(seq)
        att[i, : len(seq)] = 1
    groups = _groups(b, k, seed)
    m = merging.merge_text_tokens(ids, att, groups, CLS, SEP, PAD, max_len, torch.Generator().manual_seed(seed))
    k_eff = min(k, b)
    budget = max(1, (max_len - 1) // k_eff - 1)
    for g in range(b):
        row = m.input_ids[g][m.attention_mask[g].bool()].tolist()
        assert len(row) <= max_len and row[0] == CLS and row[-1] == SEP
        assert m.order[g, m.anchor_slot[g]] == g
        expected_pos = 1
        for j, idx in enumerate(m.order[g].tolist()):
            body = (bodies[idx] or [CLS])[:budget]
            s, e = int(m.starts[g, j]), int(m.ends[g, j])
            assert s == expected_pos and e == s + len(body) - 1
            assert row[s : e + 1] == body and row[e + 1] == SEP
            expected_pos = e + 2
        assert expected_pos == len(row)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 1000))
def test_merged_text_features_label_the_anchor(b: int, k: int, seed: int) -> None:
    feats = torch.randn(b, 3)
    merged, order, slot = merging.merge_text_features(feats, _groups(b, k, seed), torch.Generator().manual_seed(seed))
    assert merged.shape == (b, min(k, b), 3)
    assert torch.equal(merged[torch.arange(b), slot], feats)
    assert torch.equal(merged, feats[order])


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 1000))
def test_random_groups_have_no_duplicates_and_are_reproducible(b: int, k: int, seed: int) -> None:
    g1 = merging.sample_merge_groups(b, k, "random", generator=torch.Generator().manual_seed(seed))
    g2 = merging.sample_merge_groups(b, k, "random", generator=torch.Generator().manual_seed(seed))
    assert torch.equal(g1, g2)
    assert torch.equal(g1[:, 0], torch.arange(b))
    for row in g1.tolist():
        assert len(set(row)) == len(row) == min(b, k)


def test_hard_groups_pick_the_most_similar_clips() -> None:
    sim = torch.tensor(
        [
            [9.0, 0.1, 0.8, 0.5, 0.2],
            [0.3, 9.0, 0.1, 0.2, 0.9],
            [0.7, 0.6, 9.0, 0.1, 0.0],
            [0.1, 0.2, 0.3, 9.0, 0.4],
            [0.5, 0.4, 0.3, 0.2, 9.0],
        ]
    )
    groups = merging.sample_merge_groups(5, 3, "hard", similarity=sim)
    assert groups.tolist() == [[0, 2, 3], [1, 4, 0], [2, 0, 1], [3, 4, 2], [4, 0, 1]]
    # Shuffling for placement is reproducible given the generator.
    a = merging.merge_text_features(torch.randn(5, 2), groups, torch.Generator().manual_seed(3))[1]
    b = merging.merge_text_features(torch.randn(5, 2), groups, torch.Generator().manual_seed(3))[1]
    assert torch.equal(a, b)


def test_merge_errors_are_actionable() -> None:
    import pytest

    with pytest.raises(ValueError, match="similarity"):
        merging.sample_merge_groups(3, 2, "hard")
    with pytest.raises(ValueError, match="'random' or 'hard'"):
        merging.sample_merge_groups(3, 2, "nearest")
    feats = torch.zeros(2, 3, 1)
    with pytest.raises(ValueError, match="padding last"):
        merging.merge_clips(feats, torch.tensor([[0, 1, 1], [1, 1, 1]]).bool(), _groups(2, 2, 0))
