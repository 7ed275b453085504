"""Built-in tempvl-bench plugins (installed as ``tempvl_plugins``)."""
