"""The study's YAML: model, pretraining, evaluation budgets and the variants to compare.

Parsed once into :class:`StudyConfig` with :func:`tempvl_core.safe_yaml.read_yaml` (no duplicate
keys, no aliases); every error names the file and the dotted key. ``--quick`` merges the file's ``quick:`` block over the rest (smaller budgets for
tests: structure and determinism, never the claim).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tempvl_core.safe_yaml import read_yaml

LOSSES = ("vtc", "mlm", "mr", "tl")
SECTIONS = ("model", "pretrain", "eval", "finetune", "bootstrap", "variants", "reference", "quick", "claims")
VARIANT_KEYS = ("label", "losses", "merge_sampling", "tl_strategy", "merge_clips", "shuffled_texts", "seeds",
                "random_init")
#: What a claim may compare a variant with besides another variant.
#: "swapped texts": variant a's own outcomes when each query is given another query's text of its video.
CLAIM_TARGETS = ("chance", "swapped texts", "best constant window", "best constant frame", "text-blind ceiling")
#: A claim's pass rules, on the paired 95% bootstrap interval of ``a - b``.
CLAIM_RULES = ("lower > 0", "upper < 0")
CLAIM_KEYS = ("name", "metric", "a", "b", "rule")
CLAIM_EVALUATIONS = ("zero-shot", "finetuned", "retrieval zero-shot", "retrieval finetuned")


class StudyConfigError(ValueError):
    """A study config that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Variant:
    """One pretraining recipe: which losses, how clips and texts are merged, how many seeds."""

    name: str
    label: str
    losses: dict[str, float]
    merge_sampling: str = "hard"
    tl_strategy: str = "tokens"
    merge_clips: int = 4
    shuffled_texts: bool = False
    seeds: int = 1
    random_init: bool = False  # no pretraining: the initial weights every variant of a seed starts from

    @property
    def merges(self) -> bool:
        return self.losses.get("mr", 0) > 0 or self.losses.get("tl", 0) > 0


@dataclass(frozen=True)
class Claim:
    """A pre-registered claim: ``metric`` of variant ``a`` against variant (or baseline) ``b``,
    held when the paired 95% interval of ``a - b`` satisfies ``rule``."""

    name: str
    metric: str  # "<evaluation>/<metric>", e.g. "zero-shot/mr/R1@0.5" or "zero-shot/right-event rate"
    a: str
    b: str
    rule: str = "lower > 0"


@dataclass
class StudyConfig:
    source: str
    model: dict[str, Any]
    pretrain: dict[str, Any]
    eval: dict[str, Any]
    finetune: dict[str, Any]
    bootstrap: dict[str, Any]
    variants: list[Variant]
    reference: str
    seeds: list[int] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _section(raw: dict, key: str, source: str) -> dict:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise StudyConfigError(f"{source}: key '{key}': expected a mapping, got {value!r}")
    return value


def _variant(name: str, raw: Any, source: str, defaults: dict) -> Variant:
    where = f"{source}: key 'variants.{name}"
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{where}': expected a mapping")
    unknown = sorted(set(raw) - set(VARIANT_KEYS))
    if unknown:
        raise StudyConfigError(f"{where}.{unknown[0]}': unknown key; allowed: {', '.join(VARIANT_KEYS)}")
    values = {**defaults, **raw}
    losses = values.get("losses")
    if not isinstance(losses, dict) or set(losses) - set(LOSSES):
        raise StudyConfigError(f"{where}.losses': expected weights for {', '.join(LOSSES)}, got {losses!r}")
    checks = {
        "merge_sampling": lambda v: v in ("random", "hard"),
        "tl_strategy": lambda v: v in ("tokens", "cls"),
        "merge_clips": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
        "shuffled_texts": lambda v: isinstance(v, bool),
        "seeds": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "random_init": lambda v: isinstance(v, bool),
    }
    for key, ok in checks.items():
        if key in values and not ok(values[key]):
            raise StudyConfigError(f"{where}.{key}': invalid value {values[key]!r}")
    return Variant(name=name, label=str(values.get("label", name)),
                   losses={k: float(losses.get(k, 0.0)) for k in LOSSES},
                   **{k: values[k] for k in checks if k in values})


def load_study_config(path: str | Path, quick: bool = False) -> StudyConfig:
    """Read and check a study YAML (``quick`` merges its ``quick:`` block over the rest)."""
    path = Path(path)
    source = str(path)
    raw = read_yaml(path, "study config", StudyConfigError)
    if not isinstance(raw, dict):
        raise StudyConfigError(f"{source}: expected a mapping at the top level")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise StudyConfigError(f"{source}: key '{unknown[0]}': unknown section; allowed: {', '.join(SECTIONS)}")
    if quick:
        raw = _merge(raw, _section(raw, "quick", source))
    variants_raw = _section(raw, "variants", source)
    defaults = variants_raw.pop("defaults", {}) or {}
    variants = [_variant(str(name), value, source, defaults) for name, value in variants_raw.items()]
    only = raw.get("quick", {}).get("only") if quick else None
    if only:
        missing = sorted(set(only) - {v.name for v in variants})
        if missing:
            raise StudyConfigError(f"{source}: key 'quick.only': unknown variants {missing}")
        variants = [v for v in variants if v.name in only]
    reference = raw.get("reference")
    if reference not in {v.name for v in variants}:
        raise StudyConfigError(f"{source}: key 'reference': {reference!r} is not one of the variants")
    cfg = StudyConfig(source=source, model=_section(raw, "model", source), pretrain=_section(raw, "pretrain", source),
                      eval=_section(raw, "eval", source), finetune=_section(raw, "finetune", source),
                      bootstrap=_section(raw, "bootstrap", source), variants=variants, reference=reference)
    seeds = raw["pretrain"].get("seeds")
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise StudyConfigError(f"{source}: key 'pretrain.seeds': expected a list of integers, got {seeds!r}")
    if quick:  # the quick block may list fewer seeds: each variant runs at most those
        cfg.variants = [dataclasses.replace(v, seeds=min(v.seeds, len(seeds))) for v in cfg.variants]
    if max(v.seeds for v in cfg.variants) > len(seeds):
        raise StudyConfigError(f"{source}: a variant asks for more seeds than 'pretrain.seeds' lists")
    cfg.seeds = seeds
    cfg.claims = _claims(raw.get("claims"), source, cfg, quick)
    test_seed = cfg.eval.get("test_seed", 0)
    if not isinstance(test_seed, int) or isinstance(test_seed, bool) or test_seed < 0:
        raise StudyConfigError(f"{source}: key 'eval.test_seed': expected a demo generator seed >= 0, got {test_seed!r}")
    return cfg


def _claims(raw: Any, source: str, cfg: StudyConfig, quick: bool) -> list[Claim]:
    """The ``claims:`` list, checked against the variants (every compared variant must run as
    many seeds as the other side outside ``--quick``: a claim pairs seed k with seed k)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise StudyConfigError(f"{source}: key 'claims': expected a list of claims")
    names = {v.name: v for v in cfg.variants}
    out, seen = [], set()
    for k, item in enumerate(raw):
        where = f"{source}: key 'claims[{k}]"
        if not isinstance(item, dict):
            raise StudyConfigError(f"{where}': expected a mapping with {', '.join(CLAIM_KEYS)}")
        unknown = sorted(set(item) - set(CLAIM_KEYS))
        missing = [key for key in ("name", "metric", "a", "b") if key not in item]
        if unknown or missing:
            raise StudyConfigError(f"{where}.{(unknown or missing)[0]}': {'unknown' if unknown else 'missing'} key; "
                                   f"allowed: {', '.join(CLAIM_KEYS)}")
        claim = Claim(**{key: str(value) for key, value in item.items()})
        if claim.name in seen:
            raise StudyConfigError(f"{where}.name': {claim.name!r} is used twice")
        seen.add(claim.name)
        if claim.rule not in CLAIM_RULES:
            raise StudyConfigError(f"{where}.rule': {claim.rule!r}; expected one of {', '.join(CLAIM_RULES)}")
        if claim.metric.split("/", 1)[0] not in CLAIM_EVALUATIONS or "/" not in claim.metric:
            raise StudyConfigError(f"{where}.metric': {claim.metric!r}; expected '<evaluation>/<metric>' with an "
                                   f"evaluation among {', '.join(CLAIM_EVALUATIONS)}")
        if quick and (claim.a not in names or (claim.b not in names and claim.b not in CLAIM_TARGETS)):
            continue  # --quick runs fewer variants: a claim about one it leaves out is left out too
        if claim.a not in names:
            raise StudyConfigError(f"{where}.a': {claim.a!r} is not one of the variants")
        if claim.b not in names and claim.b not in CLAIM_TARGETS:
            raise StudyConfigError(f"{where}.b': {claim.b!r} is neither a variant nor one of {', '.join(CLAIM_TARGETS)}")
        if not quick and claim.b in names and names[claim.a].seeds != names[claim.b].seeds:
            raise StudyConfigError(f"{where}': {claim.a} runs {names[claim.a].seeds} seeds, {claim.b} "
                                   f"{names[claim.b].seeds}: a paired claim needs equal seeds")
        out.append(claim)
    return out
