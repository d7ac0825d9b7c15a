"""Rename recorded answers in a project's .copier-answers.yml, for a release that renames questions.

copier.yml runs it as a `_migrations` command before an update (cwd: the project), e.g.

    _migrations:
      - version: "0.3.0"
        when: "{{ _stage == 'before' }}"
        command:
          - "{{ _copier_python }}"
          - "{{ _copier_conf.src_path }}/migrations/rename_answers.py"
          - "{{ _copier_conf.answers_file }}"
          - old_name=new_name

Copier re-reads the answers after the `before` migrations, so the old answer is kept under the
new name instead of being replaced by the new question's default. Only copier's own dependencies
are imported (PyYAML), since this runs in copier's Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def rename(answers_file: Path, renames: dict[str, str]) -> list[str]:
    """Rename the keys in `answers_file`; return what was renamed (absent keys are skipped)."""
    text = answers_file.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    answers = yaml.safe_load(text) or {}
    done = []
    for old, new in renames.items():
        if old in answers and new not in answers:
            answers[new] = answers.pop(old)
            done.append(f"{old} -> {new}")
    body = yaml.safe_dump(answers, sort_keys=True, allow_unicode=True)
    answers_file.write_text(header + body, encoding="utf-8")
    return done


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in pair for pair in argv[1:]):
        print("usage: rename_answers.py ANSWERS_FILE OLD=NEW [OLD=NEW ...]", file=sys.stderr)
        return 2
    renames = dict(pair.split("=", 1) for pair in argv[1:])
    for line in rename(Path(argv[0]), renames):
        print(f"renamed answer {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
