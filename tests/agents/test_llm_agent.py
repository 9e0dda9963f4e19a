"""LLMAgent + RolloutEngine with a tiny model: complete, self-consistent episodes in both layouts."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch
from typer.testing import CliRunner

from turngym.agents.backends.base import SamplingParams
from turngym.agents.backends.hf import HFBackend
from turngym.agents.base import Agent, AgentInput
from turngym.agents.llm import BUDGET_EXHAUSTED, LLMAgent, derive_seed
from turngym.agents.prompting import Transcript, concat_sequence
from turngym.agents.rollout import RolloutEngine, make_tasks
from turngym.core.episode import Episode
from turngym.models import ensure_model_dir

torch.set_num_threads(1)
ENVS = ["KeyDoor-v0", "ToolCalc-v0"]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return ensure_model_dir(tmp_path_factory.getbasetemp() / "tiny-model", "tiny", seed=0)


@pytest.fixture(scope="module")
def backend(tiny_dir):
    return HFBackend.from_pretrained(tiny_dir)


def _rollout(agent, env_id, n=2, group=2, num_envs=4, env_kwargs=None, **kw):
    with RolloutEngine(env_id, agent, num_envs=num_envs, env_kwargs=env_kwargs or {"max_turns": 4}) as engine:
        return engine.run(make_tasks(n), group_size=group, run_id="test", **kw)


def _check_turn_tokens(tok, turn):
    ids = turn.response_token_ids
    assert ids and len(turn.loss_mask) == len(ids) == len(turn.rollout_logprobs)
    assert turn.loss_mask == [1] * len(ids)  # exactly the policy-generated tokens
    assert tok.decode(ids, skip_special_tokens=True) == turn.response_text
    assert all(lp <= 0 for lp in turn.rollout_logprobs)
    assert turn.meta["finish_reason"] in ("stop", "length") and turn.meta["response_tokens"] == len(ids)
    assert turn.meta["prompt_tokens"] == len(turn.prompt_token_ids)


@pytest.mark.parametrize("env_id", ENVS)
def test_step_layout_episodes_are_complete(backend, env_id, tmp_path):
    from turngym.store import EpisodeStore

    tok = backend.tokenizer
    agent = LLMAgent(backend, layout="step", sampling=SamplingParams(max_new_tokens=6, seed=0), history_k=2)
    assert isinstance(agent, Agent)
    with EpisodeStore(tmp_path / "run") as store:
        eps = _rollout(agent, env_id, store=store)
        stored = [store.get(e.episode_id) for e in eps]
    assert len(eps) == 4 and stored == eps  # written completely and read back identically
    for ep in eps:
        assert ep.layout == "step" and ep.error is None and (ep.terminated or ep.truncated) and ep.num_turns >= 1
        assert ep.turns[0].meta["task"]
        for k, turn in enumerate(ep.turns):
            _check_turn_tokens(tok, turn)
            assert isinstance(turn.prompt, list) and turn.prompt[-1]["role"] == "user"
            rendered = tok.apply_chat_template(turn.prompt, tokenize=False, add_generation_prompt=True)
            assert tok.encode(rendered, add_special_tokens=False) == turn.prompt_token_ids
            assert tok.decode(turn.prompt_token_ids) == rendered
            assert turn.meta["history_k"] == min(k, 2)
            for past in ep.turns[max(0, k - 2) : k]:  # the last K actions are in the prompt
                assert past.action in turn.prompt[-1]["content"]
            assert turn.action_valid == (turn.action in turn.meta["admissible_actions"])


@pytest.mark.parametrize("env_id", ENVS)
def test_concat_layout_transcripts_are_exact(backend, env_id, tmp_path):
    from turngym.store import EpisodeStore

    tok = backend.tokenizer
    transcript = Transcript(tok)
    agent = LLMAgent(backend, layout="concat", sampling=SamplingParams(max_new_tokens=6, seed=0))
    with EpisodeStore(tmp_path / "run") as store:
        eps = _rollout(agent, env_id, store=store)
        assert [store.get(e.episode_id) for e in eps] == eps
    for ep in eps:
        assert ep.layout == "concat" and ep.error is None and ep.num_turns >= 1
        first = ep.turns[0]
        assert first.prompt_token_ids == transcript.first_prompt_ids(agent.template_for(env_id)(first.meta["task"], [], first.observation, first.meta["admissible_actions"]))
        for k, turn in enumerate(ep.turns):
            _check_turn_tokens(tok, turn)
            assert tok.decode(turn.prompt_token_ids, skip_special_tokens=False) == turn.prompt
            if k:
                prev = ep.turns[k - 1]
                head = prev.prompt_token_ids + prev.response_token_ids
                assert turn.prompt_token_ids[: len(head)] == head  # never re-tokenised
                env_ids = turn.prompt_token_ids[len(head) :]
                assert len(env_ids) == turn.meta["env_tokens"]
                reply = agent.reply(turn.observation, turn.meta["admissible_actions"])
                assert tok.decode(env_ids, skip_special_tokens=False) == transcript.reply_text(prev.response_token_ids, reply)
        ids, mask, logprobs = concat_sequence(ep.turns)
        last = ep.turns[-1]
        assert ids == last.prompt_token_ids + last.response_token_ids
        policy_positions = [i for i, m in enumerate(mask) if m]
        assert [ids[i] for i in policy_positions] == [t for turn in ep.turns for t in turn.response_token_ids]
        assert [logprobs[i] for i in policy_positions] == [lp for turn in ep.turns for lp in turn.rollout_logprobs]


def test_context_budget_truncates_the_episode(backend):
    agent = LLMAgent(backend, layout="concat", sampling=SamplingParams(max_new_tokens=6, seed=0), max_prompt_tokens=420)
    eps = _rollout(agent, "KeyDoor-v0", env_kwargs={"max_turns": 15})
    for ep in eps:
        assert ep.truncated and BUDGET_EXHAUSTED in ep.error
        assert 1 <= ep.num_turns < 15 and all(len(t.prompt_token_ids) <= 420 for t in ep.turns)
    # a budget too small for even the first prompt ends the episode with no turns, still recorded
    tiny = LLMAgent(backend, layout="step", sampling=SamplingParams(max_new_tokens=6), max_prompt_tokens=10)
    eps = _rollout(tiny, "ToolCalc-v0", n=1, group=1)
    assert eps[0].truncated and eps[0].num_turns == 0 and BUDGET_EXHAUSTED in eps[0].error


def test_step_layout_drops_history_to_fit_the_budget(backend):
    agent = LLMAgent(backend, layout="step", sampling=SamplingParams(max_new_tokens=6, seed=0), history_k=3)
    full = _rollout(agent, "KeyDoor-v0", n=1, group=1, env_kwargs={"max_turns": 5})[0]
    sizes = [len(t.prompt_token_ids) for t in full.turns]
    budget = max(sizes) - 1  # the longest prompt no longer fits with its whole history
    tight = LLMAgent(backend, layout="step", sampling=SamplingParams(max_new_tokens=6, seed=0), history_k=3, max_prompt_tokens=budget)
    ep = _rollout(tight, "KeyDoor-v0", n=1, group=1, env_kwargs={"max_turns": 5})[0]
    assert all(len(t.prompt_token_ids) <= budget for t in ep.turns)
    assert any(t.meta["history_k"] < min(t.index, 3) for t in ep.turns)


def test_observations_are_truncated_to_the_token_limit(backend):
    agent = LLMAgent(backend, layout="concat", sampling=SamplingParams(max_new_tokens=4, seed=0), max_obs_tokens=8)
    ep = _rollout(agent, "ToolCalc-v0", n=1, group=1)[0]
    assert "…[truncated]" in ep.turns[0].prompt and ep.turns[0].observation not in ep.turns[0].prompt


def test_backend_errors_mark_the_episode_and_the_rollout_goes_on(tiny_dir):
    b = HFBackend.from_pretrained(tiny_dir)
    agent = LLMAgent(b, layout="concat", sampling=SamplingParams(max_new_tokens=6, seed=0), max_prompt_tokens=100_000)
    b.max_context = 420  # the real backend now rejects longer transcripts with an error completion
    eps = _rollout(agent, "KeyDoor-v0", n=3, group=1, env_kwargs={"max_turns": 15})
    assert len(eps) == 3
    for ep in eps:
        assert ep.truncated and ep.error.startswith("backend error: bad prompt") and ep.num_turns >= 1


def test_sampling_is_reproducible_regardless_of_batching(backend):
    def run(num_envs):
        agent = LLMAgent(backend, layout="step", sampling=SamplingParams(max_new_tokens=6, seed=123))
        return _rollout(agent, "KeyDoor-v0", n=3, group=2, num_envs=num_envs)

    a, b = run(1), run(6)
    assert [[t.response_token_ids for t in e.turns] for e in a] == [[t.response_token_ids for t in e.turns] for e in b]
    # the G members of a group sample differently from each other
    assert a[0].turns[0].response_token_ids != a[1].turns[0].response_token_ids
    assert a[0].turns[0].meta["seed"] == derive_seed(123, "KeyDoor-v0", 0, a[0].task_id, 0, 0, 0)


def test_one_generate_call_per_batch_and_unparsable_responses_are_invalid(backend):
    calls = []

    class Counting:
        name, per_prompt_sampling, tokenizer, max_context = "counting", True, backend.tokenizer, backend.max_context

        def generate(self, prompts, sampling):
            calls.append(len(prompts))
            return backend.generate(prompts, sampling)

    agent = LLMAgent(Counting(), projection="think_action", sampling=SamplingParams(max_new_tokens=6, seed=1))
    env_eps = [Episode(env_id="KeyDoor-v0", meta={"task_index": i, "member": 0}) for i in range(5)]
    inputs = [AgentInput(ep, "You are in the center room.", {"task": "take the key", "admissible_actions": ["look"]}) for ep in env_eps]
    actions = agent.act(inputs)
    assert calls == [5] and len(actions) == 5
    for act in actions:  # a random model does not write <think>/<action> tags: invalid, raw text sent on
        assert not act.parsed and act.action == act.response_text.strip() and act.meta["projection"]["reason"]
        assert act.stop is None
    assert agent.sampling.stop == ["</action>"]  # the projection's stop strings by default


def test_agent_rejects_bad_configuration(backend):
    with pytest.raises(ValueError):
        LLMAgent(backend, layout="tree")
    with pytest.raises(ValueError):
        LLMAgent(backend, history_k=-1)

    class NoTokenizer:
        name = "x"

    with pytest.raises(ValueError, match="tokenizer"):
        LLMAgent(NoTokenizer(), layout="concat")


@pytest.mark.parametrize("env_id,layout", [("ToolCalc-v0", "step"), ("KeyDoor-v0", "concat")])
def test_cli_rollout_with_a_policy(backend, tiny_dir, tmp_path, env_id, layout):
    from turngym.cli.main import app
    from turngym.store import EpisodeStore

    out = tmp_path / "run"
    args = ["rollout", env_id, "--policy", str(tiny_dir), "--backend", "hf", "-n", "2", "--group", "2", "--out", str(out),
            "--layout", layout, "--max-new-tokens", "6", "--sampling-seed", "3", "--threads", "1", "-e", "max_turns=3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "tokens/s" in result.output and "invalid rate" in result.output
    with EpisodeStore(out) as store:
        eps = store.query()
    assert len(eps) == 4
    for ep in eps:
        assert ep.layout == layout and ep.error is None and 1 <= ep.num_turns <= 3
        for turn in ep.turns:
            _check_turn_tokens(backend.tokenizer, turn)
        if layout == "concat":
            assert concat_sequence(ep.turns)[0][-len(ep.turns[-1].response_token_ids) :] == ep.turns[-1].response_token_ids
    bad = CliRunner().invoke(app, ["rollout", "ToolCalc-v0", "--policy", str(tmp_path / "nope"), "--out", str(out)])
    assert bad.exit_code == 2 and "does not exist" in " ".join(bad.output.split())
    bad = CliRunner().invoke(app, ["rollout", "ToolCalc-v0", "--policy", str(tiny_dir), "--backend", "tgi", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown backend" in " ".join(bad.output.split())
