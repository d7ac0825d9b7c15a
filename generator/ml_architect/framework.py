"""The decision framework, evaluated from Python exactly as copier evaluates it.

The rules and estimates live once, as Jinja macros in includes/framework.jinja with their
constants and catalogues in includes/*.yml. This module renders those macros in an environment
built like copier's (same loader root, same filter extension, StrictUndefined), so `copier copy`
and `ml-architect recommend` give the same answers for the same inputs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .paths import template_root

# The questions whose defaults the framework computes, in the order copier asks them.
RECOMMENDED_QUESTIONS = (
    "platform",
    "fine_tuning",
    "precision",
    "gradient_checkpointing",
    "distributed",
)


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(template_root())),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@cache
def computed_values() -> dict[str, Any]:
    """Every computed value (`when: false` question) of includes/*.yml: catalogues, constants."""
    values: dict[str, Any] = {}
    for path in sorted((template_root() / "includes").glob("*.yml")):
        for name, question in yaml.safe_load(path.read_text()).items():
            if isinstance(question, dict) and question.get("when") is False:
                values[name] = question["default"]
    return values


def catalogue(name: str) -> Any:
    return computed_values()[name]


def _render(expression: str, answers: dict[str, Any]) -> str:
    source = '{%- from "includes/framework.jinja" import plan_json with context -%}' + expression
    return _environment().from_string(source).render(**computed_values(), **answers)


def plan(answers: dict[str, Any]) -> dict[str, Any]:
    """The proposal for these answers; answers left out are recommended, as copier would."""
    return json.loads(_render("{{ plan_json() }}", answers))


def recommended_answers(answers: dict[str, Any]) -> dict[str, Any]:
    """The answers copier would default to, question by question, in copier's order."""
    known = dict(answers)
    for question in RECOMMENDED_QUESTIONS:
        if question not in known:
            known[question] = plan(known)["chosen"][question]
    return known


def errors(answers: dict[str, Any]) -> dict[str, str]:
    return plan(answers)["errors"]


def template_path() -> Path:
    return template_root()
