"""Projections: the documented formats parse, everything else is invalid, nothing raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turngym.agents.parsing import (
    PROJECTIONS,
    PlainAction,
    Projected,
    PythonBlock,
    SearchAnswer,
    ThinkAction,
    ToolCallJSON,
    make_projection,
)

CASES = [
    # (projection, response, action, parsed)
    (PlainAction(), "go north\nand more", "go north", True),
    (PlainAction(), "\n\n  take key  \n", "take key", True),
    (PlainAction(), "   \n", "", False),
    (PlainAction(lowercase=True), "Go North", "go north", True),
    (ThinkAction(), "<think>the key is east</think><action>Go East</action>", "go east", True),
    (ThinkAction(), "<think>a</think>\n<action> open door </action>", "open door", True),
    (ThinkAction(), "<action>go east</action>", "<action>go east</action>", False),  # think required
    (ThinkAction(require_think=False), "<action>go east</action>", "go east", True),
    (ThinkAction(), "<think>a</think><action>go</action><action>look</action>", "<think>a</think><action>go</action><action>look</action>", False),
    (ThinkAction(), "<think>a</think> go east", "<think>a</think> go east", False),
    (ThinkAction(), "<think>去东边</think><action>go east</action>", "<think>去东边</think><action>go east</action>", False),
    (ThinkAction(lowercase=False), "<think>x</think><action>Go East</action>", "Go East", True),
    (ThinkAction(), "<think>x</think><action>  </action>", "<think>x</think><action>  </action>", False),
    (SearchAnswer(), "<think>hmm</think><search> who founded X </search>", "<search>who founded X</search>", True),
    (SearchAnswer(), "<answer>Ada</answer><search>q</search>", "<answer>Ada</answer>", True),
    (SearchAnswer(), "I think it is Ada", "I think it is Ada", False),
    (PythonBlock(), "Let me compute.\n```python\nprint(1+1)\n```\n", "print(1+1)", True),
    (PythonBlock(), "```python\nx=1\n```\nthen\n```python\nprint(x)\n```", "print(x)", True),
    (PythonBlock(), "The answer is 4.", "The answer is 4.", True),
    (PythonBlock(allow_no_code=False), "The answer is 4.", "The answer is 4.", False),
    (PythonBlock(), "```python\nprint(1)", "```python\nprint(1)", True),  # unterminated block = answer text
]


@pytest.mark.parametrize("projection,response,action,parsed", CASES)
def test_projection_cases(projection, response, action, parsed):
    out = projection(response)
    assert isinstance(out, Projected)
    assert (out.action, out.parsed) == (action, parsed)
    if not parsed:
        assert out.extras.get("reason")


def test_search_answer_extras():
    out = SearchAnswer()("<answer> Paris </answer>")
    assert out.extras == {"kind": "answer", "content": "Paris"}


def test_tool_calls_qwen_style():
    proj = ToolCallJSON()
    ok = proj('<tool_call>\n{"name": "calculate", "arguments": {"expression": "2*3"}}\n</tool_call>'
              '<tool_call>{"name": "search", "arguments": "{\\"q\\": \\"x\\"}"}</tool_call>')
    assert ok.parsed and ok.extras["tool_calls"] == [
        {"name": "calculate", "arguments": {"expression": "2*3"}},
        {"name": "search", "arguments": {"q": "x"}},
    ]
    assert proj("The answer is 6.") == Projected("The answer is 6.", True, {"tool_calls": []})
    assert not ToolCallJSON(require_call=True)("The answer is 6.").parsed
    for bad in ['<tool_call>{"name": "f", "arguments": [1]}</tool_call>', "<tool_call>{not json}</tool_call>",
                '<tool_call>{"arguments": {}}</tool_call>', '<tool_call>["f"]</tool_call>',
                '<tool_call>{"name": "f", "arguments": "nope"}</tool_call>']:
        out = proj(bad)
        assert not out.parsed and "malformed" in out.extras["reason"] and out.action == bad


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=200) | st.from_regex(r"(<(think|action|search|answer|tool_call)>|</(think|action|search|answer|tool_call)>|```python\n|```|\{|\}|\"|[a-z ]){0,30}", fullmatch=True))
def test_no_response_raises(text):
    for cls in PROJECTIONS.values():
        out = cls()(text)
        assert isinstance(out.action, str) and isinstance(out.parsed, bool)
        if not out.parsed:
            assert out.action == text.strip()  # the raw text still goes to the env


def test_make_projection_from_config():
    assert make_projection("plain") == PlainAction()
    assert make_projection({"name": "think_action", "require_think": False}) == ThinkAction(require_think=False)
    assert make_projection("search_answer", stop=["</answer>"]).stop == ("</answer>",)
    custom = PlainAction(lowercase=True)
    assert make_projection(custom) is custom
    with pytest.raises(ValueError, match="unknown projection"):
        make_projection("xml")
    with pytest.raises(TypeError):
        make_projection(42)
    with pytest.raises(TypeError):
        make_projection("plain", colour="red")
    assert all(p.instructions and isinstance(p.stop, tuple) for p in (cls() for cls in PROJECTIONS.values()))


def test_search_answer_keep_response_hands_the_env_the_reasoning():
    proj = make_projection({"name": "search_answer", "keep_response": True})
    out = proj("<think>first find X</think>\n<search> X </search> trailing words")
    assert out.parsed and out.action == "<think>first find X</think>\n<search> X </search>" and out.extras["content"] == "X"
    assert not proj("<think>no tag</think>").parsed
