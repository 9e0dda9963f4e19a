"""SearchQA-v0: registration, the contract checker, the protocol, rewards, oracle and baselines."""

from __future__ import annotations

import collections
import json
import random

import gymnasium
import pytest

import turngym
from turngym.envs.checker import check_env_id
from turngym.envs.searchqa import INVALID_MESSAGE, SearchQAEnv
from turngym.envs.searchqa.dataset import build_directory
from turngym.envs.searchqa.reward import exact_match


def _play(env, policy, **reset):
    obs, info = env.reset(**reset)
    observations, infos, actions = [obs], [info], []
    while True:
        action = policy(obs, info)
        obs, reward, term, trunc, info = env.step(action)
        actions.append(action)
        observations.append(obs)
        infos.append(info)
        if term or trunc:
            return reward, info, observations, actions, infos


def oracle(obs, info):
    return info["expert_action"]


def test_registered_and_made_through_gymnasium():
    assert "SearchQA-v0" in turngym.envs.registry
    env = gymnasium.make("turngym/SearchQA-v0", size="tiny")
    obs, info = env.reset(seed=0)
    assert obs.startswith("Question: ") and info["task_id"].startswith("sqa-v1-s0-p40-train-")


def test_contract_checker_passes():
    report = check_env_id("SearchQA-v0", seed=0, n_fuzz=200, raise_on_error=False, size="tiny")
    assert report.ok, str(report)
    assert not any(r.skipped for r in report.results), str(report)


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_oracle_answers_every_test_question(size):
    env = SearchQAEnv(size=size, split="test", expert=True)
    ids = env.task_ids()
    won = [_play(env, oracle, options={"task_id": t})[1]["won"] for t in ids]
    assert sum(won) / len(won) >= 0.99, f"oracle EM {sum(won) / len(won):.3f} on {len(ids)} questions"


def test_no_search_policy_is_near_chance(small):
    """Answering without searching: the best a policy can do is guess from the question and from
    answer frequencies seen in training. That reaches chance (the coin flip of comparisons and
    yes/no), far from the oracle's 1.0."""
    train = small.questions["train"]
    by_family = collections.defaultdict(collections.Counter)
    for q in train:
        by_family[q.meta["family"]][q.answer] += 1
    env = SearchQAEnv(size="small", split="test")
    ems, chance = [], []
    for task_id in env.task_ids():
        obs, info = env.reset(options={"task_id": task_id})
        q = env.question
        if q.program["op"] in ("argmin", "argmax"):
            guess, p = q.program["entities"][0], 0.5
        else:
            counts = by_family[q.meta["family"]]
            guess, top = counts.most_common(1)[0]
            p = top / sum(counts.values())
        _, reward, *_ = env.step(f"<answer>{guess}</answer>")
        ems.append(reward)
        chance.append(p)
    em, expected = sum(ems) / len(ems), sum(chance) / len(chance)
    assert abs(em - expected) < 0.05 and em < 0.35, (em, expected)


def test_search_r1_protocol_and_info_keys(tiny):
    env = SearchQAEnv(size="tiny", split="test")
    obs, info = env.reset(seed=3)
    q = env.question
    assert obs == f"Question: {q.question}" and info["task"] == q.question
    assert info["ground_truth"] == q.answer and info["golden_answers"] == list(q.answers)
    anchor0 = info["anchor"]
    obs, reward, term, trunc, info = env.step(f"<think>Start with the entity.</think><search> {q.search_plan[0][0]} </search>")
    assert obs.startswith('<information>Doc 1(Title: "') and obs.endswith("</information>")
    shown = info["tool_calls"][0]["result"]
    assert 1 <= len(shown) <= 3 and obs.count("\nDoc ") == len(shown) - 1 and q.supporting[0] in shown
    assert reward == 0.0 and not term and info["action_valid"] and info["ground_truth"] == q.answer
    assert info["tool_calls"][0]["name"] == "search"
    obs, *_ = env.step("<search>was born in the city of</search>")  # common words: top 3
    assert obs.count("\nDoc ") == 2 and "Doc 3(Title: " in obs
    assert info["anchor"] != anchor0 and info["anchor"].startswith(q.question)
    obs, reward, term, trunc, info = env.step("I think the answer is obvious")
    assert obs == INVALID_MESSAGE and not info["action_valid"] and not term and info["ground_truth"] == q.answer
    obs, reward, term, trunc, info = env.step(f"<answer>{q.answers[-1].upper()}.</answer>")  # an alias, normalised
    assert term and reward == 1.0 and info["won"] and info["em"] and info["score"] == 1.0


def test_turn_limit_truncates(tiny):
    env = SearchQAEnv(size="tiny", max_turns=2)
    env.reset(seed=1)
    out = env.step("<search>x y z</search>")
    assert not out[3]
    out = env.step("<search>another query</search>")
    assert out[3] and not out[2] and out[1] == 0.0


def test_garbage_never_crashes():
    env = SearchQAEnv(size="tiny")
    rng = random.Random(0)
    pieces = ["<search>", "</search>", "<answer>", "</answer>", "<think>", "x" * 5000, "\x00", "\u2603", "</", ">", " ", "Doc 1", "{", "\n"]
    env.reset(seed=0)
    for n in range(1500):
        action = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 8)))
        _, reward, term, trunc, info = env.step(action if n % 50 else b"\xff\xfe<answer>x</answer>")
        assert isinstance(reward, float) and isinstance(info["action_valid"], bool)
        if term or trunc:
            env.reset(seed=n)


def test_replaying_actions_reproduces_observations():
    env = SearchQAEnv(size="small", expert=True)
    _, _, observations, actions, _ = _play(env, oracle, seed=11)
    fresh = SearchQAEnv(size="small")
    obs, _ = fresh.reset(seed=11)
    replayed = [obs] + [fresh.step(a)[0] for a in actions]
    assert replayed == observations


def test_task_ids_are_pinned():
    env = SearchQAEnv(size="tiny", split="test")
    ids = env.task_ids()
    assert ids[0] == "sqa-v1-s0-p40-test-0" and len(ids) == len(set(ids))
    obs, info = env.reset(options={"task_id": ids[5]})
    assert info["task_id"] == ids[5] and SearchQAEnv(size="tiny").reset(options={"task_id": ids[5]})[0] == obs
    with pytest.raises(ValueError, match="not a task of this env"):
        env.reset(options={"task_id": "sqa-v1-s9-p40-test-0"})
    kinds = SearchQAEnv(size="tiny", kinds=["one_hop"], split="test")
    assert all(kinds.reset(options={"task_id": t})[1]["question_kind"] == "one_hop" for t in kinds.task_ids())


def test_f1_and_format_shaped_rewards():
    f1 = SearchQAEnv(size="tiny", reward="f1", split="test")
    f1.reset(options={"task_id": next(t for t in f1.task_ids() if " " in f1.data.questions["test"][int(t.rsplit("-", 1)[1])].answer)})
    first_word = f1.question.answer.split()[0]
    _, reward, term, *_ = f1.step(f"<answer>{first_word}</answer>")
    assert term and 0.0 < reward < 1.0

    fmt = SearchQAEnv(size="tiny", reward="em_format", split="test", expert=True)
    reward, info, _, actions, _ = _play(fmt, oracle, seed=2)
    assert reward == 1.0 and all(a.startswith("<think>") for a in actions)  # the oracle is well-formed
    fmt.reset(seed=2)
    _, reward, *_ = fmt.step(f"<answer>{fmt.question.answer}</answer>")  # right answer, no <think>
    assert reward == pytest.approx(0.8)
    fmt.reset(seed=2)
    _, reward, *_ = fmt.step("<think>guess</think><answer>surely not this</answer>")  # well-formed, wrong
    assert reward == pytest.approx(0.2)
    fmt.reset(seed=2)
    fmt.step("no tags at all")
    _, reward, *_ = fmt.step("<think>guess</think><answer>surely not this</answer>")  # an invalid turn breaks the format
    assert reward == pytest.approx(0.1)


def test_built_directory_plays_the_same_tasks(tmp_path):
    build_directory(tmp_path / "d", size="tiny", show_progress=False)
    built = SearchQAEnv(index_dir=tmp_path / "d", split="test", expert=True)
    generated = SearchQAEnv(size="tiny", split="test", expert=True)
    assert built.task_ids() == generated.task_ids()
    for task_id in built.task_ids()[:25]:
        a = _play(built, oracle, options={"task_id": task_id})
        b = _play(generated, oracle, options={"task_id": task_id})
        assert a[2] == b[2] and a[1]["won"]


def test_remote_retriever_gives_the_same_observations(server_url):
    remote = SearchQAEnv(size="small", retriever_url=server_url, split="test", expert=True)
    local = SearchQAEnv(size="small", split="test", expert=True)
    for task_id in local.task_ids()[:20]:
        assert _play(remote, oracle, options={"task_id": task_id})[2] == _play(local, oracle, options={"task_id": task_id})[2]


def test_real_corpus_and_flashrag_questions(tmp_path):
    corpus = tmp_path / "wiki.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in [
        {"id": "0", "contents": '"Paris"\nParis is the capital and largest city of France.'},
        {"id": "1", "contents": '"Lyon"\nLyon is a city in France on the Rhone.'},
        {"id": "2", "contents": '"Berlin"\nBerlin is the capital of Germany.'},
        {"id": "3", "contents": '"Rhone"\nThe Rhone is a river of Switzerland and France.'},
    ]) + "\n")
    questions = tmp_path / "nq.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "what is the capital of germany", "golden_answers": ["Berlin"]}) + "\n")
    env = SearchQAEnv(corpus_path=corpus, questions_path=questions, expert=True)
    reward, info, observations, actions, _ = _play(env, oracle, seed=0)
    assert actions == ["<search>what is the capital of germany</search>", "<answer>Berlin</answer>"]
    assert observations[1].startswith('<information>Doc 1(Title: "Berlin") Berlin is the capital of Germany.') and reward == 1.0
    assert exact_match("the berlin", info["golden_answers"])
    with pytest.raises(ValueError, match="needs the corpus"):
        SearchQAEnv(questions_path=questions)
