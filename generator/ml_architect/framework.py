"""The decision framework, evaluated from Python exactly as copier evaluates it.

The rules and estimates live once, as Jinja macros in includes/framework.jinja, with constants
and catalogues in includes/*.yml and the questions in copier.yml. This module walks copier.yml
as copier does (each question's `when`, default and validator, in order) in a Jinja
environment built like copier's, so `copier copy` and `ml-architect` give the same answers, and
the same error messages, for the same inputs.
"""

from __future__ import annotations

import difflib
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from copier.errors import UserMessageError
from jinja2 import FileSystemLoader, StrictUndefined, Template
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


class AnswerError(UserMessageError, ValueError):
    """An answer copier would refuse; the message is copier's, word for word."""

    def __init__(self, question: str, message: str) -> None:
        self.question = question
        super().__init__(f"Validation error for question '{question}': {message}")


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(template_root())),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        optimized=False,
    )


def _load_with_includes(text: str) -> list[Any]:
    class Loader(yaml.SafeLoader):
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        return yaml.safe_load((template_root() / loader.construct_scalar(node)).read_text())

    Loader.add_constructor("!include", include)
    return list(yaml.load_all(text, Loader=Loader))


@cache
def _copier_yml() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for document in _load_with_includes((template_root() / "copier.yml").read_text()):
        merged.update(document or {})
    return merged


@cache
def computed_values() -> dict[str, Any]:
    """Every computed value (`when: false` question): catalogues, constants, the versions."""
    return {
        name: spec["default"]
        for name, spec in _copier_yml().items()
        if isinstance(spec, dict) and spec.get("when") is False
    }


@cache
def questions() -> dict[str, dict[str, Any]]:
    """The questions copier asks, in order, as written in copier.yml."""
    return {
        name: spec
        for name, spec in _copier_yml().items()
        if not name.startswith("_") and isinstance(spec, dict) and spec.get("when") is not False
    }


def catalogue(name: str) -> Any:
    return computed_values()[name]


@cache
def _compiled(source: str) -> Template:
    # Compiling is most of the cost of a render; copier.yml's templates are few and fixed.
    return _environment().from_string(source)


def render(template: Any, context: dict[str, Any]) -> Any:
    """Render a copier.yml value (a string, or a list of strings) as copier does."""
    if isinstance(template, str):
        return _compiled(template).render(context)
    if isinstance(template, list):
        return [render(item, context) for item in template]
    return template


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0", "", "none", "null", "~"}


def _as_bool(value: Any) -> bool:
    """A `when` or a bool answer as copier reads it (copier takes any other text as true)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _FALSE:
        return False
    try:
        return bool(float(text))
    except ValueError:
        return True


def _strict_bool(value: Any) -> bool:
    """A bool answer: true/false, yes/no, on/off or 1/0; anything else is a mistake ("maybe")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE - {"none", "null", "~"}:
        return False
    raise ValueError(f"{value!r} is not true or false")


def _as_list(value: Any) -> list[Any]:
    """A multiselect answer: a list, YAML for one (`[a, b]`), a comma list (`a,b`) or one value."""
    if not isinstance(value, str):
        return list(value)
    loaded = yaml.safe_load(value) if value.strip().startswith("[") else None
    if isinstance(loaded, list):
        return loaded
    return [item.strip() for item in value.split(",") if item.strip()]


_KINDS = {
    "int": "a whole number (e.g. 512)",
    "float": "a number (e.g. 0.5)",
    "bool": "true or false",
}


def cast(value: Any, spec: dict[str, Any]) -> Any:
    """An answer converted to the question's type, as copier converts it. A number or a bool
    that does not read as one raises ValueError."""
    kind = spec.get("type", "str")
    if spec.get("multiselect"):
        return _as_list(value)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, (bool, float)):
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        return float(value)
    if kind == "bool":
        return _strict_bool(value)
    if kind in {"yaml", "json"}:
        return yaml.safe_load(value) if isinstance(value, str) else value
    return str(value)


def cast_answer(name: str, value: Any) -> Any:
    """`value` as the answer to question `name`; AnswerError naming the question when it is not
    of the question's type (`gpu_count=abc`, `max_seq_length=12.5`)."""
    spec = questions()[name]
    try:
        return cast(value, spec)
    except (TypeError, ValueError):
        kind = _KINDS.get(spec.get("type", "str"), spec.get("type", "str"))
        raise AnswerError(name, f"{value!r} is not {kind}.") from None


def unknown_questions(given: dict[str, Any]) -> list[str]:
    """Answers to no question of the template (typos of a question id), each with the closest
    id: "gpu_cout (did you mean gpu_count?)". Keys starting with "_" are copier's own."""
    known = list(questions())
    found = []
    for name in given:
        if name.startswith("_") or name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


def asked(spec: dict[str, Any], context: dict[str, Any]) -> bool:
    return _as_bool(render(spec.get("when", True), context))


def default(name: str, spec: dict[str, Any], context: dict[str, Any]) -> Any:
    """The question's default (the framework's recommendation, where it computes one)."""
    return cast(render(spec.get("default"), context), spec)


def choices(spec: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, Any]] | None:
    """The question's choices as (title, value) pairs; a templated list is rendered first."""
    listed = spec.get("choices")
    if listed is None:
        return None
    if isinstance(listed, str):
        listed = yaml.safe_load(render(listed, context))
    pairs = listed.items() if isinstance(listed, dict) else ((item, item) for item in listed)
    # A multiselect question's choices are single items, not lists.
    item = {**spec, "multiselect": False}
    return [(str(title), cast(value, item)) for title, value in pairs]


def check(name: str, value: Any, context: dict[str, Any]) -> str:
    """Copier's complaint about this answer, or "" when copier would take it."""
    spec = questions()[name]
    options = choices(spec, context)
    if options is not None:
        allowed = [option for _, option in options]
        for item in value if spec.get("multiselect") else [value]:
            if item not in allowed:
                return f"Invalid choice {item!r}: choose one of {allowed}."
    return render(spec.get("validator", ""), {**context, name: value}).strip()


def starting_context(given: dict[str, Any], folder_name: str) -> dict[str, Any]:
    """What copier renders the first question with: the computed values and every answer given
    up front (--data), later questions' included, so a validator sees them too (num_nodes when
    gpu_count is checked)."""
    return {
        **computed_values(),
        "_folder_name": folder_name,
        **{name: cast_answer(name, given[name]) for name in questions() if name in given},
    }


def answer(given: dict[str, Any], *, folder_name: str = "my-project") -> dict[str, Any]:
    """Every answer, as copier would settle them with --defaults: `given` answers are checked,
    the others take their (recommended) defaults, question by question in copier's order.

    Raises AnswerError with copier's own message for the first answer copier would refuse.
    """
    context = starting_context(given, folder_name)
    answers: dict[str, Any] = {}
    for name, spec in questions().items():
        value = cast_answer(name, given[name]) if name in given else default(name, spec, context)
        if asked(spec, context):
            message = check(name, value, context)
            if message:
                raise AnswerError(name, message)
            answers[name] = value
        context[name] = value
    return answers


# config.json keys of each shape answer, as the architectures in transformers name them.
_LAYER_KEYS = (("num_hidden_layers",), ("num_layers", "num_decoder_layers"),
               ("encoder_layers", "decoder_layers"), ("n_layers",), ("n_layer",))  # fmt: skip
_HIDDEN_KEYS = ("hidden_size", "d_model", "dim", "n_embd")
_DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


def _safetensors_parameters(folder: Path, config: dict[str, Any]) -> int | None:
    """The parameter count of the weights in `folder`: from the header of model.safetensors (its
    tensors' shapes), or from a sharded model's index (bytes / bytes per parameter)."""
    single = folder / "model.safetensors"
    if single.is_file():
        with single.open("rb") as weights:
            size = int.from_bytes(weights.read(8), "little")
            header = json.loads(weights.read(size))
        return sum(
            math.prod(tensor["shape"]) for name, tensor in header.items() if name != "__metadata__"
        )
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        total = json.loads(index.read_text()).get("metadata", {}).get("total_size")
        dtype = config.get("torch_dtype") or config.get("dtype") or "float32"
        if total and dtype in _DTYPE_BYTES:
            return int(total) // _DTYPE_BYTES[dtype]
    return None


def local_model_answers(base_model: str) -> dict[str, Any]:
    """The size and shape answers (params_b, layers, hidden_size, vocab_size) of a model in a
    local folder, read from its config.json and weights; empty for a hub id or a folder without
    a config.json. Copier cannot read files: ml-architect answers these questions for it."""
    folder = Path(base_model).expanduser()
    if not base_model.startswith(("/", "./", "../")) or not (folder / "config.json").is_file():
        return {}
    config = json.loads((folder / "config.json").read_text())
    # Models that also take images keep the language model's shape in text_config.
    text = config.get("text_config") or config
    found: dict[str, Any] = {}
    for keys in _LAYER_KEYS:
        if all(isinstance(text.get(key), int) for key in keys):
            found["layers"] = sum(text[key] for key in keys)
            break
    for key in _HIDDEN_KEYS:
        if isinstance(text.get(key), int):
            found["hidden_size"] = text[key]
            break
    if isinstance(text.get("vocab_size"), int):
        found["vocab_size"] = text["vocab_size"]
    parameters = _safetensors_parameters(folder, config)
    if parameters:
        found["params_b"] = round(parameters / 1e9, 4)
    return found


def plan(answers: dict[str, Any]) -> dict[str, Any]:
    """The proposal for these answers (see includes/framework.jinja)."""
    source = (
        '{%- from "includes/framework.jinja" import plan_json with context -%}{{ plan_json() }}'
    )
    return json.loads(render(source, {**computed_values(), **answers}))


def memory(
    facts: dict[str, Any],
    method: str,
    *,
    precision: str = "bf16",
    gradient_checkpointing: bool = False,
    shards: int = 1,
    micro_batch: int = 1,
    seq_len: int = 512,
    vocabulary_head: bool = True,
    lora_rank: int | None = None,
    constants: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Training memory per GPU of any model shape, by the framework's formula (in GB).

    `constants` replaces framework constants for this estimate, e.g. to model a paper's setup.
    """
    framework = {**computed_values()["framework"], **(constants or {})}
    arguments = {
        "facts": facts,
        "method": method,
        "precision": precision,
        "checkpointing": gradient_checkpointing,
        "shards": shards,
        "micro_batch": micro_batch,
        "seq_len": seq_len,
        "vocabulary_head": vocabulary_head,
        "lora_rank": lora_rank or framework["lora_rank"],
    }
    source = (
        '{%- from "includes/framework.jinja" import memory_json with context -%}'
        "{{ memory_json(a.facts, a.method, a.precision, a.checkpointing, a.shards,"
        " a.micro_batch, a.seq_len, a.vocabulary_head, a.lora_rank) }}"
    )
    return json.loads(render(source, {**computed_values(), "framework": framework, "a": arguments}))
