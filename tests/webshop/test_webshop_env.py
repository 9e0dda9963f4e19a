"""WebShop-v0: the contract, determinism, reward modes, invalid input, and the acceptance sweeps."""

from __future__ import annotations

import gymnasium
import pytest

import turngym
from turngym.envs.checker import check_env
from turngym.envs.webshop.env import WebShopEnv


def play_oracle(env, index: int, split: str | None = None):
    obs, info = env.reset(options={"index": index, **({"split": split} if split else {})})
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        steps += 1
        if terminated or truncated:
            return reward, info, steps


def test_registered_and_gymnasium_make() -> None:
    assert "WebShop-v0" in [s.id for s in turngym.list_envs()]
    env = gymnasium.make("turngym/WebShop-v0", split="test")
    obs, info = env.reset(seed=1)
    assert obs.startswith("WebShop [SEP] Instruction: [SEP] ") and info["task_id"].startswith("webshop-gen1s0n1000-g1s233-")
    env.close()


def test_check_env_passes() -> None:
    report = check_env(turngym.make("WebShop-v0"), raise_on_error=False, n_fuzz=200)
    assert report.ok, str(report)


def test_info_keys_and_admissible_actions() -> None:
    env = WebShopEnv(split="test", expert=True)
    obs, info = env.reset(seed=0)
    assert info["task"] == env.goal["instruction_text"] and info["anchor"] == obs
    assert info["admissible_actions"] == [info["expert_action"]] and info["expert_action"].startswith("search[")
    assert info["available_actions"] == {"has_search_bar": True, "clickables": ["search"]}
    obs, reward, terminated, truncated, info = env.step(info["expert_action"])
    assert info["action_valid"] and not terminated and reward == 0.0
    assert "click[back to search]" in info["admissible_actions"] and info["expert_action"] in info["admissible_actions"]
    assert info["available_actions"]["has_search_bar"] is False


def test_reward_modes_score_and_success() -> None:
    graded = WebShopEnv(split="test", expert=True)
    reward, info, _ = play_oracle(graded, 3)
    assert reward == 1.0 and info["won"] and info["score"] == 100.0 and info["task_score"] == 1.0
    success = WebShopEnv(split="test", expert=True, reward_mode="success")
    reward, info, _ = play_oracle(success, 3)
    assert reward == 10.0 and info["won"]
    # buying a result that is not the goal's product: graded partial reward, success variant 0
    for env in (graded, success):
        obs, info = env.reset(options={"index": 3})
        env.step(info["admissible_actions"][0])
        other = next(p["asin"] for p in env.session.hits[:10] if p["asin"] != env.goal["asin"])
        env.step(f"click[{other.lower()}]")
        _, reward, terminated, _, info = env.step("click[buy now]")
        assert terminated and not info["won"] and 0.0 <= info["task_score"] < 1.0
        assert reward == (info["task_score"] if env is graded else 0.0)


def test_invalid_actions_change_nothing() -> None:
    env = WebShopEnv(split="test")
    obs, info = env.reset(seed=5)
    for bad in ("click[search]", "click[buy now]", "search[]", "Search[x]", "search x", "", "click[next >]", "\x00[\x00]"):
        obs2, reward, terminated, truncated, info2 = env.step(bad)
        assert not info2["action_valid"] and obs2 == obs and reward == 0.0 and not terminated, bad
    env.step(info["admissible_actions"][0])
    state = (env.session.observation("text"), env.session.url)
    for bad in ("click[description]", "click[B000000000]", "click[< prev]", "click[next]"):
        _, _, _, _, info = env.step(bad)
        assert not info["action_valid"] and (env.session.observation("text"), env.session.url) == state


def test_search_works_from_any_page_and_huge_queries_are_handled() -> None:
    env = WebShopEnv(split="test", invalid_penalty=0.1)
    obs, info = env.reset(seed=2)
    env.step(info["admissible_actions"][0])
    _, _, _, _, info = env.step(next(a for a in env.admissible_actions() if a.startswith("click[b")))
    obs, reward, _, _, info = env.step("search[" + "gluten free " * 50_000 + "]")
    assert info["action_valid"] and "Page 1 (Total results: " in obs
    obs, reward, _, _, info = env.step("search[" + "zq" * 300_000 + "]")
    assert info["action_valid"] and "(Total results: 0)" in obs
    _, reward, _, _, info = env.step("click[" + "[" * 100_000)
    assert not info["action_valid"] and reward == pytest.approx(-0.1)


def test_truncation_at_fifteen_turns() -> None:
    env = WebShopEnv(split="test")
    env.reset(seed=0)
    for t in range(1, 16):
        _, _, terminated, truncated, _ = env.step("nonsense")
    assert truncated and not terminated and t == 15


def test_same_seed_same_episode_across_instances_and_modes() -> None:
    def run(mode: str) -> list[str]:
        env = WebShopEnv(split="train", observation_mode=mode, expert=True)
        obs, info = env.reset(seed=11)
        out = [obs]
        while True:
            obs, _, terminated, truncated, info = env.step(info["expert_action"])
            out.append(obs)
            if terminated or truncated:
                return out

    for mode in ("text", "text_rich", "html", "url"):
        assert run(mode) == run(mode)
    urls = run("url")
    assert urls[0].startswith("http://127.0.0.1:3000/") and "/search_results/" in urls[1] and "/done/" in urls[-1]


def test_task_ids_pick_goals_and_bad_ids_are_clear() -> None:
    env = WebShopEnv(split="eval", num_tasks=5)
    ids = env.task_ids()
    assert len(ids) == 5 and ids[0].endswith("-500")
    _, info = env.reset(options={"task_id": ids[2]})
    assert info["task_id"] == ids[2] and env.goal_index == 502
    with pytest.raises(ValueError, match="not a task of this catalog"):
        env.reset(options={"task_id": "keydoor-1"})
    with pytest.raises(ValueError, match="observation_mode"):
        WebShopEnv(observation_mode="pixels")
    with pytest.raises(ValueError, match="reward_mode"):
        WebShopEnv(reward_mode="dense")


@pytest.mark.slow
def test_oracle_scores_100_on_the_500_test_goals() -> None:
    env = WebShopEnv(split="test", expert=True)
    rewards = [play_oracle(env, i)[1]["task_score"] for i in range(500)]
    wins = sum(r == 1.0 for r in rewards)
    assert wins >= 495, f"oracle won {wins}/500"


def test_random_clicker_never_succeeds() -> None:
    """Uniform over the admissible actions (the suggested search, then clicks): no success, and a
    score far below the oracle's 100. The graded reward gives relevant purchases partial credit
    (right type, some attributes, price), which is why this is not 0 (WebShop's rule baseline: 45.6)."""
    import numpy as np

    env = WebShopEnv(split="test")
    rng = np.random.default_rng(0)
    scores, wins = [], 0
    for i in range(60):
        obs, info = env.reset(options={"index": i})
        score = 0.0
        for _ in range(env.max_turns):
            actions = info["admissible_actions"]
            obs, reward, terminated, truncated, info = env.step(actions[int(rng.integers(len(actions)))])
            if terminated or truncated:
                score = info.get("score", 0.0)
                wins += info["won"]
                break
        scores.append(score)
    assert wins <= 1 and sum(scores) / len(scores) < 50.0
