"""Shared fixtures.

``shared_dir`` points at the read-only ``../shared`` folder (specs and real annotation files).
A user's clone has no such folder: tests that need it skip cleanly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

#: The distribution whose ``tempvl_bench`` entry points the suite loads: this project's own.
OWN_DISTRIBUTION = "tempvl-bench"

# Plugins installed in the environment must not change the suite's outcomes: the plugin manager,
# in this process and in every CLI process a test starts (they inherit the environment), loads
# the entry points of this project's own distribution only. A test of third-party plugin loading
# installs its own package and names it (plugin_distributions_env, tests/harness/plugin_helpers.py).
# Set at import, before collection, because some test modules load plugins to parametrize.
os.environ["TEMPVL_BENCH_PLUGIN_DISTRIBUTIONS"] = OWN_DISTRIBUTION
os.environ.pop("TEMPVL_BENCH_DISABLE_PLUGIN_AUTOLOAD", None)


def _shared_root() -> Path | None:
    env = os.environ.get("TEMPVL_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = _shared_root()
    if root is None:
        pytest.skip("../shared (real annotation files) is not available in this checkout")
    return root


@pytest.fixture(scope="session")
def realdata(shared_dir: Path) -> Path:
    path = shared_dir / "realdata"
    if not path.is_dir():
        pytest.skip("../shared/realdata is not available")
    return path


@pytest.fixture(scope="session", autouse=True)
def _feature_cache_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Runs under test cache their video features in a folder of their own, never the user's."""
    if not os.environ.get("TEMPVL_FEATURE_CACHE"):
        os.environ["TEMPVL_FEATURE_CACHE"] = str(tmp_path_factory.mktemp("feature-cache"))


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random transformers CLIPModel folder with its processor (tests/models/tiny_clip.py)."""
    import sys

    sys.path.insert(0, str(REPO_ROOT / "tests" / "models"))
    from tiny_clip import save_tiny_clip

    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
