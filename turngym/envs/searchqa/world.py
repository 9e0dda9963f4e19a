"""A seeded world of fictional entities with typed, functional relations.

Entities: countries, cities, people, organisations (universities, publishers, film studios, record
labels) and works (novels, films, albums). Relations are functional (one object per subject), so
every question built on them has one answer:

==============  ==============  ======================================================
subject         relation        object
==============  ==============  ======================================================
person          born_in         city
person          birth_year      year
person          educated_at     university
city            country         country
country         capital         city
organisation    founder         person (born 25-60 years before the founding)
organisation    founded_year    year
organisation    headquarters    city
work            creator         person (author / director / artist, by kind)
work            year            year (after the creator turned 20)
work            producer        publisher / studio / label (by kind)
==============  ==============  ======================================================

A world is fixed by ``(GENERATOR_VERSION, seed, num_people)``; the draws are vectorised numpy
(PCG64, the same on every machine), so a 350k-person world (about a million passages) builds in
seconds. Names are unique across all entities: a name in a question identifies one entity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from turngym.envs.base import seeded_rng
from turngym.envs.searchqa.lexicon import ADJECTIVES, NOUNS, PseudoWords, title_case

#: Bump when anything that changes the generated world, corpus or questions changes.
GENERATOR_VERSION = "1"

#: Named world sizes (number of people); passages are about 2.9 per person (see ``turngym search stats``).
SIZES: dict[str, int] = {"tiny": 40, "small": 400, "medium": 10_000, "large": 345_000}

OCCUPATIONS = {"novel": "novelist", "film": "film director", "album": "musician"}
OTHER_OCCUPATIONS = ("physicist", "architect", "painter", "historian", "engineer", "economist", "botanist", "diplomat")
ROLE = {"novel": "author", "film": "director", "album": "artist"}
PRODUCER_KIND = {"novel": "publisher", "film": "studio", "album": "label"}
ORG_SUFFIX = {"publisher": ("Press", "Books", "Publishing"), "studio": ("Pictures", "Films", "Studios"), "label": ("Records", "Music", "Sound")}
OFFICIAL_FORMS = ("Republic of {}", "Kingdom of {}", "Federation of {}", "Commonwealth of {}", "Principality of {}")


@dataclass(slots=True)
class Country:
    name: str
    official: str
    capital: int = -1  # city index
    independence: int = 0


@dataclass(slots=True)
class City:
    name: str
    country: int
    founded: int
    river: str


@dataclass(slots=True)
class Person:
    first: str
    middle: str
    last: str
    occupation: str
    birth_year: int
    born_in: int  # city index
    educated_at: int  # org index (a university)
    works: list[int] = field(default_factory=list)
    founded: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.middle} {self.last}" if self.middle else self.name


@dataclass(slots=True)
class Org:
    name: str
    kind: str  # university | publisher | studio | label
    founded_year: int
    founder: int  # person index
    headquarters: int  # city index
    acronym: str = ""


@dataclass(slots=True)
class Work:
    title: str
    kind: str  # novel | film | album
    year: int
    creator: int  # person index
    producer: int  # org index


@dataclass
class World:
    seed: int
    num_people: int
    countries: list[Country]
    cities: list[City]
    people: list[Person]
    orgs: list[Org]
    works: list[Work]
    prizes: list[tuple[str, int, list[int]]]  # (name, first year, recipients)

    @property
    def key(self) -> str:
        return f"v{GENERATOR_VERSION}-s{self.seed}-p{self.num_people}"

    @cached_property
    def city_people(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i, p in enumerate(self.people):
            out.setdefault(p.born_in, []).append(i)
        return out

    # -- relations as (subject name, relation) -> object text: what questions are built on --------
    def relation(self, kind: str, index: int, rel: str) -> tuple[str, int] | str:
        """The object of ``rel`` for entity ``(kind, index)``: ``(object kind, index)`` for an
        entity, or the literal text of a value (a year)."""
        if kind == "person":
            p = self.people[index]
            if rel == "born_in":
                return ("city", p.born_in)
            if rel == "birth_year":
                return str(p.birth_year)
            if rel == "educated_at":
                return ("org", p.educated_at)
        elif kind == "city":
            if rel == "country":
                return ("country", self.cities[index].country)
        elif kind == "country":
            if rel == "capital":
                return ("city", self.countries[index].capital)
        elif kind == "org":
            o = self.orgs[index]
            if rel == "founder":
                return ("person", o.founder)
            if rel == "founded_year":
                return str(o.founded_year)
            if rel == "headquarters":
                return ("city", o.headquarters)
        elif kind == "work":
            w = self.works[index]
            if rel == "creator":
                return ("person", w.creator)
            if rel == "year":
                return str(w.year)
            if rel == "producer":
                return ("org", w.producer)
        raise KeyError(f"{kind} has no relation {rel!r}")

    def name(self, kind: str, index: int) -> str:
        if kind == "person":
            return self.people[index].name
        if kind == "city":
            return self.cities[index].name
        if kind == "country":
            return self.countries[index].name
        if kind == "org":
            return self.orgs[index].name
        if kind == "work":
            return self.works[index].title
        raise KeyError(kind)

    def aliases(self, kind: str, index: int) -> list[str]:
        """Surface forms a correct answer may take (the canonical name first)."""
        if kind == "person":
            p = self.people[index]
            return [p.name, p.full_name] if p.middle else [p.name]
        if kind == "country":
            c = self.countries[index]
            return [c.name, c.official]
        if kind == "org":
            o = self.orgs[index]
            return [o.name, o.acronym] if o.acronym else [o.name]
        return [self.name(kind, index)]


def world_size(size: str | int) -> int:
    if isinstance(size, int):
        if size < 20:
            raise ValueError(f"a world needs at least 20 people, got {size}")
        return size
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {', '.join(SIZES)} or give a number of people (>= 20)")
    return SIZES[size]


def build_world(size: str | int = "small", seed: int = 0) -> World:
    """Generate the world; the same (version, seed, size) gives the same world everywhere."""
    n_people = world_size(size)
    rng = seeded_rng("searchqa-world", GENERATOR_VERSION, seed, n_people)
    words = PseudoWords(rng)
    n_countries = max(6, n_people // 60)
    n_cities = max(10, n_people // 10)
    n_universities = max(3, n_people // 40)
    n_producers = max(6, n_people // 12)
    n_works = max(10, n_people // 2)

    # countries and cities ---------------------------------------------------------------------
    country_names = words.draw(n_countries, syllables=(2, 2))
    forms = rng.integers(len(OFFICIAL_FORMS), size=n_countries)
    independence = rng.integers(1700, 1990, size=n_countries)
    countries = [Country(name, OFFICIAL_FORMS[int(f)].format(name), independence=int(y)) for name, f, y in zip(country_names, forms, independence)]
    city_names = words.draw(n_cities, syllables=(2, 3))
    rivers = words.draw(max(4, n_cities // 4), syllables=(2, 2), ending=False)
    city_country = np.concatenate([np.arange(n_countries), rng.integers(n_countries, size=n_cities - n_countries)])
    city_founded = rng.integers(800, 1900, size=n_cities)
    city_river = rng.integers(len(rivers), size=n_cities)
    cities = [City(name, int(c), int(f), rivers[int(r)]) for name, c, f, r in zip(city_names, city_country, city_founded, city_river)]
    for ci, city in enumerate(cities[:n_countries]):  # the first city of each country is its capital
        countries[city.country].capital = ci

    # people -----------------------------------------------------------------------------------
    first_pool = words.draw(max(30, int(n_people ** 0.5 * 3)), syllables=(1, 2))
    last_pool = words.draw(max(30, int(n_people ** 0.75)), syllables=(2, 2))
    middle_pool = first_pool
    people: list[Person] = []
    taken: set[tuple[str, str]] = set()
    creative = np.array(list(OCCUPATIONS.values()) * 2 + list(OTHER_OCCUPATIONS))
    while len(people) < n_people:
        want = (n_people - len(people)) + 16
        firsts = rng.integers(len(first_pool), size=want)
        lasts = rng.integers(len(last_pool), size=want)
        middles = rng.integers(len(middle_pool), size=want)
        has_middle = rng.random(want) < 0.4
        occ = rng.integers(len(creative), size=want)
        years = rng.integers(1750, 1951, size=want)
        born = rng.integers(n_cities, size=want)
        for i in range(want):
            first, last = first_pool[int(firsts[i])], last_pool[int(lasts[i])]
            middle = middle_pool[int(middles[i])] if has_middle[i] else ""
            if (first, last) in taken or middle == first:
                continue
            taken.add((first, last))
            people.append(Person(first, middle, last, str(creative[int(occ[i])]), int(years[i]), int(born[i]), -1))
            if len(people) == n_people:
                break

    # organisations ----------------------------------------------------------------------------
    orgs: list[Org] = []
    uni_words = words.draw(n_universities)
    for w in uni_words:
        if rng.random() < 0.5:
            orgs.append(Org(f"{w} University", "university", 0, -1, -1))
        else:
            orgs.append(Org(f"{w} Institute of Technology", "university", 0, -1, -1, acronym=f"{w[0]}IT"))
    prod_words = words.draw(n_producers)
    kinds = ("publisher", "studio", "label")
    for i, w in enumerate(prod_words):
        kind = kinds[i % 3]
        suffix = ORG_SUFFIX[kind][int(rng.integers(3))]
        orgs.append(Org(f"{w} {suffix}", kind, 0, -1, -1))
    # acronyms must not collide with another org's acronym
    seen_acr: set[str] = set()
    for o in orgs:
        if o.acronym and o.acronym in seen_acr:
            o.acronym = ""
        seen_acr.add(o.acronym)
    universities = [i for i, o in enumerate(orgs) if o.kind == "university"]
    for p in people:
        p.educated_at = universities[int(rng.integers(len(universities)))]
    # founders: a person born 25-60 years before the founding year
    by_year = np.argsort(np.array([p.birth_year for p in people]), kind="stable")
    birth_sorted = np.array([people[i].birth_year for i in by_year])
    hq = rng.integers(n_cities, size=len(orgs))
    for oi, o in enumerate(orgs):
        founder = int(by_year[int(rng.integers(len(by_year)))])
        o.founder = founder
        o.founded_year = people[founder].birth_year + int(rng.integers(25, 61))
        o.headquarters = int(hq[oi])
        people[founder].founded.append(oi)
    del birth_sorted

    # works: titles from English words, creators by occupation, producers by kind --------------
    by_occ: dict[str, list[int]] = {}
    for i, p in enumerate(people):
        by_occ.setdefault(p.occupation, []).append(i)
    producers = {k: [i for i, o in enumerate(orgs) if o.kind == k] for k in kinds}
    titles = _titles(rng, n_works, words)
    work_kinds = ("novel", "film", "album")
    works: list[Work] = []
    for wi, title in enumerate(titles):
        kind = work_kinds[wi % 3]
        pool = by_occ.get(OCCUPATIONS[kind]) or list(range(len(people)))
        creator = pool[int(rng.integers(len(pool)))]
        producer = producers[PRODUCER_KIND[kind]][int(rng.integers(len(producers[PRODUCER_KIND[kind]])))]
        year = people[creator].birth_year + int(rng.integers(20, 71))
        works.append(Work(title, kind, year, creator, producer))
        people[creator].works.append(wi)

    # prizes: distractor passages listing recipients ------------------------------------------
    prize_words = words.draw(max(2, n_people // 60), syllables=(2, 2))
    prizes = []
    for w in prize_words:
        recipients = [int(x) for x in rng.choice(n_people, size=min(4, n_people), replace=False)]
        prizes.append((f"{w} Prize", int(rng.integers(1850, 1990)), recipients))
    return World(seed, n_people, countries, cities, people, orgs, works, prizes)


def _titles(rng: np.random.Generator, n: int, words: PseudoWords) -> list[str]:
    """Unique work titles: 'The Glass Orchard', 'Orchard of the Silent Sea', 'The Lantern of Veltra'."""
    out: list[str] = []
    seen: set[str] = set()
    places = words.draw(max(8, n // 20))
    while len(out) < n:
        want = n - len(out) + 16
        pattern = rng.integers(4, size=want)
        a = rng.integers(len(ADJECTIVES), size=(want, 2))
        b = rng.integers(len(NOUNS), size=(want, 2))
        pl = rng.integers(len(places), size=want)
        for i in range(want):
            adj, adj2 = ADJECTIVES[a[i, 0]], ADJECTIVES[a[i, 1]]
            noun, noun2 = NOUNS[b[i, 0]], NOUNS[b[i, 1]]
            k = int(pattern[i])
            if k == 0:
                title = title_case(["the", adj, noun])
            elif k == 1:
                title = title_case([noun, "of", "the", adj2, noun2])
            elif k == 2:
                title = title_case(["the", noun, "of"]) + " " + places[int(pl[i])]
            else:
                title = title_case([adj, noun, "and", "the", noun2])
            if title in seen or noun == noun2:
                continue
            seen.add(title)
            out.append(title)
            if len(out) == n:
                break
    return out
