"""Questions over a generated world: 1-hop, 2-hop bridge, comparison and harder compositions.

A question is a small program over the world's relations, kept with it so that its answer can
be re-derived from any set of facts (:func:`evaluate`):

- ``chain``: follow ``path`` from one entity ("Where was the author of X born?" = X.creator.born_in);
- ``argmin`` / ``argmax``: the option whose ``path`` value (a year) is smallest / largest;
- ``same``: "yes" when both options reach the same object through ``path``, else "no".

Kinds: ``one_hop`` (a chain of 1), ``bridge`` (a chain of 2), ``comparison`` (two options, paths
of 1) and ``compose`` (chains of 3; comparisons through a bridge). Each question records the
passages that state the facts it needs (``supporting``, in the order an agent would find them),
the entity each of those passages is about (the oracle's query) and every accepted surface form
of the answer (``answers``, canonical first).

Splits are pinned: a question's split is a hash of its program (10% test, 10% dev, 80% train), so
(generator version, world seed, world size, split, index) names the same question everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.base import seeded_rng
from turngym.envs.searchqa.corpus import GeneratedCorpus
from turngym.envs.searchqa.world import GENERATOR_VERSION, PRODUCER_KIND, ROLE, World

SPLITS = ("train", "dev", "test")
KINDS = ("one_hop", "bridge", "comparison", "compose")
#: Words the oracle adds to an entity's name when the name alone does not retrieve the passage.
HINTS = {
    "born_in": "born", "birth_year": "born", "educated_at": "studied university", "country": "city",
    "capital": "country capital", "founder": "founded", "founded_year": "founded", "headquarters": "founded",
    "creator": "", "year": "", "producer": "",
}
_PVERB = {"novel": "published", "film": "produced", "album": "released"}
#: Object kind reached by each relation from each subject kind.
_OBJECT = {
    ("person", "born_in"): "city", ("person", "educated_at"): "org", ("city", "country"): "country",
    ("country", "capital"): "city", ("org", "founder"): "person", ("org", "headquarters"): "city",
    ("work", "creator"): "person", ("work", "producer"): "org",
}


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    answers: tuple[str, ...]
    kind: str
    program: dict[str, Any]
    supporting: tuple[str, ...]
    #: per supporting passage: (entity title to search for, relation-hint words)
    search_plan: tuple[tuple[str, str], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        return self.answers[0]

    def to_json(self) -> dict[str, Any]:
        """FlashRAG / Search-R1 style record (``golden_answers``) plus the generator's extras."""
        return {
            "id": self.qid, "question": self.question, "golden_answers": list(self.answers), "kind": self.kind,
            "program": self.program, "supporting": list(self.supporting), "search_plan": [list(p) for p in self.search_plan],
        }


def evaluate(program: dict[str, Any], facts: dict[tuple[str, str], str]) -> str | None:
    """The program's answer from ``(subject, relation) -> object`` facts; None if a fact is missing."""

    def follow(entity: str) -> str | None:
        x: str | None = entity
        for rel in program["path"]:
            x = facts.get((x, rel)) if x is not None else None
        return x

    op, entities = program["op"], program["entities"]
    if op == "chain":
        return follow(entities[0])
    values = [follow(e) for e in entities]
    if any(v is None for v in values):
        return None
    if op == "same":
        return "yes" if values[0] == values[1] else "no"
    nums = [int(v) for v in values]  # type: ignore[arg-type]
    if nums[0] == nums[1]:
        return None
    pick = int(np.argmin(nums)) if op == "argmin" else int(np.argmax(nums))
    return entities[pick]


# -- families: (kind, subject kind, path, op, phrasing) ------------------------------------------
Phrase = Callable[[World, list[int]], str]


def _p(text: str) -> Phrase:
    return lambda w, idx: text


def _work(fmt: dict[str, str]) -> Phrase:
    return lambda w, idx: fmt[w.works[idx[0]].kind]


@dataclass(frozen=True)
class Family:
    kind: str
    subject: str
    path: tuple[str, ...]
    op: str  # chain | argmin | argmax | same
    phrase: Phrase  # -> a format string over {0}, {1} and {role}/{pkind}/{pverb}/{wkind}

    @property
    def name(self) -> str:
        return f"{self.op}:{self.subject}:{'.'.join(self.path)}"


_PK = {"novel": "publisher", "film": "studio", "album": "label"}
FAMILIES: tuple[Family, ...] = (
    Family("one_hop", "person", ("born_in",), "chain", _p("Where was {0} born?")),
    Family("one_hop", "person", ("birth_year",), "chain", _p("In what year was {0} born?")),
    Family("one_hop", "person", ("educated_at",), "chain", _p("Which university did {0} attend?")),
    Family("one_hop", "city", ("country",), "chain", _p("In which country is the city of {0}?")),
    Family("one_hop", "country", ("capital",), "chain", _p("What is the capital of {0}?")),
    Family("one_hop", "org", ("founder",), "chain", _p("Who founded {0}?")),
    Family("one_hop", "org", ("founded_year",), "chain", _p("In what year was {0} founded?")),
    Family("one_hop", "org", ("headquarters",), "chain", _p("In which city is {0} based?")),
    Family("one_hop", "work", ("creator",), "chain", _work({"novel": "Who wrote the novel {0}?", "film": "Who directed the film {0}?", "album": "Who recorded the album {0}?"})),
    Family("one_hop", "work", ("year",), "chain", _work({"novel": "In what year was the novel {0} first published?", "film": "In what year was the film {0} released?", "album": "In what year did the album {0} come out?"})),
    Family("one_hop", "work", ("producer",), "chain", _work({"novel": "Which publisher published the novel {0}?", "film": "Which studio produced the film {0}?", "album": "On which label was the album {0} released?"})),
    Family("bridge", "person", ("born_in", "country"), "chain", _p("In which country was {0} born?")),
    Family("bridge", "org", ("headquarters", "country"), "chain", _p("In which country is {0} based?")),
    Family("bridge", "org", ("founder", "born_in"), "chain", _p("Where was the founder of {0} born?")),
    Family("bridge", "org", ("founder", "birth_year"), "chain", _p("In what year was the founder of {0} born?")),
    Family("bridge", "city", ("country", "capital"), "chain", _p("What is the capital of the country where {0} lies?")),
    Family("bridge", "work", ("creator", "born_in"), "chain", _p("Where was the {role} of the {wkind} {0} born?")),
    Family("bridge", "work", ("creator", "birth_year"), "chain", _p("In what year was the {role} of the {wkind} {0} born?")),
    Family("bridge", "work", ("creator", "educated_at"), "chain", _p("Which university did the {role} of the {wkind} {0} attend?")),
    Family("bridge", "work", ("producer", "founder"), "chain", _p("Who founded the {pkind} that {pverb} the {wkind} {0}?")),
    Family("bridge", "work", ("producer", "headquarters"), "chain", _p("In which city is the {pkind} that {pverb} the {wkind} {0} based?")),
    Family("compose", "work", ("creator", "born_in", "country"), "chain", _p("In which country was the {role} of the {wkind} {0} born?")),
    Family("compose", "work", ("producer", "headquarters", "country"), "chain", _p("In which country is the {pkind} that {pverb} the {wkind} {0} based?")),
    Family("compose", "work", ("producer", "founder", "born_in"), "chain", _p("Where was the founder of the {pkind} that {pverb} the {wkind} {0} born?")),
    Family("compose", "org", ("founder", "born_in", "country"), "chain", _p("In which country was the founder of {0} born?")),
    Family("comparison", "person", ("birth_year",), "argmin", _p("Who was born first, {0} or {1}?")),
    Family("comparison", "person", ("birth_year",), "argmax", _p("Who was born later, {0} or {1}?")),
    Family("comparison", "org", ("founded_year",), "argmin", _p("Which was founded earlier, {0} or {1}?")),
    Family("comparison", "work", ("year",), "argmin", _p("Which {wkind} came out first, {0} or {1}?")),
    Family("comparison", "person", ("born_in",), "same", _p("Were {0} and {1} born in the same city?")),
    Family("comparison", "org", ("headquarters",), "same", _p("Are {0} and {1} based in the same city?")),
    Family("compose", "work", ("creator", "birth_year"), "argmin", _p("The {role} of which {wkind} was born first, {0} or {1}?")),
    Family("compose", "org", ("founder", "birth_year"), "argmax", _p("The founder of which organisation was born later, {0} or {1}?")),
    Family("compose", "person", ("born_in", "country"), "same", _p("Were {0} and {1} born in the same country?")),
    Family("compose", "org", ("headquarters", "country"), "same", _p("Are {0} and {1} based in the same country?")),
)


class QuestionBuilder:
    """Turns (family, subject indices) into a ``Question`` with its supporting passages."""

    def __init__(self, corpus: GeneratedCorpus) -> None:
        self.corpus = corpus
        self.world = corpus.world

    def walk(self, subject: str, index: int, path: tuple[str, ...]) -> tuple[Any, list[tuple[int, str, str]]]:
        """Follow ``path``; returns the end (``(kind, index)`` or a literal) and the hops as
        (supporting passage, entity title, relation)."""
        hops = []
        kind, idx = subject, index
        end: Any = None
        for rel in path:
            hops.append((self.corpus.support(kind, idx, rel), self.world.name(kind, idx), rel))
            end = self.world.relation(kind, idx, rel)
            if isinstance(end, tuple):
                kind, idx = end
        return end, hops

    def value_text(self, end: Any) -> tuple[str, ...]:
        return (end,) if isinstance(end, str) else tuple(self.world.aliases(*end))

    def build(self, fam: Family, idx: list[int]) -> Question | None:
        w = self.world
        names = [w.name(fam.subject, i) for i in idx]
        walks = [self.walk(fam.subject, i, fam.path) for i in idx]
        if fam.op == "chain":
            answers = self.value_text(walks[0][0])
        elif fam.op == "same":
            answers = ("yes",) if walks[0][0] == walks[1][0] else ("no",)
        else:
            years = [int(x[0]) for x in walks]
            if years[0] == years[1]:
                return None
            pick = int(np.argmin(years)) if fam.op == "argmin" else int(np.argmax(years))
            answers = tuple(w.aliases(fam.subject, idx[pick]))
        slots: dict[str, str] = {}
        if fam.subject == "work":
            wk = w.works[idx[0]].kind
            if any(w.works[i].kind != wk for i in idx):
                return None
            slots = {"role": ROLE[wk], "wkind": wk, "pkind": _PK[wk], "pverb": _PVERB[wk]}
        text = fam.phrase(w, idx).format(*names, **slots)
        program = {"op": fam.op, "entities": names, "path": list(fam.path)}
        supporting: list[str] = []
        plan: list[tuple[str, str]] = []
        for _, hops in walks:
            for passage, title, rel in hops:
                pid = self.corpus.doc_id(passage)
                if pid not in supporting:
                    supporting.append(pid)
                    plan.append((title, HINTS[rel]))
        # The split key ignores the order of the options, so "A or B?" and "B or A?" never land
        # in different splits (the pair's facts would leak from train into test).
        key = "\x1f".join([fam.op, ".".join(fam.path), *sorted(names)])
        digest = hashlib.sha1(key.encode()).hexdigest()
        return Question(digest[:12], text, answers, fam.kind, program, tuple(supporting), tuple(plan), {"family": fam.name, "hash": digest})


def _candidates(fam: Family, world: World, rng: np.random.Generator, cap: int) -> Iterable[list[int]]:
    n = {"person": len(world.people), "city": len(world.cities), "country": len(world.countries), "org": len(world.orgs), "work": len(world.works)}[fam.subject]
    if fam.op == "chain":
        order = rng.permutation(n)
        yield from ([int(i)] for i in order[: cap * 2])
        return
    for _ in range(cap * 2):
        a = int(rng.integers(n))
        if fam.op == "same" and rng.random() < 0.5:  # half the pairs share the object: yes/no balanced
            end = _end(world, fam.subject, a, fam.path)
            same = [i for i in _same_end(world, fam, end) if i != a]
            if same:
                b = same[int(rng.integers(len(same)))]
                yield [a, b]
                continue
        b = int(rng.integers(n))
        if a != b:
            yield [a, b]


def _end(world: World, kind: str, index: int, path: tuple[str, ...]) -> Any:
    end: Any = None
    for rel in path:
        end = world.relation(kind, index, rel)
        if isinstance(end, tuple):
            kind, index = end
    return end


_SAME_CACHE: dict[tuple[int, str], dict[Any, list[int]]] = {}


def _same_end(world: World, fam: Family, end: Any) -> list[int]:
    key = (id(world), fam.name)
    if key not in _SAME_CACHE:
        n = len(world.people) if fam.subject == "person" else len(world.orgs)
        groups: dict[Any, list[int]] = {}
        for i in range(n):
            groups.setdefault(_end(world, fam.subject, i, fam.path), []).append(i)
        _SAME_CACHE[key] = groups
    return _SAME_CACHE[key].get(end, [])


def split_of(question: Question) -> str:
    bucket = int(question.meta["hash"][12:20], 16) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def generate_questions(corpus: GeneratedCorpus, *, per_family: int | None = None) -> dict[str, list[Question]]:
    """Every split's questions, in a pinned order (sorted by their hash).

    ``per_family`` caps how many candidates each family contributes (default: all subjects of
    small worlds, 3000 in large ones), which keeps a million-passage world's pool in seconds.
    """
    world = corpus.world
    cap = per_family if per_family is not None else min(3000, max(200, world.num_people * 2))
    builder = QuestionBuilder(corpus)
    seen: set[str] = set()
    splits: dict[str, list[Question]] = {s: [] for s in SPLITS}
    for fam in FAMILIES:
        rng = seeded_rng("searchqa-questions", GENERATOR_VERSION, world.seed, world.num_people, fam.name)
        made = 0
        fam_cap = cap if fam.op == "chain" else max(1, cap // 2)  # keep the coin-flip share of the mix small
        for idx in _candidates(fam, world, rng, fam_cap):
            q = builder.build(fam, idx)
            if q is None or q.qid in seen:
                continue
            seen.add(q.qid)
            splits[split_of(q)].append(q)
            made += 1
            if made >= fam_cap:
                break
    for s in SPLITS:
        splits[s].sort(key=lambda q: q.meta["hash"])
    _SAME_CACHE.clear()
    return splits
