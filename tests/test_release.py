"""The template is versioned: a PEP 440 version, with its CHANGELOG.md entry."""

from __future__ import annotations

import re

from packaging.version import Version

from ml_architect import __version__

from .conftest import TEMPLATE_ROOT


def test_the_version_is_pep_440_and_has_a_changelog_entry() -> None:
    assert str(Version(__version__)) == __version__
    changelog = (TEMPLATE_ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)", changelog, flags=re.MULTILINE)
    assert headings[0] == __version__, "the newest CHANGELOG entry names the package version"
    assert [Version(heading) for heading in headings] == sorted(
        (Version(heading) for heading in headings), reverse=True
    )
