"""The question reference (docs/questions.md), generated from copier.yml.

    python -m ml_architect.reference          print it
    python -m ml_architect.reference --write  write docs/questions.md

A test fails when docs/questions.md and copier.yml drift apart.
"""

from __future__ import annotations

import sys
from typing import Any

from . import framework
from .paths import template_root

HEADER = """\
# Question reference

Generated from `copier.yml` by `python -m ml_architect.reference --write`; do not edit by hand.
Question ids are public interface: they are kept in `.copier-answers.yml` and in CI data files.
Defaults marked *recommended* are computed by the decision framework (see
[framework.md](framework.md)) from the answers before them.
"""


def _choices(spec: dict[str, Any], context: dict[str, Any]) -> str:
    pairs = framework.choices(spec, context) or []
    return ", ".join(f"`{value}`" for _, value in pairs)


def _default(name: str, spec: dict[str, Any], context: dict[str, Any]) -> str:
    raw = spec.get("default")
    if isinstance(raw, str) and "recommend(" in raw:
        return f"*recommended* (with all defaults: `{framework.default(name, spec, context)}`)"
    if isinstance(raw, str) and "{{" in raw:
        return f"derived (with all defaults: `{framework.default(name, spec, context)}`)"
    return f"`{raw}`"


def markdown() -> str:
    context: dict[str, Any] = {**framework.computed_values(), "_folder_name": "my-project"}
    sections = [HEADER]
    for name, spec in framework.questions().items():
        help_text = " ".join(str(framework.render(spec.get("help", ""), context)).split())
        lines = [f"## `{name}`", "", help_text, ""]
        kind = spec.get("type", "str") + (", several" if spec.get("multiselect") else "")
        lines.append(f"- type: {kind}")
        if choices := _choices(spec, context):
            lines.append(f"- choices: {choices}")
        lines.append(f"- default: {_default(name, spec, context)}")
        if isinstance(spec.get("when"), str):
            lines.append(f"- asked when: `{spec['when'].strip('{} ')}`")
        if spec.get("validator"):
            lines.append("- validated: yes; a refusal names the question and what to choose")
        sections.append("\n".join(lines) + "\n")
        context[name] = framework.default(name, spec, context)
    return "\n".join(sections)


def main() -> None:
    text = markdown()
    if "--write" in sys.argv[1:]:
        (template_root() / "docs" / "questions.md").write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
