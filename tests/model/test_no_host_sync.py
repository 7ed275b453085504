"""A pretraining step never waits for the device: no value of a device tensor is read on the host.

There is no GPU here, so the *device* is the ``meta`` device (shapes only, no values) and the
host is the CPU. :class:`HostSyncGuard` raises at every op that would make the host wait for a
device on a GPU: a scalar read (``.item()``, ``int()``, ``bool()``), ``nonzero`` and
boolean-mask indexing (their output size depends on values), a device-to-host copy, and a
*blocking* host-to-device copy (which synchronizes the stream). Plans built on the host from the
host copies of the batch pass; the guard itself is tested on deliberately syncing calls.

One read is outside this package and allowed by name: transformers' SDPA mask helper checks
``attention_mask.all()`` on every text-encoder call to skip an all-ones mask
(``transformers/masking_utils.py``); it is counted, so a new one cannot hide behind it.
"""

from __future__ import annotations

import copy
import traceback

import pytest
import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

from model_helpers import TEXTS
from tempvl_core import merging
from tempvl_core.model import TemPVL
from tempvl_core.model.objectives import HostBatch

aten = torch.ops.aten
DEVICE = torch.device("meta")
VALUE_READS = {aten._local_scalar_dense, aten.nonzero, aten.nonzero_static, aten.masked_select, aten.is_nonzero,
               aten.equal, aten.item, aten._unique2, aten.unique_consecutive, aten.repeat_interleave}
INDEXING = {aten.index, aten.index_put, aten.index_put_, aten._index_put_impl_}


class HostSync(AssertionError):
    pass


TEXT_ENCODER_MASK = "transformers/masking_utils.py"  # the third-party read (see the module docstring)


class HostSyncGuard(TorchDispatchMode):
    """Raises :class:`HostSync` at any op that reads a non-CPU tensor's values on the host,
    except when called from a file named in ``allow`` (those calls are counted in ``allowed``)."""

    def __init__(self, allow: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.allow, self.allowed = allow, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        try:
            self._check(func, args, kwargs or {})
        except HostSync:
            callers = [frame.filename for frame in traceback.extract_stack()]
            allowed = [name for name in self.allow if any(f.endswith(name) for f in callers)]
            if not allowed:
                raise
            self.allowed.append(allowed[0])
            if func.overloadpacket is aten._local_scalar_dense:  # a meta tensor has no value: answer
                return False  # "not all ones" (the text encoder then builds its mask, as on padding)
            if func.overloadpacket is aten._to_copy:  # nor can it be copied out: zeros stand in
                return torch.zeros(args[0].shape, dtype=(kwargs or {}).get("dtype") or args[0].dtype)
        return func(*args, **(kwargs or {}))

    def _check(self, func, args, kwargs) -> None:
        kwargs = kwargs or {}
        tensors = [x for x in pytree.tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
        on_device = [x for x in tensors if x.device.type != "cpu"]
        packet = func.overloadpacket
        if on_device and packet in VALUE_READS:
            raise HostSync(f"{func} reads a device tensor on the host")
        if on_device and packet in INDEXING:
            indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
            if any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ()):
                raise HostSync(f"{func} with a boolean mask (its size is read on the host)")
        if packet in (aten._to_copy, aten.copy_):
            if packet is aten._to_copy:
                src, dst = args[0].device, torch.device(kwargs.get("device") or args[0].device)
                non_blocking = kwargs.get("non_blocking", False)
            else:
                dst, src = args[0].device, args[1].device
                non_blocking = args[2] if len(args) > 2 else kwargs.get("non_blocking", False)
            if src.type != "cpu" and dst.type == "cpu":
                raise HostSync(f"{func} copies a device tensor to the host")
            if src.type == "cpu" and dst.type != "cpu" and not non_blocking:
                raise HostSync(f"{func} is a blocking host-to-device copy (the stream is synchronized)")


@pytest.mark.parametrize("call", [
    lambda x: x.sum().item(),
    lambda x: int(x[0, 0]),
    lambda x: bool(x.any()),
    lambda x: x.cpu(),
    lambda x: torch.nonzero(x),
    lambda x: x[x > 0],
    lambda x: x.masked_fill(x > 0, 0)[x > 1].sum(),
    lambda x: torch.ones(3).to(x.device),
    lambda x: x.new_zeros(2).copy_(torch.ones(2)),
], ids=["item", "int", "bool", "cpu", "nonzero", "bool-index", "bool-index-after", "blocking-h2d", "blocking-copy_"])
def test_the_guard_catches_every_kind_of_sync(call) -> None:
    x = torch.zeros(4, 5, device=DEVICE)
    with pytest.raises(HostSync), HostSyncGuard():
        call(x)


def test_the_guard_lets_host_plans_through() -> None:
    x = torch.zeros(4, 5, device=DEVICE)
    with HostSyncGuard():
        idx = torch.nonzero(torch.tensor([True, False, True, True])).flatten()  # on the host: free
        y = x[idx.to(DEVICE, non_blocking=True)] * torch.ones(5).to(DEVICE, non_blocking=True)
        total = torch.where(y > 0, y, 0.0).sum()
    assert y.shape == (3, 5) and total.device == DEVICE


def test_mlm_masking_on_the_device_reads_nothing_back() -> None:
    """BERT masking with torch.where (no `if any()`, no boolean-mask writes) and host draws."""
    from tempvl_core import losses

    ids = torch.randint(1000, 2000, (4, 12)).to(DEVICE)
    att = torch.ones(4, 12, dtype=torch.long).to(DEVICE)
    with HostSyncGuard():
        masked, labels = losses.mask_tokens(ids, att, 103, 30522, [0, 101, 102, 103], 0.15,
                                            generator=torch.Generator().manual_seed(0))
    assert masked.shape == labels.shape == (4, 12)


def _clips(b: int = 5, t: int = 6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([6, 3, 1, 5, 2])[:b]
    mask = torch.arange(t)[None, :] < lengths[:, None]
    groups = merging.sample_merge_groups(b, 3, "random", generator=torch.Generator().manual_seed(0))
    return torch.randn(b, t, 8), mask, lengths, groups


@pytest.mark.parametrize("window,hold", [(None, 0), (8, 2)])
def test_merge_clips_plans_on_the_host(window, hold) -> None:
    feats, mask, lengths, groups = _clips()
    kwargs = dict(window=window, random_lengths=True, hold=hold, order_by=torch.tensor([0, 1, 2, 0, 1]))
    expected = merging.merge_clips(feats, mask, groups, 4, torch.Generator().manual_seed(1), **kwargs)
    device_feats, device_mask = feats.to(DEVICE), mask.to(DEVICE)
    with HostSyncGuard():  # features on the device, lengths and groups on the host
        merged = merging.merge_clips(device_feats, None, groups, 4, torch.Generator().manual_seed(1),
                                     lengths=lengths, **kwargs)
    assert merged.features.device == DEVICE and merged.features.shape == expected.features.shape
    # The same plan from host lengths as from the mask (CPU run, values compared).
    again = merging.merge_clips(feats, None, groups, 4, torch.Generator().manual_seed(1), lengths=lengths, **kwargs)
    for name in ("features", "mask", "positions", "order", "starts", "ends", "anchor_slot"):
        assert torch.equal(getattr(again, name), getattr(expected, name)), name
    # Planning from a device mask (what merge_clips did before) reads it back: caught.
    with pytest.raises(HostSync), HostSyncGuard():
        merging.merge_clips(device_feats, device_mask, groups, 4, torch.Generator().manual_seed(1), **kwargs)


def _device_batch(host_fields: bool) -> dict:
    g = torch.Generator().manual_seed(1)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    cpu = {"frame_mask": mask, "mergeable": torch.tensor([True, True, False, True]),
           "source": torch.tensor([7, 7, 7, 9]), "source_index": torch.tensor([2, 0, 1, 0])}
    batch = {k: v.to(DEVICE) for k, v in cpu.items()}  # what the engine hands the model: all moved
    batch["frames"] = torch.randn(4, 4, 3, 32, 32, generator=g).to(DEVICE)
    batch["texts"] = list(TEXTS)
    if host_fields:
        batch["host"] = HostBatch.of(cpu)  # the copies a collate function keeps
    return batch


def _meta_model(model: TemPVL, **config) -> TemPVL:
    model = copy.deepcopy(model).to(DEVICE)
    model.config.loss_weights = {"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0, "vtm": 0.0}
    for key, value in config.items():
        setattr(model.config, key, value)
    return model.train()


@pytest.mark.parametrize("config", [
    dict(tl_strategy="tokens", merge_sampling="random"),
    dict(tl_strategy="cls", merge_sampling="random", merge_order="source", merge_hold_frames=1,
         merge_shuffled_texts=True, mr_saliency_weight=1.0),
    dict(tl_strategy="tokens", merge_sampling="hard", merge_warmup_steps=5, max_merged_frames=8),
    dict(tl_strategy="tokens", merge_sampling="random", loss_weights={"vtc": 1.0, "mlm": 1.0, "mr": 1.0, "tl": 1.0,
                                                                      "vtm": 1.0}),
], ids=["tokens-random", "cls-source", "hard-during-warmup", "with-vtm"])
def test_a_pretraining_step_never_waits_for_the_device(base_model: TemPVL, config: dict) -> None:
    """VTC + MLM + MR + TL (+ VTM), forward and backward, with every batch tensor on the device
    and the host copies in batch['host']."""
    model, batch = _meta_model(base_model, **config), _device_batch(host_fields=True)
    with HostSyncGuard(allow=(TEXT_ENCODER_MASK,)) as guard:
        out = model(batch, generator=torch.Generator().manual_seed(0))
        out["loss"].backward()
    assert set(out) == {"loss"} | {f"loss_{k}" for k, w in model.config.loss_weights.items() if w > 0}
    assert model.merge_steps_host == 1
    # Only the text encoder's mask check: once per text-encoder call (texts, MLM, merged TL texts).
    assert guard.allowed == [TEXT_ENCODER_MASK] * (3 if config["tl_strategy"] == "tokens" else 2)


def test_what_still_waits_is_named(base_model: TemPVL) -> None:
    """Without host copies the batch's device fields are copied back (a wait per field); hard
    sampling after its warm-up reads the clip similarities back (the one wait left by design)."""
    model, batch = _meta_model(base_model, merge_sampling="random"), _device_batch(host_fields=False)
    with pytest.raises(HostSync, match="copies a device tensor to the host"), HostSyncGuard((TEXT_ENCODER_MASK,)):
        model(batch, generator=torch.Generator().manual_seed(0))
    model, batch = _meta_model(base_model, merge_sampling="hard", merge_warmup_steps=0), _device_batch(host_fields=True)
    with pytest.raises(HostSync, match="copies a device tensor to the host") as info, HostSyncGuard((TEXT_ENCODER_MASK,)):
        model(batch, generator=torch.Generator().manual_seed(0))
    assert any(frame.name == "_partners" for frame in info.traceback)
    # That read is made once per step, shared by MR and TL.
    objectives = "tempvl_core/model/objectives.py"
    with HostSyncGuard((TEXT_ENCODER_MASK, objectives)) as guard:
        model(batch, generator=torch.Generator().manual_seed(0))["loss"].backward()
    assert guard.allowed.count(objectives) == 1


def test_merge_step_mirror_follows_loaded_checkpoints(model: TemPVL, batch: dict) -> None:
    """The warm-up is decided from a host mirror of ``merge_steps``: counted per training step and
    set again from any state dict loaded (a resumed run continues its warm-up)."""
    model.config.loss_weights = {"mr": 1.0}
    model(batch, generator=torch.Generator().manual_seed(0))
    model(batch, generator=torch.Generator().manual_seed(0))
    assert model.merge_steps_host == int(model.merge_steps) == 2
    state = model.state_dict()
    state["merge_steps"] = torch.tensor(7)
    fresh = copy.deepcopy(model)
    fresh.merge_steps_host = 0
    fresh.load_state_dict(state)
    assert fresh.merge_steps_host == int(fresh.merge_steps) == 7
    fresh.eval()(batch, generator=torch.Generator().manual_seed(0))  # evaluation forwards do not count
    assert fresh.merge_steps_host == 7
