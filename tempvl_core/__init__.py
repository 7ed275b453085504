"""TemPVL core library: model, losses, clip merging, video reading, data loaders and training.

This package never imports ``tempvl_bench`` or the plugins: it receives backbones as objects.
"""

__version__ = "0.1.0"
