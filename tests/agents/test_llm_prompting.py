"""Templates, the concatenated transcript's token bookkeeping, observation truncation."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

from turngym.agents.prompting import (
    TEMPLATES,
    HistoryStep,
    Transcript,
    concat_sequence,
    default_reply,
    register_template,
    resolve_template,
    truncate_text,
)
from turngym.core.episode import Turn
from turngym.models import ensure_model_dir, load_tokenizer


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return ensure_model_dir(tmp_path_factory.getbasetemp() / "tiny-model", "tiny", seed=0)


@pytest.fixture(scope="module")
def tok(tiny_dir):
    return load_tokenizer(tiny_dir)


def test_templates_render_task_history_observation_and_actions():
    task = "Your task is to: take the key in the east room, then open the door in the west room."
    obs = task + "\nYou are in the center room. Exits: north."
    for name in ("keydoor", "toolcalc", "generic"):
        messages = TEMPLATES[name]("Reply with one action.")(task, [HistoryStep("saw A", "go north")], obs, ["look", "go north"])
        assert [m["role"] for m in messages] == ["system", "user"]
        user = messages[1]["content"]
        assert f"Task: {task}" in user and "Observation 1: saw A\nAction 1: go north" in user
        assert "Current observation: You are in the center room." in user  # the task line is not repeated
        assert "Admissible actions: look, go north" in user and user.endswith("Reply with one action.")
    no_history = TEMPLATES["generic"]("x")("", [], "obs", None)
    assert "step(s)" not in no_history[1]["content"] and "Admissible" not in no_history[1]["content"]


def test_resolve_template_by_env_family_and_plugins():
    assert resolve_template("auto", env_id="KeyDoor-v0", instructions="I")("t", [], "o", None)[0]["content"].startswith("You are an agent in a small house")
    assert "calculator" in resolve_template("auto", env_id="ToolCalc-v0", instructions="I")("t", [], "o", None)[0]["content"]
    assert "text environment" in resolve_template("auto", env_id="Unknown-v3", instructions="I")("t", [], "o", None)[0]["content"]

    def mine(task, history, observation, admissible):
        return f"{task}|{len(history)}|{observation}"

    assert resolve_template(mine) is mine
    register_template("mine", lambda instructions: mine, env_prefix="MyEnv")
    try:
        assert resolve_template("auto", env_id="MyEnv-v0")("t", [], "o", None) == "t|0|o"
    finally:
        TEMPLATES.pop("mine")
    with pytest.raises(ValueError, match="unknown template"):
        resolve_template("nope")


def test_transcript_reply_continues_chatml(tok):
    tr = Transcript(tok)
    assert (tr.assistant_end, tr.user_prefix, tr.user_suffix) == ("<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n")
    first = tr.first_prompt_ids([{"role": "user", "content": "hello"}])
    assert tok.decode(first) == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
    response = tok.encode("go north", add_special_tokens=False)
    ended = response + [tok.convert_tokens_to_ids("<|im_end|>")]
    # a response cut by a stop string / length gets the end marker from the env side ...
    assert tok.decode(tr.reply_ids(response, "obs")) == "<|im_end|>\n<|im_start|>user\nobs<|im_end|>\n<|im_start|>assistant\n"
    # ... one that generated EOS itself does not get a second one
    assert tok.decode(tr.reply_ids(ended, "obs")) == "\n<|im_start|>user\nobs<|im_end|>\n<|im_start|>assistant\n"
    full = first + ended + tr.reply_ids(ended, "obs")
    rendered = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "go north"}, {"role": "user", "content": "obs"}],
        tokenize=False, add_generation_prompt=True,
    )
    assert tok.decode(full) == rendered  # the growing transcript is the chat template's own rendering


def test_transcript_without_chat_template(tok):
    import copy

    plain = copy.deepcopy(tok)
    plain.chat_template = None
    tr = Transcript(plain)
    assert not tr.chat
    assert tr.reply_text([5], "obs") == "\nobs\n"


def test_default_reply_and_truncation(tok):
    assert default_reply("o", ["a", "b"]) == "o\nAdmissible actions: a, b"
    assert default_reply("o", None) == "o"
    text = "You are in the north-west room. " * 40
    assert truncate_text(tok, text, None) == text
    short = truncate_text(tok, text, 20)
    assert short.endswith("…[truncated]") and len(tok.encode(short.removesuffix(" …[truncated]"))) == 20
    assert truncate_text(tok, "go north", 20) == "go north"


def test_concat_sequence_checks_the_layout():
    t0 = Turn(index=0, prompt_token_ids=[1, 2], response_token_ids=[3, 4], loss_mask=[1, 1], rollout_logprobs=[-0.1, -0.2])
    t1 = Turn(index=1, prompt_token_ids=[1, 2, 3, 4, 9], response_token_ids=[5], loss_mask=[1], rollout_logprobs=[-0.3])
    ids, mask, lps = concat_sequence([t0, t1])
    assert ids == [1, 2, 3, 4, 9, 5] and mask == [0, 0, 1, 1, 0, 1] and lps == [None, None, -0.1, -0.2, None, -0.3]
    assert concat_sequence([]) == ([], [], [])
    bad = Turn(index=1, prompt_token_ids=[1, 2, 7], response_token_ids=[5])
    with pytest.raises(ValueError, match="does not extend"):
        concat_sequence([t0, bad])


def test_searchqa_family_uses_the_env_packages_search_r1_prompt():
    from turngym.agents.prompting import HistoryStep, resolve_template
    from turngym.envs.searchqa.prompts import SEARCH_R1_INSTRUCTION

    template = resolve_template("auto", env_id="SearchQA-v0", instructions="ignored")
    first = template("Who wrote X?", [], "Question: Who wrote X?", None)
    assert first == [{"role": "user", "content": f"{SEARCH_R1_INSTRUCTION} Question: Who wrote X?\n"}]
    later = template("Who wrote X?", [HistoryStep("Question: Who wrote X?", "<search>X</search>")], "<information>Doc 1(Title: \"X\") ...</information>", None)
    assert later[0]["content"].endswith("<search>X</search>\n<information>Doc 1(Title: \"X\") ...</information>\n")


def test_inline_transcript_keeps_env_text_inside_the_assistant_turn(tok):
    from turngym.agents.prompting import Transcript

    chat, inline = Transcript(tok), Transcript(tok, inline=True)
    response = tok.encode("<search>X</search>", add_special_tokens=False)
    assert inline.reply_text(response, "<information>i</information>") == "\n\n<information>i</information>\n\n"
    assert chat.reply_text(response, "<information>i</information>").startswith("<|im_end|>")
