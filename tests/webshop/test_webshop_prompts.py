"""verl-agent's WebShop prompt, and ``template: auto`` picking it for WebShop envs."""

from __future__ import annotations

from turngym.agents.prompting import HistoryStep, resolve_template
from turngym.envs.webshop.prompts import available_actions, extract_task, format_obs, verl_agent_prompt

TASK = "i need a gluten free cake mix, and price lower than 40.00 dollars"
LANDING = f"WebShop [SEP] Instruction: [SEP] {TASK} [SEP] Search"
RESULTS = f"Instruction: [SEP] {TASK} [SEP] Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] B0X [SEP] Cake Mix [SEP] $5.0"


def test_observation_formatting_follows_verl_agent() -> None:
    assert extract_task(LANDING) == TASK and extract_task(RESULTS) == TASK
    assert format_obs(LANDING, TASK) == "'Search'"
    assert format_obs(RESULTS, TASK).startswith("'Back to Search' [SEP] 'Page 1 (Total results: 50)' [SEP] 'Next >'")
    assert available_actions([f"search[{TASK}]"]) == ["search[<your query>]", "click[search]"]
    assert available_actions(["click[back to search]", "click[b0x]"]) == ["click[back to search]", "click[b0x]"]


def test_prompt_with_and_without_history() -> None:
    first = verl_agent_prompt(TASK, LANDING, [f"search[{TASK}]"])
    assert f"Your task is to: {TASK}." in first and "'search[<your query>]',\n'click[search]'," in first and "Prior to this step" not in first
    later = verl_agent_prompt(TASK, RESULTS, ["click[b0x]"], [(LANDING, "search[cake mix]")])
    assert "already taken 1 step(s)" in later and "[Observation 1: ''Search'', Action 1: 'search[cake mix]']" in later
    assert "You are now at step 2" in later and "<think> </think>" in later and "<action> </action>" in later


def test_auto_template_resolves_to_the_webshop_prompt() -> None:
    template = resolve_template("auto", env_id="WebShop-v0")
    messages = template(TASK, [HistoryStep(LANDING, "search[cake mix]")], RESULTS, ["click[b0x]"])
    assert messages[-1]["role"] == "user" and "WebShop e‑commerce environment" in messages[-1]["content"]
    assert "'click[b0x]'," in messages[-1]["content"]
