"""docs/ stays true: the question reference is generated, the site builds in strict mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ml_architect import reference
from ml_architect.framework import catalogue, questions

from .conftest import TEMPLATE_ROOT

DOCS = TEMPLATE_ROOT / "docs"


def test_question_reference_matches_copier_yml() -> None:
    written = (DOCS / "questions.md").read_text()
    assert written == reference.markdown(), (
        "docs/questions.md is out of date: run `python -m ml_architect.reference --write`"
    )
    for name in questions():
        assert f"## `{name}`" in written


def test_framework_doc_states_the_constants_in_use() -> None:
    text = (DOCS / "framework.md").read_text()
    constants = catalogue("framework")
    assert f"{constants['bytes_full']} bytes per parameter" in text
    assert f"{constants['bytes_4bit']} bytes" in text
    assert f"a = {constants['attention_activation_factor']} for attention" in text
    assert f"{round(constants['mfu']['full'] * 100)} % for full" in text
    assert f"{round(constants['mfu']['qlora'] * 100)} % for QLoRA" in text
    assert f"at most {round(constants['usable_fraction'] * 100)} %" in text
    assert f"{constants['overhead_gb']:g} GB" in text
    assert f"**{constants['cnn_block_activation_bytes']} p c** bytes per block" in text
    assert f"**{constants['cnn_stage_activation_bytes']} p c** for the stage's stem" in text


def test_site_builds_in_strict_mode(tmp_path: Path) -> None:
    outcome = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert outcome.returncode == 0, outcome.stderr
    assert (tmp_path / "framework" / "index.html").is_file()
