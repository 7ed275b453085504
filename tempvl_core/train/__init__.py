"""Pretraining: YAML config, training engine (DDP, AMP, accumulation), checkpoints with exact resume.

Public entry points: :class:`~tempvl_core.train.config.PretrainConfig`,
:class:`~tempvl_core.train.engine.Trainer` and
:func:`~tempvl_core.train.pretrain.run_pretraining`.
"""

from tempvl_core.train.config import ConfigError, PretrainConfig, TrainingConfig
from tempvl_core.train.engine import Trainer
from tempvl_core.train.pretrain import run_pretraining

__all__ = ["ConfigError", "PretrainConfig", "Trainer", "TrainingConfig", "run_pretraining"]
