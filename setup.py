"""Maps the top-level code folders onto the `cirahub.<folder>` subpackages.

DESIGN.md fixes the layout: `core/`, `store/`, … live at the top of the repository but are
installed as `cirahub.core`, `cirahub.store`, …. setuptools cannot express that mapping for
nested subpackages in static pyproject metadata, so it is computed here.
"""

from __future__ import annotations

import os

from setuptools import setup

FOLDERS = ("core", "store", "connectors", "actors", "cluster", "control", "proto")


def _packages() -> tuple[list[str], dict[str, str]]:
    packages = ["cirahub"]
    package_dir = {"cirahub": "cirahub"}
    for folder in FOLDERS:
        if not os.path.isfile(os.path.join(folder, "__init__.py")):
            continue
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            if "__init__.py" in files:
                name = "cirahub." + root.replace(os.sep, ".")
                packages.append(name)
                package_dir[name] = root
    return packages, package_dir


_PACKAGES, _PACKAGE_DIR = _packages()
setup(
    packages=_PACKAGES,
    package_dir=_PACKAGE_DIR,
    package_data={"cirahub.store": ["migrations/*.ini", "migrations/*.mako"],
                  "cirahub.proto": ["cirahub/control/v1/*.proto", "**/*.pyi"]},
    include_package_data=True,
)
