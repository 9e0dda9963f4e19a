"""Encyclopedic passages rendered from a world, in wiki-18 format, and corpora read from disk.

Every passage is ``{"id": "17", "contents": "\\"Title\\"\\ntext"}`` (the layout of the wiki-18
dump Search-R1 retrieves from). Each entity gets one or two passages with the same title (the way
wiki-18 splits an article into chunks): the *main* passage states the entity's forward facts and
the second one is a distractor (career, history, geography) that names other cities, years and
people without stating any asked relation. Prize passages list recipients. A few sentences state
facts in the inverse direction ("Notable people born in X include ..."), always true to the world.

Facts are written with sentence templates, and :func:`parse_facts` reads them back from the text
with the same templates: the question tests check answers against what the *text* says, not
against the world object, so a rendering bug cannot hide behind the generator.

Corpora on disk (:class:`JsonlCorpus`) are read by byte offsets over a memory map: a 1M-passage
file costs an offsets array, not a million Python strings.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from turngym.envs.base import seeded_rng
from turngym.envs.searchqa.lexicon import ACTIVITIES, ECONOMY, GEOGRAPHY, PERSON_EVENTS
from turngym.envs.searchqa.world import GENERATOR_VERSION, ROLE, World

_ENT = r"[^.,;()]+?"
_YEAR = r"\d{4}"
#: Relations whose objects are years (parsed as digits).
YEAR_RELATIONS = {"birth_year", "founded_year", "year"}

# Forward-fact templates: {S} is the subject reference; relation-named slots are facts; slots
# starting with "_" are free text the parser ignores.
FORWARD: dict[str, list[str]] = {
    "person_birth": [
        "{S} was born in {born_in} in {birth_year}.",
        "Born in {born_in} in {birth_year}, {S} grew up in {_place}.",
        "{S} was born in {birth_year} in the city of {born_in}.",
    ],
    "person_study": [
        "{S} studied at {educated_at}.",
        "{S} was educated at {educated_at}, graduating in {_year}.",
        "{S} attended {educated_at}.",
    ],
    "city": [
        "{S} is a city in {country}.",
        "{S} is a city located in {country}.",
        "The city of {S} lies in {country}.",
    ],
    "country": [
        "{S}, officially the {_official}, is a country whose capital is {capital}.",
        "{S} is a country in the region; its capital city is {capital}.",
    ],
    "university": [
        "{S} is a university founded in {founded_year} by {founder}. It is located in {headquarters}.",
        "{S} was established by {founder} in {founded_year}. Its campus is in {headquarters}.",
    ],
    "producer": [
        "{S} is a {_kind} founded by {founder} in {founded_year}. It is headquartered in {headquarters}.",
        "{S} was founded in {founded_year} by {founder}. The company is based in {headquarters}.",
    ],
    "novel": [
        "{S} is a novel by {creator}, first published in {year} by {producer}.",
        "{S} is a novel written by {creator}. It was published by {producer} in {year}.",
    ],
    "film": [
        "{S} is a film directed by {creator}. It was released in {year} and produced by {producer}.",
        "{S} is a {year} film directed by {creator} and produced by {producer}.",
    ],
    "album": [
        "{S} is an album by {creator}, released on {producer} in {year}.",
        "{S} is a studio album recorded by {creator}. It came out in {year} on {producer}.",
    ],
}
# Inverse templates: (template, relation, whether {_list} is a list of names): one fact
# (name, relation, subject) per listed name. Work titles may contain "and", so they are never listed.
INVERSE: dict[str, tuple[str, str, bool]] = {
    "born_here": ("Notable people born in {S} include {_list}.", "born_in", True),
    "known_for": ("{S} is known for {_list}.", "creator", False),
}
_SLOT = re.compile(r"\{(\w+)\}")
KIND_WORD = {"publisher": "publishing house", "studio": "film studio", "label": "record label"}


def _compile(template: str) -> re.Pattern[str]:
    pattern, pos = "", 0
    for m in _SLOT.finditer(template):
        pattern += re.escape(template[pos:m.start()])
        slot = m.group(1)
        if slot == "S":
            pattern += r"(?P<S>.+?)"
        elif slot.startswith("_"):
            pattern += rf"(?P<{slot}>.+?)"
        else:
            pattern += rf"(?P<{slot}>{_YEAR if slot in YEAR_RELATIONS else _ENT})"
        pos = m.end()
    return re.compile(pattern + re.escape(template[pos:]))


def _sentences(template: str) -> list[str]:
    return [s if s.endswith(".") else s + "." for s in re.split(r"(?<=\.) ", template)]


#: One compiled regex per template sentence.
_FORWARD_RX = [_compile(s) for group in FORWARD.values() for t in group for s in _sentences(t)]
_INVERSE_RX = [(_compile(t), rel, listed) for t, rel, listed in INVERSE.values()]


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=\.) ", text) if s]


def parse_facts(title: str, text: str, subject_refs: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """Every fact the passage text states, as ``(subject, relation, object)``.

    The subject of a forward sentence is the passage's entity: the sentence must name it by its
    title, one of ``subject_refs`` (e.g. a person's surname or full name) or ``It``/``The
    company``/``Its campus`` style back-references, which the templates spell out.
    """
    allowed = {title, *subject_refs}
    facts: list[tuple[str, str, str]] = []
    for sentence in split_sentences(text):
        for rx in _FORWARD_RX:
            m = rx.fullmatch(sentence)
            if m is None:
                continue
            groups = m.groupdict()
            subject = groups.get("S")
            if subject is not None and subject not in allowed:
                continue
            for slot, value in groups.items():
                if slot != "S" and not slot.startswith("_"):
                    facts.append((title, slot, value))
            break
        for rx, rel, listed in _INVERSE_RX:
            m = rx.fullmatch(sentence)
            if m is not None and m.group("S") in allowed:
                for name in _split_list(m.group("_list")) if listed else [m.group("_list")]:
                    facts.append((name, rel, title))
    return facts


def _split_list(text: str) -> list[str]:
    parts = re.split(r", and |, | and ", text)
    return [p for p in (x.strip() for x in parts) if p]


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return ", ".join(names[:-1]) + f", and {names[-1]}"


# -- corpora ---------------------------------------------------------------------------------------
class Corpus(Protocol):
    """What retrievers and the env read: passages by index (0..len-1)."""

    def __len__(self) -> int: ...
    def doc_id(self, index: int) -> str: ...
    def contents(self, index: int) -> str: ...
    def iter_contents(self) -> Iterator[str]: ...


def split_contents(contents: str) -> tuple[str, str]:
    """``'"Title"\\ntext'`` -> ``('Title', 'text')`` (quotes stripped from the title line)."""
    head, _, text = contents.partition("\n")
    title = head[1:-1] if len(head) >= 2 and head[0] == head[-1] == '"' else head
    return title, text


@dataclass
class GeneratedCorpus:
    """The rendered passages of a world (ids are ``str(index)``), plus where each fact is stated."""

    world: World
    titles: list[str]
    texts: list[str]
    #: (entity kind, entity index) -> passage indices of that entity, main passage first
    entity_passages: dict[str, list[list[int]]]
    subject_refs: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.texts)

    def doc_id(self, index: int) -> str:
        return str(index)

    def contents(self, index: int) -> str:
        return f'"{self.titles[index]}"\n{self.texts[index]}'

    def iter_contents(self) -> Iterator[str]:
        for t, x in zip(self.titles, self.texts):
            yield f'"{t}"\n{x}'

    def support(self, kind: str, index: int, rel: str) -> int:
        """The passage that states ``rel`` of an entity (by construction of :func:`render_corpus`)."""
        passages = self.entity_passages[kind][index]
        if kind == "person" and rel == "educated_at":
            return passages[1]
        return passages[0]

    def facts(self, index: int) -> list[tuple[str, str, str]]:
        return parse_facts(self.titles[index], self.texts[index], self.subject_refs[index])


def render_corpus(world: World) -> GeneratedCorpus:
    """Render every entity's passages (deterministic in the world's seed)."""
    rng = seeded_rng("searchqa-corpus", GENERATOR_VERSION, world.seed, world.num_people)
    titles: list[str] = []
    texts: list[str] = []
    refs: list[tuple[str, ...]] = []
    ent: dict[str, list[list[int]]] = {k: [] for k in ("country", "city", "org", "person", "work", "prize")}
    n_all = len(world.people) * 8 + len(world.cities) * 5 + len(world.orgs) * 7 + len(world.works) * 2 + len(world.countries) * 2 + 64
    pick = rng.integers(0, 1 << 30, size=n_all)
    cursor = [0]

    def r(n: int) -> int:
        cursor[0] += 1
        return int(pick[cursor[0] % n_all]) % n

    def add(kind: str, title: str, text: str, subject_refs: tuple[str, ...] = ()) -> int:
        titles.append(title)
        texts.append(text)
        refs.append(subject_refs)
        return len(titles) - 1

    def fill(template: str, **slots: str) -> str:
        return template.format(**slots)

    cities, people, orgs, works = world.cities, world.people, world.orgs, world.works
    for ci, c in enumerate(world.countries):
        t = FORWARD["country"][r(2)]
        text = fill(t, S=c.name, _official=c.official, capital=cities[c.capital].name)
        text += f" It became independent in {c.independence}."
        ent["country"].append([add("country", c.name, text)])
    city_people = world.city_people
    for ci, c in enumerate(cities):
        text = fill(FORWARD["city"][r(3)], S=c.name, country=world.countries[c.country].name)
        text += f" It was founded in {c.founded}."
        if world.countries[c.country].capital == ci:
            text += f" It is the capital of {world.countries[c.country].name}."
        natives = city_people.get(ci, [])[:3]
        if natives:
            text += " " + INVERSE["born_here"][0].format(S=c.name, _list=_join([people[i].name for i in natives]))
        main = add("city", c.name, text)
        geo = GEOGRAPHY[r(len(GEOGRAPHY))].format(r=c.river)
        other = cities[r(len(cities))].name
        text2 = f"{c.name} {geo}. {ECONOMY[r(len(ECONOMY))]} A road links it to {other}."
        ent["city"].append([main, add("city", c.name, text2)])
    for oi, o in enumerate(orgs):
        founder = people[o.founder].name
        hq = cities[o.headquarters].name
        if o.kind == "university":
            text = fill(FORWARD["university"][r(2)], S=o.name, founded_year=str(o.founded_year), founder=founder, headquarters=hq)
        else:
            text = fill(FORWARD["producer"][r(2)], S=o.name, _kind=KIND_WORD[o.kind], founder=founder, founded_year=str(o.founded_year), headquarters=hq)
        if o.acronym:
            text += f" It is often called {o.acronym}."
        main = add("org", o.name, text)
        y1 = o.founded_year + 5 + r(40)
        y2 = y1 + 1 + r(30)
        text2 = f"In {y1}, {o.name} {ACTIVITIES[r(len(ACTIVITIES))]} in {cities[r(len(cities))].name}. In {y2}, it {ACTIVITIES[r(len(ACTIVITIES))]}."
        ent["org"].append([main, add("org", o.name, text2)])
    for wi, w in enumerate(works):
        creator, producer = people[w.creator].name, orgs[w.producer].name
        text = fill(FORWARD[w.kind][r(2)], S=w.title, creator=creator, year=str(w.year), producer=producer)
        ent["work"].append([add("work", w.title, text)])
    for pi, p in enumerate(people):
        refs_p = (p.name, p.full_name, p.last)
        head = f"{p.full_name} is {'an' if p.occupation[0] in 'aeiou' else 'a'} {p.occupation}."
        birth = fill(FORWARD["person_birth"][r(3)], S=p.last, born_in=cities[p.born_in].name, birth_year=str(p.birth_year), _place=cities[r(len(cities))].name)
        text = f"{head} {birth}"
        if p.works:
            text += " " + INVERSE["known_for"][0].format(S=p.last, _list=works[p.works[0]].title)
        if p.founded:
            text += f" {p.last} founded {orgs[p.founded[0]].name}."
        main = add("person", p.name, text, refs_p)
        study = fill(FORWARD["person_study"][r(3)], S=p.last, educated_at=orgs[p.educated_at].name, _year=str(p.birth_year + 21 + r(4)))
        y = p.birth_year + 25 + r(40)
        event = PERSON_EVENTS[r(len(PERSON_EVENTS))]
        text2 = f"{study} In {y}, {p.last} {event} {cities[r(len(cities))].name}."
        ent["person"].append([main, add("person", p.name, text2, refs_p)])
    for name, year, recipients in world.prizes:
        text = f"The {name} is an award first given in {year}. Its recipients include {_join([people[i].name for i in recipients])}."
        ent["prize"].append([add("prize", name, text)])
    return GeneratedCorpus(world, titles, texts, ent, refs)


# -- jsonl on disk ---------------------------------------------------------------------------------
def write_jsonl(corpus: Corpus, path: str | os.PathLike[str]) -> int:
    """Write ``{"id", "contents"}`` lines; returns the number of passages."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for i, contents in enumerate(corpus.iter_contents()):
            f.write(json.dumps({"id": corpus.doc_id(i), "contents": contents}, ensure_ascii=False))
            f.write("\n")
            n += 1
    os.replace(tmp, path)
    return n


class CorpusFormatError(ValueError):
    """A corpus file line that is not a passage; the message names the file and line."""


class JsonlCorpus:
    """A wiki-18-style jsonl corpus, read lazily by byte offsets over a memory map.

    Lines are ``{"id", "contents"}`` (wiki-18) or ``{"id", "title", "text"}`` (also common);
    blank lines are skipped. Opening scans the file once for line offsets (vectorised over the
    mapped bytes), so even a 20 GB file opens without parsing JSON.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"corpus file {self.path} does not exist")
        self._file = open(self.path, "rb")
        size = os.fstat(self._file.fileno()).st_size
        if size == 0:
            raise CorpusFormatError(f"{self.path} is empty")
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        data = np.frombuffer(self._map, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        starts = np.concatenate([[0], ends + 1])
        stops = np.concatenate([ends, [size]])
        keep = (stops - starts) > 0
        for i in np.flatnonzero(keep & ((stops - starts) <= 4)):  # whitespace-only lines ("\r")
            keep[i] = bool(self._map[starts[i]:stops[i]].strip())
        starts, stops = starts[keep], stops[keep]
        self._starts, self._stops = starts.astype(np.int64), stops.astype(np.int64)
        del data
        if len(self._starts) == 0:
            raise CorpusFormatError(f"{self.path} holds no passages")
        self._record(0)  # fail at open on a file of the wrong shape

    def __len__(self) -> int:
        return len(self._starts)

    def _record(self, index: int) -> tuple[str, str]:
        raw = self._map[self._starts[index]:self._stops[index]]
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CorpusFormatError(f"{self.path}: passage {index} is not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or "id" not in obj:
            raise CorpusFormatError(f"{self.path}: passage {index} needs an object with 'id' and 'contents' (or 'title' and 'text')")
        if "contents" in obj:
            contents = obj["contents"]
        elif "text" in obj:
            contents = f'"{obj.get("title", "")}"\n{obj["text"]}'
        else:
            raise CorpusFormatError(f"{self.path}: passage {index} has neither 'contents' nor 'text'")
        return str(obj["id"]), str(contents)

    def doc_id(self, index: int) -> str:
        return self._record(index)[0]

    def contents(self, index: int) -> str:
        return self._record(index)[1]

    def iter_contents(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self._record(i)[1]

    def close(self) -> None:
        self._map.close()
        self._file.close()
