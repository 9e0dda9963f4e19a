"""MathTool's answer checking: \\boxed{} extraction, math-verify with sympy and text fallbacks, keys."""

from __future__ import annotations

import pytest

from turngym.envs.mathtool import grading
from turngym.envs.mathtool.data import _champ
from turngym.envs.mathtool.tools import find_code, has_open_code, truncate_output


@pytest.mark.parametrize("text,want", [
    ("so \\boxed{42}.", "42"),
    ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
    ("\\fbox{7}", "7"),
    ("\\boxed 5 apples", "5"),
    ("\\boxed{unclosed", None),
    ("no box", None),
])
def test_last_boxed(text, want):
    assert grading.last_boxed(text) == want


@pytest.mark.parametrize("gold,pred,equal", [
    ("239", "239", True),
    ("-27", "-27.0", True),
    ("138/583", "\\frac{138}{583}", True),
    ("\\dfrac{907}{936}", "907/936", True),
    ("0.75", "3/4", True),
    ("2^(n-1)", "2^{n-1}", True),
    ("n(n+1)*2^(n-2)", "n(n+1)2^{n-2}", True),
    ("n(n+1)*2^(n-2)", "2**(n-2)*n*(n + 1)", True),
    ("No", "no", True),
    ("No", "\\text{No}", True),
    ("No", "Yes", False),
    ("239", "240", False),
    ("2^(n-1)", "2^n", False),
    ("5", "", False),
])
def test_answers_equal(gold, pred, equal):
    assert grading.answers_equal(gold, pred) is equal


@pytest.mark.parametrize("hostile", ["9^9^9^9", "10^{10^{10}}", "2**99999999", "9!!", "1000!", "x" * 500, "\\frac{" * 300])
def test_hostile_answers_are_wrong_without_being_evaluated(hostile):
    assert not grading.is_safe(hostile) or len(hostile) <= grading.MAX_ANSWER_CHARS
    assert grading.answers_equal("3", hostile) is False
    assert grading.answer_key(hostile) is not None  # a text key, never an evaluation


@pytest.mark.parametrize("attack", [
    "__import__('os').system('touch /tmp/mathtool-grader-pwned')",
    "eval(chr(95)+chr(95)+chr(105))",
    "().__class__.__bases__[0].__subclasses__()",
    "open(chr(47))",
    "x.func",
    "exec(compile(chr(49), chr(120), chr(101)))",
])
def test_answers_that_are_code_never_reach_eval(attack, tmp_path):
    assert not grading.is_safe(attack)
    assert grading.answers_equal("1", attack) is False
    assert grading.answer_key(attack) == grading.normalize_text(attack)
    import os

    assert not os.path.exists("/tmp/mathtool-grader-pwned")


def test_answer_keys_merge_equal_values():
    assert grading.answer_key("0.5") == grading.answer_key("\\frac{1}{2}") == grading.answer_key("1/2")
    assert grading.answer_key("2") != grading.answer_key("3")
    assert grading.answer_key("No") == grading.answer_key("no.")
    assert grading.answer_key(None) is None and grading.answer_key("  ") is None


def test_champ_keeps_only_checkable_answers():
    splits = _champ()
    kept = splits["train"] + splits["test"]
    assert 100 < len(kept) < 270 and len(splits["test"]) >= 20
    assert all(grading.is_checkable(a) for _, _, a in kept)
    assert not grading.is_checkable("At least 1 number") and not grading.is_checkable("0 is the only possible value")
    assert grading.is_checkable("No") and grading.is_checkable("2^(n-1)") and grading.is_checkable("239")
    assert not {i for i, _, _ in splits["train"]} & {i for i, _, _ in splits["test"]}


def test_code_blocks_and_truncation():
    assert find_code("a\n```python\nx = 1\n```\nb\n```python\nprint(x)\n```").code == "print(x)"
    assert find_code("```python\n    a = 1\n    if a:\n        b = 2\n```").code == "a = 1\nif a:\n    b = 2"
    assert find_code("<code>\n```python\nprint(1)\n```\n</code>", "retool").code == "print(1)"
    assert find_code("<code>print(2)</code>", "retool").code == "print(2)"
    assert find_code("```py\nprint(1)\n```") is None and find_code("no code") is None
    assert has_open_code("```python\nx = 1") and not has_open_code("```python\nx = 1\n```")
    assert truncate_output("x" * 256) == "x" * 256
    assert truncate_output("a" * 200 + "b" * 200) == "a" * 128 + "..." + "b" * 128
    with pytest.raises(ValueError):
        truncate_output("x", -1, 3)
