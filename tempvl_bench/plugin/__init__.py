"""The plugin contract: hook specifications, the plugin manager, the registries plugins fill
and the model capabilities a task may need. Plugin authors import :mod:`tempvl_bench.api`."""
