"""The variant matrix: every valid combination of the choice questions, and a pairwise covering set.

The choice questions are those of copier.yml with `choices` or `type: bool`; every other question
takes its default (or a fixed answer). Which answers each validator reads is found in the
templates themselves (jinja2.meta, following imports such as includes/framework.jinja, and
following the defaults of the questions that are not varied). Choice questions whose validators
read one another form a block: each block's combinations are walked once, in copier's order,
checked by the same validators copier runs (ml_architect.framework), pruning a branch at its
first refusal. Each check runs as `copier copy --data` runs it, given every answer of the
variant up front: once the answers it reads are chosen, with them. The full matrix is the
product of the blocks' valid combinations, streamed.

The covering set is greedy and deterministic: each variant added is the valid combination that
holds the most pairs of answer values not yet covered (a multiselect question counts as one
yes/no value per option), until every pair that some valid combination holds is covered. Pairs
that no valid combination holds are reported, never silently dropped.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import meta

from . import framework

# Answers that only vary a variant's name, never its files: a slot that holds them is omitted.
_SILENT_VALUES = {"none"}


# --- which answers each validator reads ------------------------------------------------------


@cache
def _template_reads(name: str) -> frozenset[str]:
    """Every name an included/imported template file looks up, following its own imports."""
    environment = framework._environment()
    source = environment.loader.get_source(environment, name)[0]
    return _source_reads(source)


@cache
def _source_reads(source: str) -> frozenset[str]:
    """Every name a template looks up in its context, following imports and includes."""
    syntax = framework._environment().parse(source)
    names = set(meta.find_undeclared_variables(syntax))
    for referenced in meta.find_referenced_templates(syntax):
        if referenced is None:
            # A template chosen at render time: it may read anything.
            return frozenset(framework.questions())
        names |= _template_reads(referenced)
    return frozenset(names)


def _reads(spec: dict[str, Any], *fields: str) -> set[str]:
    """The questions these fields of a question read."""
    names: set[str] = set()
    for name in fields:
        value = spec.get(name)
        for source in value if isinstance(value, list) else [value]:
            if isinstance(source, str):
                names |= _source_reads(source)
    return names & framework.questions().keys()


def is_choice(spec: dict[str, Any]) -> bool:
    """A question the matrix varies: one with choices, or a yes/no question."""
    return spec.get("choices") is not None or spec.get("type") == "bool"


def _deciders(names: set[str], varied: set[str], fixed: set[str]) -> set[str]:
    """The varied questions that decide these questions' values: a varied question decides its
    own; a fixed answer is constant; any other question takes its default, which reads others."""
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in varied:
            found.add(name)
        elif name not in fixed:
            pending.extend(_reads(framework.questions()[name], "default", "when"))
    return found


def dependencies(varied: set[str], fixed: set[str]) -> dict[str, set[str]]:
    """For each question with a check (a validator, templated choices or a condition): the varied
    questions whose answers that check depends on (its own, if it is varied)."""
    checked: dict[str, set[str]] = {}
    for name, spec in framework.questions().items():
        reads = _reads(spec, "validator", "choices", "when")
        if spec.get("validator") or name in varied:
            reads.add(name)
        deciders = _deciders(reads, varied, fixed)
        if deciders:
            checked[name] = deciders
    return checked


def _blocks_of(varied: list[str], checks: dict[str, set[str]]) -> list[list[str]]:
    """Varied questions joined when one check reads both (transitively), in copier's order."""
    parent = {name: name for name in varied}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for deciders in checks.values():
        first, *rest = sorted(deciders)
        for other in rest:
            parent[root(other)] = root(first)
    groups: dict[str, list[str]] = {}
    for name in varied:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())


# --- walking the questions as copier does -----------------------------------------------------


def _values(spec: dict[str, Any], context: dict[str, Any]) -> list[Any]:
    """Every answer a choice question can take: each choice; for a multiselect question every
    non-empty subset, smallest first."""
    if spec.get("type") == "bool" and spec.get("choices") is None:
        return [False, True]
    options = [value for _, value in framework.choices(spec, context) or []]
    if not spec.get("multiselect"):
        return options
    return [
        list(subset)
        for size in range(1, len(options) + 1)
        for subset in itertools.combinations(options, size)
    ]


def _walk(
    fixed: dict[str, Any],
    branch: set[str],
    validate: dict[str, set[str]],
    *,
    only: dict[str, Any] | None = None,
    strict: bool = False,
    folder_name: str = "my-project",
) -> Iterator[dict[str, Any]]:
    """Every settled answer set with each `branch` question over all its values and the others
    fixed or default, as `copier copy --data` settles them when given the fixed and branch
    answers, keeping those that pass the `validate` checks (strict: raising AnswerError,
    copier's message, at the first refusal); `only` keeps one value of a branch question.

    Copier renders each question with every answer given up front, later questions' included,
    so a check waits until the branch questions it reads (`validate[name]`) are chosen, then
    runs with the context of its own turn plus the branch answers. Branches share their
    prefix, so a check runs once for all the combinations after it. (Conditions, choice lists
    and the defaults of the questions not varied are still rendered at their turn: none of
    copier.yml's reads a later varied question.)"""
    specs = list(framework.questions().items())
    position = {name: index for index, (name, _) in enumerate(specs)}
    # The index after which each check can run: its own, or its last branch question's.
    due = {
        name: max(position[question] for question in waits | {name})
        for name, waits in validate.items()
    }

    refusals: Counter[str] = Counter()

    def refusal(
        held: tuple[tuple[str, Any, dict[str, Any]], ...], index: int, chosen: dict[str, Any]
    ) -> tuple[str, str] | None:
        """A check due at `index` that copier would refuse, with its message: the first in
        copier's order when strict, else the first found."""
        now = [item for item in held if due[item[0]] == index]
        if not strict:
            # One refusal drops the branch, and the checks that wait for the last answers are
            # many and costly: try first those that refused most often so far.
            now.sort(key=lambda item: -refusals[item[0]])
        for name, value, context in now:
            message = framework.check(name, value, {**context, **chosen})
            if message:
                refusals[name] += 1
                return name, message
        return None

    def step(
        index: int,
        context: dict[str, Any],
        answers: dict[str, Any],
        given: dict[str, Any],
        waiting: tuple[tuple[str, Any, dict[str, Any]], ...],
    ) -> Iterator[dict]:
        if index == len(specs):
            yield answers
            return
        name, spec = specs[index]
        asked = framework.asked(spec, context)
        if asked and name in branch:
            candidates = _values(spec, context)
            if only and name in only:
                candidates = [value for value in candidates if _frozen(value) == only[name]]
        elif name in fixed:
            candidates = [framework.cast(fixed[name], spec)]
        else:
            candidates = [framework.default(name, spec, context)]
        for value in candidates:
            held = (*waiting, (name, value, context)) if asked and name in validate else waiting
            # A variant lists only the answers copier asks, so only those are given up front.
            chosen = {**given, name: value} if asked and name in branch else given
            refused = refusal(held, index, chosen)
            if refused and strict:
                raise framework.AnswerError(*refused)
            if refused:
                continue
            yield from step(
                index + 1,
                {**context, name: value},
                {**answers, name: value} if asked else answers,
                chosen,
                tuple(item for item in held if due[item[0]] > index),
            )

    yield from step(0, framework.starting_context(fixed, folder_name), {}, {}, ())


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """Choice questions whose checks read one another, and their valid combinations."""

    questions: tuple[str, ...]
    combinations: tuple[tuple[Any, ...], ...]


class _Absent(enum.Enum):
    ABSENT = "absent"


_ABSENT = _Absent.ABSENT  # a question copier does not ask in this combination


def _frozen(value: Any) -> Any:
    # A multiselect answer is kept as a tuple inside a block, so combinations can be compared.
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Matrix:
    """Every valid combination of the choice questions: the product of the blocks."""

    fixed: dict[str, Any]
    blocks: tuple[Block, ...]
    order: tuple[str, ...]  # every question, in copier's order

    def __len__(self) -> int:
        return math.prod(len(block.combinations) for block in self.blocks)

    def variant(self, parts: tuple[tuple[Any, ...], ...]) -> dict[str, Any]:
        """One answer set (keyed by question id, in copier's order) from a combination per block."""
        values = dict(self.fixed)
        for block, combination in zip(self.blocks, parts, strict=True):
            for name, value in zip(block.questions, combination, strict=True):
                if value is not _ABSENT:
                    values[name] = list(value) if isinstance(value, tuple) else value
        return {name: values[name] for name in self.order if name in values}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for parts in itertools.product(*(block.combinations for block in self.blocks)):
            yield self.variant(parts)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The index-th variant of the stream, without walking the ones before it."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        parts = []
        for block in reversed(self.blocks):
            index, position = divmod(index, len(block.combinations))
            parts.append(block.combinations[position])
        return self.variant(tuple(reversed(parts)))


class NoValidVariant(ValueError):
    """No combination of the choice questions passes copier's checks."""


def choice_questions(fixed: dict[str, Any] | None = None) -> list[str]:
    """The questions the matrix varies, in copier's order (fixed answers are not varied)."""
    return [
        name
        for name, spec in framework.questions().items()
        if is_choice(spec) and name not in (fixed or {})
    ]


def _combinations(
    fixed: dict[str, Any],
    questions: tuple[str, ...],
    validate: dict[str, set[str]],
    only: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """A block's valid combinations, in walking order (`only`: those with this first value)."""
    walked = _walk(fixed, set(questions), validate, only=only)
    found = (tuple(_frozen(answers.get(name, _ABSENT)) for name in questions) for answers in walked)
    return list(dict.fromkeys(found))


def _block(
    fixed: dict[str, Any], questions: tuple[str, ...], validate: dict[str, set[str]], jobs: int
) -> Block:
    """Walk one block; with several jobs, one process per value of its first question."""
    first = questions[0]
    splits: list[Any] = []
    if jobs > 1 and len(questions) > 1:
        settled = list(_walk(fixed, {first}, {}))
        if all(first in answers for answers in settled):
            splits = list(dict.fromkeys(_frozen(answers[first]) for answers in settled))
    if len(splits) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(splits))) as pool:
            futures = [
                pool.submit(_combinations, fixed, questions, validate, {first: value})
                for value in splits
            ]
            parts = [future.result() for future in futures]
        combinations = list(dict.fromkeys(itertools.chain.from_iterable(parts)))
    else:
        combinations = _combinations(fixed, questions, validate)
    if not combinations:
        raise NoValidVariant(
            f"no combination of {', '.join(questions)} passes copier's checks "
            f"with the other answers {fixed or 'at their defaults'}"
        )
    return Block(questions, tuple(combinations))


def build(fixed: dict[str, Any] | None = None, *, jobs: int = 1) -> Matrix:
    """Every valid combination of the choice questions (the others fixed or default), walked
    with `jobs` processes."""
    fixed = {name: framework.cast_answer(name, value) for name, value in (fixed or {}).items()}
    varied = choice_questions(fixed)
    checks = dependencies(set(varied), set(fixed))
    # The checks no varied answer reaches run once; a refusal there is the fixed answers' fault.
    constant = {name: set() for name in framework.questions() if name not in checks}
    next(_walk(fixed, set(), constant, strict=True))
    blocks = []
    for questions in _blocks_of(varied, checks):
        validate = {
            name: deciders for name, deciders in checks.items() if deciders <= set(questions)
        }
        blocks.append(_block(fixed, tuple(questions), validate, jobs))
    return Matrix(fixed, tuple(blocks), tuple(framework.questions()))


_built: dict[str, Matrix] = {}


def full(fixed: dict[str, Any] | None = None, *, jobs: int = 1) -> Matrix:
    """Every valid combination of the choice questions (the others fixed or default); built
    once per set of fixed answers."""
    key = json.dumps(fixed or {}, sort_keys=True)
    if key not in _built:
        _built[key] = build(fixed, jobs=jobs)
    return _built[key]


# --- pairs and the covering set --------------------------------------------------------------

Slot = tuple[str, ...]  # a question, or (question, option) for one option of a multiselect
Atom = tuple[Slot, Any]  # a slot with its value


def _slot_values(block: Block, combination: tuple[Any, ...]) -> list[Atom]:
    atoms: list[Atom] = []
    for name, value in zip(block.questions, combination, strict=True):
        spec = framework.questions()[name]
        if value is _ABSENT:
            continue
        if spec.get("multiselect"):
            for option in _options(name):
                atoms.append(((name, str(option)), option in value))
        else:
            atoms.append(((name,), value))
    return atoms


@cache
def _options(name: str) -> tuple[Any, ...]:
    context = {**framework.computed_values(), **framework.answer({})}
    return tuple(value for _, value in framework.choices(framework.questions()[name], context))


def declared_atoms(names: list[str]) -> list[Atom]:
    """Every value the choice questions declare (each multiselect option: selected or not)."""
    context = {**framework.computed_values(), **framework.answer({})}
    atoms: list[Atom] = []
    for name in names:
        spec = framework.questions()[name]
        if spec.get("multiselect"):
            atoms += [
                ((name, str(option)), chosen)
                for option in _options(name)
                for chosen in (True, False)
            ]
        else:
            values = [False, True] if spec.get("type") == "bool" else None
            if values is None:
                values = [value for _, value in framework.choices(spec, context) or []]
            atoms += [((name,), value) for value in values]
    return atoms


def describe(atom: Atom) -> str:
    slot, value = atom
    if len(slot) == 2:
        return f"{slot[0]} {'with' if value else 'without'} {slot[1]}"
    return f"{slot[0]}={_text(value)}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Covering:
    """A pairwise covering set, and what no valid combination can hold."""

    variants: list[dict[str, Any]]
    pairs: int
    unreachable_values: list[Atom]
    unreachable_pairs: list[tuple[Atom, Atom]]


def covering(fixed: dict[str, Any] | None = None, *, jobs: int = 1) -> Covering:
    """A small set of valid variants in which every pair of answer values of two choice
    questions that some valid combination holds appears together at least once."""
    matrix = full(fixed, jobs=jobs)
    ids: dict[Atom, int] = {}

    def atom_ids(block: Block, combination: tuple[Any, ...]) -> tuple[int, ...]:
        return tuple(ids.setdefault(atom, len(ids)) for atom in _slot_values(block, combination))

    def pairs_of(atoms: tuple[int, ...]) -> Iterator[tuple[int, int]]:
        yield from itertools.combinations(sorted(atoms), 2)

    blocks = [
        [atom_ids(block, combination) for combination in block.combinations]
        for block in matrix.blocks
    ]
    # The pairs some valid combination holds: within a block, those its combinations hold; across
    # blocks, every pair of values that each block can take (blocks are independent).
    uncovered: set[tuple[int, int]] = set()
    reachable: list[set[int]] = []
    for combinations in blocks:
        reachable.append(set(itertools.chain.from_iterable(combinations)))
        for combination in combinations:
            uncovered.update(pairs_of(combination))
    for first, second in itertools.combinations(reachable, 2):
        uncovered.update((min(a, b), max(a, b)) for a, b in itertools.product(first, second))
    total = len(uncovered)

    atoms = {atom_id: atom for atom, atom_id in ids.items()}
    declared = declared_atoms([name for block in matrix.blocks for name in block.questions])
    unreachable_values = [atom for atom in declared if atom not in ids]
    reachable_declared = [atom for atom in declared if atom in ids]
    holdable = set(uncovered)
    unreachable_pairs = [
        (first, second)
        for first, second in itertools.combinations(reachable_declared, 2)
        if first[0] != second[0]
        and (min(ids[first], ids[second]), max(ids[first], ids[second])) not in holdable
    ]

    def uncovered_pair(first: int, second: int) -> bool:
        return (min(first, second), max(first, second)) in uncovered

    # Blocks are filled largest first; each takes the combination that holds the most uncovered
    # pairs among its own values and with the values already taken, plus, for every slot of the
    # blocks still to fill, the most that one value of that slot could add. The score only falls
    # as pairs are covered, so the largest block is searched lazily: a stale score is an upper
    # bound (Minoux's lazy greedy), and only the top of the heap is scored again.
    order = sorted(range(len(blocks)), key=lambda index: (-len(blocks[index]), index))
    later_slots: list[list[list[int]]] = []
    for rank in range(len(order)):
        slots: dict[Slot, list[int]] = {}
        for index in order[rank + 1 :]:
            for atom_id in sorted(reachable[index]):
                slots.setdefault(atoms[atom_id][0], []).append(atom_id)
        later_slots.append(list(slots.values()))

    def score(candidate: tuple[int, ...], held: tuple[int, ...], rank: int) -> int:
        total = sum(1 for pair in pairs_of(candidate) if pair in uncovered)
        total += sum(1 for own in candidate for other in held if uncovered_pair(own, other))
        for values in later_slots[rank]:
            total += max(sum(1 for own in candidate if uncovered_pair(own, v)) for v in values)
        return total

    lead = order[0]
    heap = [(-score(candidate, (), 0), index) for index, candidate in enumerate(blocks[lead])]
    heapq.heapify(heap)
    chosen_parts: list[tuple[tuple[Any, ...], ...]] = []
    while uncovered:
        while True:
            _, index = heapq.heappop(heap)
            fresh = (-score(blocks[lead][index], (), 0), index)
            if not heap or fresh <= heap[0]:
                break
            heapq.heappush(heap, fresh)
        heapq.heappush(heap, fresh)
        picked = {lead: index}
        held = blocks[lead][index]
        for rank, other in enumerate(order[1:], start=1):
            picked[other] = max(
                range(len(blocks[other])),
                key=lambda position, other=other, rank=rank: (
                    score(blocks[other][position], held, rank),
                    -position,
                ),
            )
            held += blocks[other][picked[other]]
        covered = {pair for pair in pairs_of(held) if pair in uncovered}
        if not covered:  # cannot happen: some slot's potential was realised
            raise RuntimeError("the covering search made no progress")
        uncovered -= covered
        chosen_parts.append(
            tuple(
                matrix.blocks[position].combinations[picked[position]]
                for position in range(len(blocks))
            )
        )
    return Covering(
        variants=[matrix.variant(parts) for parts in chosen_parts],
        pairs=total,
        unreachable_values=unreachable_values,
        unreachable_pairs=unreachable_pairs,
    )


# --- names -----------------------------------------------------------------------------------


def _initials(name: str) -> str:
    return "".join(word[0] for word in name.split("_"))


def name(variant: dict[str, Any], index: int | None = None) -> str:
    """A short readable name: the choice answers in order, without the ones that add nothing."""
    labels = [] if index is None else [f"{index:02d}"]
    for question in choice_questions():
        if question not in variant:
            continue
        value = variant[question]
        if isinstance(value, bool):
            if value:
                labels.append(_initials(question))
        elif isinstance(value, list):
            labels.append("+".join(str(item) for item in value))
        elif str(value) in _SILENT_VALUES:
            continue
        elif str(value)[:1].isdigit():
            labels.append(f"{question.split('_')[0]}{value}")
        else:
            labels.append(str(value))
    return " ".join(labels)


def github_matrix(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """A GitHub Actions matrix: one job per variant, with its name and its answers."""
    return {
        "include": [
            {"name": name(variant, index), "answers": variant}
            for index, variant in enumerate(variants, start=1)
        ]
    }
