"""Backbone weights from a local file: safetensors or a ``torch.load(weights_only=True)`` file.

Nothing is downloaded. A file that does not fit the module fails with every missing key (and
the shape the module expects), every unexpected key, and every shape mismatch, so a user can
tell a wrong architecture from a wrong prefix at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

#: Containers that training scripts wrap a state dict in (timm, torchvision references, DeiT, MAE...).
CONTAINER_KEYS = ("state_dict", "model", "module", "model_state", "state_dict_ema")
LISTED = 20  # keys listed per category before "... and N more"

StateDict = dict[str, Tensor]


class WeightsMismatchError(ValueError):
    """A weights file whose keys or shapes do not match the backbone; the message lists them."""


def read_state_dict(path: str | Path) -> StateDict:
    """Tensors of a ``.safetensors`` file or of a torch file loaded with ``weights_only=True``.

    A torch file holding ``{"state_dict": ...}`` (or ``model``, ``module``...) is unwrapped, and
    a ``module.`` prefix left by DataParallel/DDP is stripped.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file {path} does not exist (model.pretrained)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state: object = load_file(str(path), device="cpu")
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickles with code, truncated files, not a torch file at all
            raise ValueError(
                f"{path}: cannot be read as a weights file with torch.load(weights_only=True) ({exc}). "
                "Save a plain state dict (torch.save(model.state_dict(), path)) or a .safetensors file."
            ) from None
    for key in CONTAINER_KEYS:
        if isinstance(state, Mapping) and key in state and isinstance(state[key], Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a mapping of parameter names to tensors (a state dict)")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def load_backbone_weights(
    module: nn.Module,
    path: str | Path,
    *,
    ignore_prefixes: Iterable[str] = (),
    adapt: Callable[[StateDict, nn.Module], StateDict] | None = None,
    name: str = "",
) -> nn.Module:
    """Load ``path`` into ``module`` strictly; returns ``module``.

    ``ignore_prefixes``: keys of the file to drop first (a classifier head the backbone removed).
    ``adapt``: a converter applied before comparing, e.g. timm's ``checkpoint_filter_fn``
    (resizes position embeddings to the configured image size).
    """
    state = read_state_dict(path)
    prefixes = tuple(ignore_prefixes)
    state = {k: v for k, v in state.items() if not (prefixes and k.startswith(prefixes))}
    if adapt is not None:
        state = adapt(state, module)
    problems = describe_mismatch(module.state_dict(), state)
    if problems:
        what = name or type(module).__name__
        raise WeightsMismatchError(
            f"backbone weights {path} do not fit {what}:\n{problems}\n"
            "Pass a state dict of this very architecture (torch.save(model.state_dict()) or safetensors; "
            "a 'state_dict'/'model' wrapper and a 'module.' prefix are accepted)."
        )
    module.load_state_dict(state, strict=True)
    return module


def describe_mismatch(expected: Mapping[str, Tensor], given: Mapping[str, Tensor]) -> str:
    """Missing keys with their expected shapes, unexpected keys, shape mismatches; '' if none."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    mismatched = [k for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    lines: list[str] = []
    if missing:
        lines.append(f"  missing keys ({len(missing)}), with the shape the backbone expects:")
        lines += _listed(f"    {k} {_shape(expected[k])}" for k in missing)
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}):")
        lines += _listed(f"    {k} {_shape(given[k])}" for k in unexpected)
    if mismatched:
        lines.append(f"  shape mismatches ({len(mismatched)}):")
        lines += _listed(f"    {k}: file {_shape(given[k])}, backbone expects {_shape(expected[k])}" for k in mismatched)
    return "\n".join(lines)


def _listed(lines: Iterable[str]) -> list[str]:
    lines = list(lines)
    extra = [f"    ... and {len(lines) - LISTED} more"] if len(lines) > LISTED else []
    return lines[:LISTED] + extra


def _shape(tensor: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in tensor.shape) + "]"
