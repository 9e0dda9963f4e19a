"""Answer checks: exact match and F1 with the SQuAD / Search-R1 normalisation, and Search-R1's
format-shaped reward.

``normalize_answer`` lower-cases, drops punctuation, the articles a/an/the and extra spaces, in
that order (the SQuAD evaluation script's order, which Search-R1 reuses). ``exact_match`` and
``f1_score`` take a prediction and every accepted answer and return the best match; they are the
public answer check other envs (e.g. a multi-agent discussion over these questions) call.

The shaped variant follows Search-R1's ``qa_em_format``: a whole trajectory whose tags follow
``(<think>…</think>(<search>…</search><information>…</information>)*)…<think>…</think><answer>…</answer>``
is *well-formed*; then a right answer scores ``score``, a wrong one ``structure_format_score``
(plus ``retrieval_score`` when an answer string appeared in the retrieved information); a
malformed trajectory with a right answer loses ``structure_format_score`` and with a wrong one
gets ``final_format_score``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_TAGS = ("think", "search", "information", "answer")
_TAG_RE = re.compile(r"(</?(?:think|search|information|answer)>)")


def normalize_answer(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, answers: Iterable[str]) -> bool:
    """True when the normalised prediction equals one normalised answer."""
    pred = normalize_answer(prediction)
    return any(pred == normalize_answer(a) for a in answers)


def f1_score(prediction: str, answers: Iterable[str]) -> float:
    """Best token-level F1 against the answers (SQuAD; yes/no/noanswer must match exactly)."""
    pred = normalize_answer(prediction)
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer)
        if pred in ("yes", "no", "noanswer") or gold in ("yes", "no", "noanswer"):
            best = max(best, float(pred == gold))
            continue
        p, g = pred.split(), gold.split()
        common = Counter(p) & Counter(g)
        same = sum(common.values())
        if same == 0:
            continue
        precision, recall = same / len(p), same / len(g)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def is_valid_sequence(text: str) -> bool:
    """Search-R1's tag grammar over a trajectory (agent turns and information blocks joined)."""
    for tag in _TAGS:
        if text.count(f"<{tag}>") != text.count(f"</{tag}>"):
            return False
    state = "start"
    moves = {
        ("<think>", "start"): "in_think", ("<think>", "information"): "in_think",
        ("</think>", "in_think"): "after_think", ("<search>", "after_think"): "in_search",
        ("</search>", "in_search"): "after_search", ("<information>", "after_search"): "in_information",
        ("</information>", "in_information"): "information", ("<answer>", "after_think"): "in_answer",
        ("</answer>", "in_answer"): "end",
    }
    for part in _TAG_RE.split(text):
        if not part.strip():
            continue
        if _TAG_RE.fullmatch(part):
            nxt = moves.get((part, state))
            if nxt is None:
                return False
            state = nxt
        elif state not in ("in_think", "in_search", "in_information", "in_answer"):
            return False
    return state == "end"


def retrieval_hit(information: Iterable[str], answers: Iterable[str]) -> bool:
    """Whether a normalised answer occurs inside any retrieved information block."""
    blocks = [normalize_answer(b) for b in information]
    return any(normalize_answer(a) in b for a in answers for b in blocks)


@dataclass(frozen=True)
class FormatReward:
    """Search-R1's shaped EM reward (``qa_em_format``) with its published defaults."""

    score: float = 1.0
    structure_format_score: float = 0.2
    final_format_score: float = 0.1
    retrieval_score: float = 0.1

    def __call__(self, trajectory: str, answer: str | None, answers: list[str], information: list[str]) -> float:
        valid = is_valid_sequence(trajectory)
        hit = valid and retrieval_hit(information, answers)
        partial = self.structure_format_score + (self.retrieval_score if hit else 0.0)
        if answer is None:
            return partial if valid else 0.0
        if exact_match(answer, answers):
            return self.score if valid else self.score - self.structure_format_score
        return partial if valid else self.final_format_score


REWARDS = ("em", "f1", "em_format")
