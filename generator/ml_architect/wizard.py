"""The interactive `ml-architect new` wizard.

It asks copier.yml's questions in copier's order, with copier's help texts, defaults and
validators (through ml_architect.framework), and shows the proposal before the recommended
answers are asked, so the user decides with the numbers in front of them.
"""

from __future__ import annotations

from typing import Any

import questionary
from rich.console import Console

from . import framework, proposal

# The proposal is shown just before the first question whose default the framework computes.
SHOW_PROPOSAL_BEFORE = framework.RECOMMENDED_QUESTIONS[0]


class Cancelled(Exception):
    """The user left the wizard (Ctrl-C, or declined to render)."""


def _ask(question: questionary.Question) -> Any:
    answer = question.ask()
    if answer is None:
        raise Cancelled
    return answer


def _prompt(name: str, spec: dict[str, Any], default: Any, context: dict[str, Any]) -> Any:
    help_text = " ".join(str(framework.render(spec.get("help", ""), context)).split())
    message = f"{name}: {help_text}" if help_text else name
    pairs = framework.choices(spec, context)
    if pairs is not None:
        options = [questionary.Choice(title=title, value=value) for title, value in pairs]
        if spec.get("multiselect"):
            for option in options:
                option.checked = option.value in (default or [])
            return _ask(questionary.checkbox(message, choices=options))
        return _ask(questionary.select(message, choices=options, default=default))
    if spec.get("type") == "bool":
        return _ask(questionary.confirm(message, default=bool(default)))

    def validate(text: str) -> bool | str:
        try:
            value = framework.cast(text, spec)
        except ValueError:
            return f"{name} must be a {spec.get('type', 'str')}"
        return framework.check(name, value, context) or True

    return framework.cast(
        _ask(questionary.text(message, default=str(default), validate=validate)), spec
    )


def run(given: dict[str, Any], console: Console, folder_name: str) -> dict[str, Any]:
    """Ask every question not in `given`; return the answers for copier."""
    context = framework.starting_context(given, folder_name)
    answers: dict[str, Any] = {}
    for name, spec in framework.questions().items():
        if name == SHOW_PROPOSAL_BEFORE:
            proposal.show(framework.plan(context), console)
        default = framework.default(name, spec, context)
        if not framework.asked(spec, context):
            context[name] = default
            continue
        value = given[name] if name in given else _prompt(name, spec, default, context)
        value = framework.cast_answer(name, value)
        message = framework.check(name, value, context)
        if message:
            raise framework.AnswerError(name, message)
        context[name] = answers[name] = value
        if name == "base_model":
            # A local folder answers its size and shape questions from its config.json.
            given = {**framework.local_model_answers(value), **given}
    proposal.show(framework.plan(context), console)
    if not _ask(questionary.confirm("Render the project with these answers?", default=True)):
        raise Cancelled
    return answers
