#!/usr/bin/env python3
"""Developer entry point of the template repository; needs only Python 3.11+ and git.

    python3 scripts/dev.py demo [DEST]   render the default project, train it offline, predict
    python3 scripts/dev.py test [ARGS]   run the template's whole test suite (ARGS go to pytest)
    python3 scripts/dev.py release       tag the version of generator/ml_architect/__init__.py

The first two make .venv (once) with ml-architect, its test tools, and every pin of the versions
table: one environment that all rendered variants share (about 10 minutes and several GB the
first time, torch included; pip shows its progress).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
# Written last: its presence says the environment is complete, and for which versions table.
STAMP = VENV / ".ml-architect-installed"


def run(*command: object, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=True)


def ensure_environment() -> None:
    """Create .venv with everything the tests and the demo need, unless it is up to date."""
    inputs = [ROOT / "pyproject.toml", ROOT / "includes" / "versions.yml"]
    fingerprint = "".join(path.read_text() for path in inputs)
    if STAMP.is_file() and STAMP.read_text() == fingerprint:
        return
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    pip = [PYTHON, "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "install", "--quiet", "--upgrade", "pip")
    print("Installing ml-architect and its test tools into .venv ...", flush=True)
    run(*pip, "install", "--progress-bar", "on", "--editable", ".[test]")
    requirements = subprocess.run(
        [PYTHON, "-m", "ml_architect.versions"], check=True, capture_output=True, text=True
    ).stdout.split()
    # torch first and on its own, so that a configured CPU wheel or index is what satisfies it.
    torch = [requirement for requirement in requirements if requirement.startswith("torch==")]
    print("Installing torch, then every pin of the versions table (the longest step)", flush=True)
    run(*pip, "install", "--progress-bar", "on", *torch)
    run(*pip, "install", "--progress-bar", "on", *requirements)
    STAMP.write_text(fingerprint)


def demo(destination: Path) -> None:
    """Render the default project, train it on the smoke config, and classify two texts."""
    if destination.exists():
        shutil.rmtree(destination)
    run(BIN / "ml-architect", "new", destination, "--defaults", "--vcs-ref", "HEAD")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--editable", destination)
    project = destination.name
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run(BIN / project, "train", "--config", "configs/smoke.yaml", cwd=destination, env=env)
    run(
        BIN / project,
        "predict",
        "--config",
        "configs/smoke.yaml",
        "I was charged twice for my subscription.",
        "The app crashes when I open the settings.",
        cwd=destination,
        env=env,
    )
    print(f"\nDone: {destination} trained offline and answered. Serve it with:")
    print(f"  cd {destination} && {BIN / project} serve --config configs/smoke.yaml")


def release() -> None:
    """Tag the package version as a template release, once CHANGELOG.md says it is released.

    The newest CHANGELOG heading must be `## VERSION` (not `## VERSION (unreleased)`) and the
    working tree clean; the tag `vVERSION` is what `copier update` and `ml-architect update` read.
    Publishing (git push --tags) is left to whoever releases.
    """
    import re

    text = (ROOT / "generator" / "ml_architect" / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', text).group(1)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    heading = re.search(r"^## (.+)$", changelog, flags=re.MULTILINE)
    if heading is None or heading.group(1).strip() != version:
        found = heading.group(1) if heading else "none"
        sys.exit(
            f"CHANGELOG.md's newest heading is '## {found}': make it '## {version}' (drop "
            "'(unreleased)') and commit it before tagging."
        )
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    if status.stdout.strip():
        sys.exit("the working tree has uncommitted changes: commit them before tagging.")
    tag = f"v{version}"
    listed = ["git", "tag", "--list", tag]
    existing = subprocess.run(listed, cwd=ROOT, capture_output=True, text=True, check=True)
    if existing.stdout.strip():
        sys.exit(f"{tag} exists already: raise __version__ and add a CHANGELOG entry.")
    run("git", "tag", "-a", tag, "-m", f"ml-architect {version}")
    print(f"Tagged {tag}. Publish it with: git push origin {tag}")


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script is the one that tells the user)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo_parser = commands.add_parser("demo", help="render, train and predict, offline")
    demo_parser.add_argument("destination", nargs="?", type=Path, default=ROOT / "demo-project")
    commands.add_parser("test", help="run the template's test suite", add_help=False)
    commands.add_parser("release", help="tag the version that CHANGELOG.md heads")
    args, extra = parser.parse_known_args()
    if args.command == "release":
        release()
        return

    ensure_environment()
    if args.command == "demo":
        demo(args.destination.resolve())
    else:
        workers = ["-n", "auto"] if not any(arg.startswith("-n") for arg in extra) else []
        # The environment's own commands (uv, hadolint) first on PATH, as if it were activated.
        env = {**os.environ, "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
        result = subprocess.run([PYTHON, "-m", "pytest", *workers, *extra], cwd=ROOT, env=env)
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
