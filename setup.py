"""Package discovery only; all metadata lives in pyproject.toml.

``plugins/`` installs as ``tempvl_plugins`` (a distinctive import name, not the generic
``plugins``) and ``tasks/`` as ``tempvl_tasks`` (the YAML task definitions as package data).
"""

from setuptools import find_packages, setup

MAPPED = {"tempvl_plugins": "plugins", "tempvl_tasks": "tasks"}

packages = find_packages(include=["tempvl_bench", "tempvl_bench.*", "tempvl_core", "tempvl_core.*"])
package_dir = {}
for name, folder in MAPPED.items():
    packages.append(name)
    package_dir[name] = folder
    for sub in find_packages(where=folder):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
