"""The `ml-architect` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from copier import run_copy

from . import __version__
from .paths import template_root

app = typer.Typer(
    name="ml-architect",
    help="Start a machine-learning project from the ml-architect template.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ml-architect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Start a machine-learning project from the ml-architect template."""


def parse_data(pairs: list[str]) -> dict[str, str]:
    """`key=value` pairs as copier answers; a pair without '=' is a usage error."""
    answers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: expected QUESTION=VALUE", param_hint="--data")
        answers[key.strip()] = value
    return answers


def read_data_file(path: Path) -> dict[str, Any]:
    try:
        answers = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise typer.BadParameter(str(error), param_hint="--data-file") from None
    if not isinstance(answers, dict):
        raise typer.BadParameter(f"{path}: expected a mapping of answers", param_hint="--data-file")
    return answers


@app.command()
def new(
    destination: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    data: Annotated[
        list[str] | None,
        typer.Option("--data", "-d", metavar="QUESTION=VALUE", help="An answer (repeatable)."),
    ] = None,
    data_file: Annotated[
        Path | None, typer.Option(help="A YAML file of answers keyed by question id.")
    ] = None,
    defaults: Annotated[
        bool, typer.Option(help="Take the default of every question not answered by --data.")
    ] = False,
    vcs_ref: Annotated[
        str | None, typer.Option(help="Template version (git tag or commit) to render.")
    ] = None,
) -> None:
    """Render a new project into DESTINATION."""
    answers = {**(read_data_file(data_file) if data_file else {}), **parse_data(data or [])}
    if destination.exists() and any(destination.iterdir()):
        typer.secho(f"Error: {destination} is not empty; choose a new folder.", err=True, fg="red")
        raise typer.Exit(2)
    try:
        run_copy(
            str(template_root()),
            str(destination),
            data=answers,
            defaults=defaults,
            vcs_ref=vcs_ref,
            quiet=True,
            unsafe=False,
        )
    except ValueError as error:
        # Copier validates every answer before it writes a file: nothing is left half-written.
        typer.secho(f"Error: {error}", err=True, fg="red")
        raise typer.Exit(2) from None
    typer.echo(f"Rendered {destination}. Next: see {destination / 'README.md'}.")
