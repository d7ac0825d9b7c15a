"""Where the template lives: the source checkout, or the copy packed into the wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def template_root() -> Path:
    """The folder that holds copier.yml, template/ and includes/."""
    checkout = _PACKAGE_DIR.parents[1]
    if (checkout / "copier.yml").is_file():
        return checkout
    packaged = _PACKAGE_DIR / "template"
    if (packaged / "copier.yml").is_file():
        return packaged
    raise FileNotFoundError(f"no copier.yml in {checkout} or {packaged}")
