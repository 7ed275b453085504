"""tempvl-bench: the harness (hooks, plugin manager, registry, CLI, results, leaderboards, metrics)."""

import pluggy

__version__ = "0.1.0"

#: The one marker plugins use to implement hooks: ``@hookimpl def tempvl_bench_register_tasks(registry): ...``
hookimpl = pluggy.HookimplMarker("tempvl_bench")

__all__ = ["__version__", "hookimpl"]
