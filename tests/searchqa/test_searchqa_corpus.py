"""The generated world, its passages and its questions: determinism, consistency, entailment."""

from __future__ import annotations

import hashlib
import json

import pytest

from turngym.envs.searchqa.corpus import JsonlCorpus, CorpusFormatError, parse_facts, render_corpus, split_contents, write_jsonl
from turngym.envs.searchqa.questions import KINDS, SPLITS, evaluate, generate_questions, split_of
from turngym.envs.searchqa.world import build_world

#: sha256 of the tiny world's corpus.jsonl. If this changes, the generated tasks changed: bump
#: GENERATOR_VERSION (world.py) so that (version, seed, size, split, index) keeps naming one task.
TINY_CORPUS_SHA256 = "aa4ae39b9cb271459dd077e9ead787a5a1c4b8f0a414049ff6e22ff160c9f4ed"


def _corpus_digest(corpus) -> str:
    h = hashlib.sha256()
    for i, contents in enumerate(corpus.iter_contents()):
        h.update(json.dumps({"id": corpus.doc_id(i), "contents": contents}).encode() + b"\n")
    return h.hexdigest()


def test_world_and_corpus_are_pinned_by_seed(tiny):
    again = render_corpus(build_world("tiny", 0))
    assert _corpus_digest(again) == _corpus_digest(tiny.corpus)
    other = render_corpus(build_world("tiny", 1))
    assert _corpus_digest(other) != _corpus_digest(tiny.corpus)
    assert _corpus_digest(tiny.corpus) == TINY_CORPUS_SHA256, "generated corpus changed: bump GENERATOR_VERSION"


def test_passages_are_wiki18_shaped_and_sized(tiny, small):
    assert 100 <= len(tiny.corpus) <= 500 and 1000 <= len(small.corpus) <= 2000
    for i in range(len(tiny.corpus)):
        contents = tiny.corpus.contents(i)
        title, text = split_contents(contents)
        assert contents.startswith(f'"{title}"\n') and text and "\n" not in text


def _world_facts(world):
    """Every relation of every entity, straight from the world object."""
    out = {}
    for kind, items in (("person", world.people), ("city", world.cities), ("country", world.countries), ("org", world.orgs), ("work", world.works)):
        rels = {"person": ("born_in", "birth_year", "educated_at"), "city": ("country",), "country": ("capital",),
                "org": ("founder", "founded_year", "headquarters"), "work": ("creator", "year", "producer")}[kind]
        for i in range(len(items)):
            for rel in rels:
                obj = world.relation(kind, i, rel)
                out[(world.name(kind, i), rel)] = obj if isinstance(obj, str) else world.name(*obj)
    return out


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_every_fact_the_text_states_is_true(name, request):
    data = request.getfixturevalue(name)
    truth = _world_facts(data.corpus.world)
    stated = 0
    for i in range(len(data.corpus)):
        for subject, rel, obj in data.corpus.facts(i):
            assert truth.get((subject, rel)) == obj, f"passage {i} states {subject} {rel} {obj}"
            stated += 1
    assert stated > 2 * len(data.corpus.world.people)


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_supporting_passages_entail_every_answer(name, request):
    """Correctness by construction, checked on the text: the facts parsed from a question's
    supporting passages alone give its answer, for every question of every split."""
    data = request.getfixturevalue(name)
    corpus = data.corpus
    checked = 0
    for split in SPLITS:
        for q in data.questions[split]:
            facts = {}
            for pid in q.supporting:
                i = int(pid)
                for subject, rel, obj in parse_facts(corpus.titles[i], corpus.texts[i], corpus.subject_refs[i]):
                    facts[(subject, rel)] = obj
            assert evaluate(q.program, facts) in q.answers, q
            checked += 1
    assert checked == sum(len(v) for v in data.questions.values()) > 500


def test_question_mix_splits_and_pinning(small):
    qs = small.questions
    assert {q.kind for q in qs["test"]} == set(KINDS)
    assert all(split_of(q) == s for s in SPLITS for q in qs[s])
    ids = {s: {q.qid for q in qs[s]} for s in SPLITS}
    assert not (ids["train"] & ids["test"]) and not (ids["dev"] & ids["test"])
    assert 0.07 < len(qs["test"]) / sum(len(v) for v in qs.values()) < 0.13
    again = generate_questions(render_corpus(build_world("small", 0)))
    assert [q.question for q in again["test"]] == [q.question for q in qs["test"]]
    # "A or B?" and "B or A?" share a split: a comparison's facts never leak from train into test
    test_pairs = {(q.meta["family"], frozenset(q.program["entities"])) for q in qs["test"] if len(q.program["entities"]) == 2}
    assert not any((q.meta["family"], frozenset(q.program["entities"])) in test_pairs for q in qs["train"])
    yes = sum(q.answer == "yes" for q in qs["train"] if q.program["op"] == "same")
    same = sum(q.program["op"] == "same" for q in qs["train"])
    assert 0.35 < yes / same < 0.65  # yes/no balanced


def test_answers_have_aliases(small):
    qs = [q for s in SPLITS for q in small.questions[s]]
    assert any(len(q.answers) > 1 and q.answers[1].startswith(("Republic", "Kingdom", "Federation", "Commonwealth", "Principality")) for q in qs)
    assert any(len(q.answers) > 1 and len(q.answers[1].split()) == 3 for q in qs)  # full names with a middle name


def test_jsonl_round_trip_and_loader_formats(tmp_path, tiny):
    path = tmp_path / "corpus.jsonl"
    assert write_jsonl(tiny.corpus, path) == len(tiny.corpus)
    loaded = JsonlCorpus(path)
    assert len(loaded) == len(tiny.corpus)
    assert all(loaded.contents(i) == tiny.corpus.contents(i) and loaded.doc_id(i) == str(i) for i in range(len(loaded)))
    other = tmp_path / "titled.jsonl"
    other.write_text('{"id": "a", "title": "Paris", "text": "Paris is a city."}\n\n  \n{"id": 7, "contents": "\\"Rome\\"\\nRome is old."}\n')
    titled = JsonlCorpus(other)
    assert len(titled) == 2 and titled.contents(0) == '"Paris"\nParis is a city.' and titled.doc_id(1) == "7"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "contents": "ok"}\nnot json\n')
    with pytest.raises(CorpusFormatError, match="passage 1 is not valid JSON"):
        JsonlCorpus(bad).contents(1)
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(CorpusFormatError, match="empty"):
        JsonlCorpus(tmp_path / "empty.jsonl")
    (tmp_path / "shape.jsonl").write_text('{"title": "x"}\n')
    with pytest.raises(CorpusFormatError, match="needs an object with 'id'"):
        JsonlCorpus(tmp_path / "shape.jsonl")
