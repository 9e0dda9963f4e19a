"""Word material for the generated world: pseudo-words for names, English words for titles.

Names are pseudo-words built from syllables, so no question can be answered from what a model
knows about the real world, and each pseudo-word belongs to one entity pool only (a city's name is
never also a surname), so a name in a question points at one entity. Work titles use English
words, which is what makes BM25 retrieval of them non-trivial: the same words occur in unrelated
passages.

The lists are part of the task definition: changing them changes every generated world, so bump
``GENERATOR_VERSION`` in :mod:`.world` when editing anything here.
"""

from __future__ import annotations

import numpy as np

ONSETS = (
    "b", "br", "c", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "pr", "r", "s",
    "sk", "st", "t", "tr", "v", "vr", "z", "th", "sh", "ch", "j", "y", "w", "fl", "gl", "cl", "sl", "bl",
)
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei", "ou", "ae")
CODAS = ("", "", "", "n", "r", "l", "s", "m", "th", "nd", "rt", "sk", "x", "v", "nn", "ll", "rd", "st")
ENDINGS = ("", "", "", "a", "o", "en", "is", "ar", "el", "on", "us")

# English words for titles and prose. Lower-case; titles capitalise them.
ADJECTIVES = (
    "silent", "hollow", "golden", "broken", "distant", "crimson", "quiet", "bitter", "burning", "frozen",
    "hidden", "last", "lonely", "lost", "narrow", "northern", "pale", "restless", "scarlet", "secret",
    "shattered", "silver", "sleeping", "southern", "stone", "velvet", "wandering", "wild", "winter",
    "amber", "ashen", "bright", "copper", "dark", "deep", "eastern", "empty", "endless", "fallen",
    "final", "glass", "green", "grey", "high", "iron", "ivory", "little", "long", "midnight", "new",
    "old", "painted", "paper", "quiet", "red", "salt", "second", "seventh", "shadowed", "short",
    "slow", "strange", "summer", "sunken", "tall", "tender", "thin", "twin", "violet", "western",
    "white", "wooden", "yellow", "autumn", "blue", "cold", "drifting", "electric", "faint", "gentle",
    "hungry", "invisible", "marble", "open", "patient", "rusted", "savage", "steady", "vanishing",
)
NOUNS = (
    "orchard", "harbour", "river", "mountain", "garden", "tower", "city", "bridge", "forest", "island",
    "lantern", "mirror", "road", "sea", "shore", "sky", "storm", "valley", "window", "winter", "wolf",
    "archive", "atlas", "bell", "cathedral", "circle", "clock", "coast", "compass", "crown", "dawn",
    "desert", "door", "dream", "engine", "feather", "field", "fire", "flood", "fountain", "gate",
    "glacier", "hammer", "heart", "horizon", "house", "hunter", "journey", "key", "kingdom", "lake",
    "letter", "light", "line", "machine", "map", "meadow", "moon", "night", "ocean", "palace",
    "passage", "path", "people", "piano", "port", "prairie", "queen", "rain", "reef", "room",
    "ruin", "sail", "season", "shadow", "signal", "song", "star", "station", "stranger", "street",
    "summit", "thread", "tide", "tree", "tunnel", "voice", "wall", "water", "wave", "wind", "wing",
    "year", "anchor", "canyon", "chapel", "cloud", "ember", "ferry", "harvest", "inn", "ledger",
    "market", "monument", "needle", "pilgrim", "quarry", "rider", "saint", "tapestry", "vessel",
)
# Prose for distractor sentences: activities that are not relations any question asks about.
ACTIVITIES = (
    "opened a second office", "moved its archive", "changed its logo", "hosted a festival",
    "expanded its catalogue", "renovated its main building", "celebrated its anniversary",
    "signed a distribution agreement", "launched a youth programme", "published an annual report",
)
PERSON_EVENTS = (
    "moved to", "gave a lecture in", "spent a year in", "held an exhibition in", "toured",
    "opened a studio in", "taught a summer course in", "was honoured in",
)
GEOGRAPHY = (
    "lies on the banks of the {r} river", "is surrounded by low hills", "has a temperate climate",
    "is famous for its old market square", "sits at the mouth of the {r} river", "has a busy railway station",
    "is connected to the coast by a canal", "hosts a large textile market", "is built around a medieval castle",
)
ECONOMY = (
    "Its economy is based on fishing and trade.", "Its economy relies on textile mills.",
    "Tourism is its main industry.", "Its main exports are timber and grain.",
    "It is a regional centre of banking.", "It has a growing software industry.",
    "Shipbuilding has been important there for centuries.", "It is known for its wine.",
)


#: English words a pseudo-word must not be (stop words and short common words): a first name
#: "Then" would make every query containing "then" match people.
ENGLISH = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how if in into is it its itself just me more most my myself no nor
not now of off on once only or other our ours out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself yourselves one two three four
five six seven eight nine ten born city year film novel album river press music sound books studios records
pictures films university institute capital country founded land lake main mine many made make name near
none open part real road rose same sea sole sure talent tend then they tone tore wall wear well west wine
""".split())


class PseudoWords:
    """Unique capitalised pseudo-words drawn from a seeded generator (never repeated across pools)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def draw(self, n: int, *, syllables: tuple[int, int] = (2, 2), ending: bool = True) -> list[str]:
        """``n`` fresh words. Vectorised draws, then a loop only to assemble and de-duplicate."""
        out: list[str] = []
        while len(out) < n:
            want = int((n - len(out)) * 1.3) + 8
            lengths = self.rng.integers(syllables[0], syllables[1] + 1, size=want)
            parts = (
                self.rng.integers(len(ONSETS), size=(want, 4)),
                self.rng.integers(len(VOWELS), size=(want, 4)),
                self.rng.integers(len(CODAS), size=(want, 4)),
            )
            ends = self.rng.integers(len(ENDINGS), size=want)
            for i in range(want):
                k = int(lengths[i])
                word = "".join(ONSETS[parts[0][i, j]] + VOWELS[parts[1][i, j]] + (CODAS[parts[2][i, j]] if j == k - 1 else "") for j in range(k))
                if ending:
                    word += ENDINGS[ends[i]]
                word = word.capitalize()
                if len(word) < 4 or len(word) > 10 or word in self.used or word.lower() in ENGLISH:
                    continue
                self.used.add(word)
                out.append(word)
                if len(out) == n:
                    break
        return out


def title_case(words: list[str]) -> str:
    small = {"of", "the", "a", "and", "in", "on"}
    return " ".join(w if (i and w in small) else w.capitalize() for i, w in enumerate(words))
