"""Prompt templates need no engine: they are plain strings over the env's observations."""

from __future__ import annotations

import pytest

from turngym.envs.alfworld.prompts import (
    format_admissible,
    parse_action,
    react_prompt,
    room_description,
    task_description,
    verl_agent_prompt,
)

RESET_OBS = (
    "-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, "
    "you see a cabinet 1, and a desk 1.\n\nYour task is to: put a mug in desk."
)


def test_task_and_room_are_split_out_of_the_reset_text() -> None:
    assert task_description(RESET_OBS) == "put a mug in desk."
    room = room_description(RESET_OBS)
    assert room.startswith("You are in the middle of a room.") and "task" not in room and "Welcome" not in room


def test_first_turn_has_no_history_and_drops_help() -> None:
    prompt = verl_agent_prompt("put a mug in desk.", "You see a desk 1.", ["go to desk 1", "help", "look"])
    assert "Prior to this step" not in prompt
    assert "'go to desk 1',\n 'look'" in prompt and "'help'" not in prompt
    assert "<think> </think>" in prompt and "<action> </action>" in prompt


def test_history_shows_last_k_with_global_step_numbers() -> None:
    history = [(f"obs{i}", f"act{i}") for i in range(1, 6)]
    prompt = verl_agent_prompt("t", "now", ["look"], history, history_length=2)
    assert "already taken 5 step(s)" in prompt and "most recent 2 observations" in prompt
    assert "[Observation 4: 'obs4', Action 4: 'act4']" in prompt and "[Observation 5: 'obs5', Action 5: 'act5']" in prompt
    assert "obs3" not in prompt and "You are now at step 6" in prompt


def test_react_prompt_lists_history_and_actions() -> None:
    prompt = react_prompt("t", "now", ["look", "help", "go to desk 1"], [("o1", "look")])
    assert "Observation: o1\nAction: look\nObservation: now" in prompt
    assert "Admissible actions: look, go to desk 1" in prompt


@pytest.mark.parametrize(
    ("text", "style", "expected"),
    [
        ("<think>find the mug</think><action>go to desk 1</action>", "verl_agent", ("go to desk 1", True)),
        ("<action>go to desk 1</action>", "verl_agent", ("go to desk 1", False)),
        ("<think>a</think><action>look</action><action>inventory</action>", "verl_agent", ("inventory", False)),
        ("no tags at all", "verl_agent", ("", False)),
        ("Thought: the mug may be on the desk.\nAction: go to desk 1\n", "react", ("go to desk 1", True)),
        ("Thought: hmm", "react", ("", False)),
    ],
)
def test_parse_action(text: str, style: str, expected: tuple[str, bool]) -> None:
    assert parse_action(text, style=style) == expected


def test_parse_action_rejects_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown prompt style"):
        parse_action("x", style="json")


def test_format_admissible_keeps_help_on_request() -> None:
    assert format_admissible(["help"], drop_help=False) == "'help'"
