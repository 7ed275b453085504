"""Task definitions (YAML) shipped with tempvl-bench, installed as ``tempvl_tasks``."""
