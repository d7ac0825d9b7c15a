"""The versions table of rendered projects (includes/versions.yml), for tools and tests.

`python -m ml_architect.versions` prints it as a requirements file: the environment that runs the
template's tests installs every pin once and shares it between all rendered variants.
"""

from __future__ import annotations

from functools import cache

import yaml

from .paths import template_root


@cache
def load_versions() -> dict[str, str]:
    """Package name -> exact version, as copier sees it."""
    table = yaml.safe_load((template_root() / "includes" / "versions.yml").read_text())
    return {name: str(version) for name, version in table["versions"]["default"].items()}


def requirements() -> list[str]:
    return [f"{name}=={version}" for name, version in sorted(load_versions().items())]


if __name__ == "__main__":
    print("\n".join(requirements()))
