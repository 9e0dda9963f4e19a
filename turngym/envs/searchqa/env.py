"""``SearchQA-v0``: question answering with a search engine, in Search-R1's protocol.

The agent reads ``Question: ...`` and acts with one of
- ``<search> query </search>``: the env answers ``<information>Doc 1(Title: "t") text\\nDoc 2...</information>``
  (top ``topk`` passages, 3 by default, in Search-R1's rendering);
- ``<answer> text </answer>``: the episode ends; reward ``em`` (1 for an exact match after
  normalisation), ``f1``, or ``em_format`` (Search-R1's format-shaped EM, :class:`FormatReward`).

An action may carry reasoning around the tag (``<think>...</think><search>q</search>``): the first
``<search>`` or ``<answer>`` block counts, as in Search-R1. Anything else is an invalid turn and
gets Search-R1's fixed message; it costs a turn and changes nothing else.

Info keys: ``ground_truth`` (the canonical answer, for A²TGPO's information gain) and
``golden_answers`` on every step; ``anchor`` = the question plus the set of passages seen so far
(two rollouts that found the same passages in a different order are in the same state);
``tool_calls`` for searches; ``answer``, ``em``, ``f1`` and ``score`` (= F1) on the answer turn.
With ``expert=True``, ``expert_action`` is the oracle's next action: search for each supporting
passage not yet shown (by the entity's name, adding the relation's words when the name alone does
not retrieve it), then answer.
"""

from __future__ import annotations

import os
import re
from typing import Any

from turngym.envs.base import InvalidAction, StepResult, TextEnv, check_choice
from turngym.envs.searchqa.dataset import SearchData, load_data
from turngym.envs.searchqa.prompts import QUESTION_PREFIX
from turngym.envs.searchqa.questions import SPLITS, Question
from turngym.envs.searchqa.retrieval import Hit, format_information
from turngym.envs.searchqa.reward import REWARDS, FormatReward, exact_match, f1_score, normalize_answer
from turngym.envs.searchqa.world import GENERATOR_VERSION

#: Search-R1's message for a turn with neither a search nor an answer (its leading and trailing
#: newlines belong to the inline transcript and are added by the agent's reply format).
INVALID_MESSAGE = (
    "My previous action is invalid. If I want to search, I should put the query between <search> and </search>. "
    "If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again."
)
_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


class SearchQAEnv(TextEnv):
    """Multi-hop QA over a generated encyclopedia (or a real wiki-18 corpus) with a search tool."""

    default_max_turns = 5
    task_version = GENERATOR_VERSION

    def __init__(
        self,
        *,
        size: str | int = "small",
        seed: int = 0,
        split: str = "train",
        topk: int = 3,
        reward: str = "em",
        format_scores: dict[str, float] | None = None,
        kinds: list[str] | tuple[str, ...] | None = None,
        retriever: str = "bm25",
        retriever_url: str | None = None,
        index_dir: str | os.PathLike[str] | None = None,
        corpus_path: str | os.PathLike[str] | None = None,
        questions_path: str | os.PathLike[str] | None = None,
        dense_model: str | None = None,
        max_turns: int | None = None,
        expert: bool = False,
        invalid_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(max_turns=max_turns, expert=expert, invalid_penalty=invalid_penalty, render_mode=render_mode)
        check_choice("split", split, SPLITS)
        check_choice("reward", reward, REWARDS)
        if not 1 <= topk <= 50:
            raise ValueError(f"topk must be in 1..50, got {topk}")
        self.data: SearchData = load_data(
            size=size, seed=seed, index_dir=index_dir, corpus_path=corpus_path, questions_path=questions_path,
            retriever=retriever, retriever_url=retriever_url, dense_model=dense_model,
        )
        self.split = split
        self.topk = topk
        self.reward_kind = reward
        self.format_reward = FormatReward(**(format_scores or {}))
        self.kinds = tuple(kinds) if kinds else None
        self._pools = {s: self._pool(s) for s in self.data.questions}
        if not self._pools.get(split):
            raise ValueError(f"no questions in split {split!r}" + (f" of kinds {self.kinds}" if self.kinds else ""))
        self.question: Question | None = None
        self._seen: list[str] = []  # passage ids shown, in order
        self._trajectory: list[str] = []  # agent actions and env replies, for the format reward
        self._information: list[str] = []
        self._expert_cache: dict[str, str] = {}

    # -- tasks ------------------------------------------------------------------------------------
    def _pool(self, split: str) -> list[int]:
        items = self.data.questions[split]
        return [i for i, q in enumerate(items) if self.kinds is None or q.kind in self.kinds]

    def task_ids(self, split: str | None = None) -> list[str]:
        split = split or self.split
        return [self._task_id(split, i) for i in self._pools.get(split, [])]

    def _task_id(self, split: str, index: int) -> str:
        return f"sqa-{self.data.name}-{split}-{index}"

    def _parse_task_id(self, task_id: str) -> tuple[str, int]:
        prefix = f"sqa-{self.data.name}-"
        rest = task_id[len(prefix):] if task_id.startswith(prefix) else None
        split, _, index = (rest or "").rpartition("-")
        if rest is None or split not in self.data.questions or not index.isdigit() or int(index) >= len(self.data.questions[split]):
            raise ValueError(f"task id {task_id!r} is not a task of this env (expected {prefix}<split>-<index>)")
        return split, int(index)

    def _reset(self, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task_id = options.get("task_id")
        if task_id is not None:
            split, index = self._parse_task_id(str(task_id))
        else:
            split = options.get("split", self.split)
            if split not in self._pools or not self._pools[split]:
                raise ValueError(f"split must be one of {sorted(self._pools)}, got {split!r}")
            index = self.rng_choice(self._pools[split])
        self.question = self.data.questions[split][index]
        self.task_id = self._task_id(split, index)
        self._seen, self._trajectory, self._information = [], [], []
        self._expert_cache = {}
        question = self.question.question
        return QUESTION_PREFIX + question, {"task": question, "question": question, "question_kind": self.question.kind}

    def task_info(self) -> dict[str, Any]:
        if self.question is None:
            return {}
        return {"ground_truth": self.question.answer, "golden_answers": list(self.question.answers)}

    def anchor(self, observation: str) -> str:
        question = self.question.question if self.question is not None else ""
        return f"{question}\nseen: {','.join(sorted(self._seen)) or '-'}"

    # -- acting -------------------------------------------------------------------------------------
    def search(self, query: str) -> list[Hit]:
        """The retriever's top-k for one query (what a search action shows)."""
        return self.data.retriever.search([query], self.topk)[0]

    def _step(self, action: str) -> StepResult:
        match = _ACTION.search(action)
        content = match.group(2).strip() if match else ""
        if not match or not content:
            self._trajectory += [action, INVALID_MESSAGE]
            raise InvalidAction(INVALID_MESSAGE)
        assert self.question is not None
        kind = match.group(1)
        last_turn = self.turn_count + 1 >= self.max_turns
        if kind == "search":
            hits = self.search(content)
            information = format_information(hits) if hits else "No results."
            obs = f"<information>{information}</information>"
            for h in hits:
                if h.doc_id not in self._seen:
                    self._seen.append(h.doc_id)
            self._trajectory += [action[: match.end()], obs]
            self._information.append(information)
            reward = 0.0
            if last_turn and self.reward_kind == "em_format":  # Search-R1 scores a trajectory without an answer too
                reward = self.format_reward("".join(self._trajectory), None, list(self.question.answers), self._information)
            call = {"name": "search", "arguments": {"query": content}, "result": [h.doc_id for h in hits]}
            return StepResult(obs, reward=reward, info={"tool_calls": [call]})
        answers = list(self.question.answers)
        em = exact_match(content, answers)
        f1 = f1_score(content, answers)
        if self.reward_kind == "em":
            reward = float(em)
        elif self.reward_kind == "f1":
            reward = f1
        else:
            reward = self.format_reward("".join(self._trajectory + [action[: match.end()]]), content, answers, self._information)
        obs = "Correct." if em else f"Wrong. The answer was {self.question.answer}."
        return StepResult(obs, reward=reward, terminated=True, won=em, info={"answer": content, "em": em, "f1": f1, "score": f1})

    # -- CheckableAnswer (turngym.envs.answers): grading a free-text answer, e.g. in a discussion ----
    def answer_spec(self) -> str:
        return "Give your final answer inside <answer> and </answer>, for example <answer> Beijing </answer>."

    def _final_answer(self, text: str) -> str | None:
        """The content of the last non-empty ``<answer>`` block (a message's final answer)."""
        found = [m.strip() for m in _ANSWER.findall(TextEnv.coerce_action(text))]
        found = [f for f in found if f]
        return found[-1] if found else None

    def check_answer(self, text: str) -> float:
        """EM (reward ``em``/``em_format``) or F1 (reward ``f1``) of the final answer in ``text``."""
        answer = self._final_answer(text)
        if answer is None or self.question is None:
            return 0.0
        answers = list(self.question.answers)
        return f1_score(answer, answers) if self.reward_kind == "f1" else float(exact_match(answer, answers))

    def answer_key(self, text: str) -> str | None:
        answer = self._final_answer(text)
        key = normalize_answer(answer) if answer is not None else ""
        return key or None

    # -- the oracle ---------------------------------------------------------------------------------
    def expert_action(self) -> str | None:
        q = self.question
        if q is None:
            return None
        think = self.reward_kind == "em_format"
        for pid, plan in zip(q.supporting, q.search_plan or ((None, ""),) * len(q.supporting)):
            if pid in self._seen:
                continue
            query = self._oracle_query(pid, plan)
            return f"<think>I need to look up {query}.</think><search>{query}</search>" if think else f"<search>{query}</search>"
        if not q.supporting and not self._seen:  # real questions: one search for the question itself
            return f"<think>Let me search.</think><search>{q.question}</search>" if think else f"<search>{q.question}</search>"
        return f"<think>I have what I need.</think><answer>{q.answer}</answer>" if think else f"<answer>{q.answer}</answer>"

    def _oracle_query(self, pid: str, plan: tuple[str | None, str]) -> str:
        """The first of (name, name + relation words, the passage's first sentence) whose results
        include the passage; checked with the env's own retriever, cached per passage."""
        if pid in self._expert_cache:
            return self._expert_cache[pid]
        title, hint = plan
        candidates = [c for c in (title, f"{title} {hint}".strip() if title else None) if c]
        index = self.data.index_of(pid)
        if index is not None:
            text = self.data.corpus.contents(index).partition("\n")[2]
            candidates.append(text.split(". ")[0])
            candidates.append(text)
        if not candidates:
            return self.question.question if self.question else ""
        chosen = candidates[-1]
        for query in dict.fromkeys(candidates):
            if pid in (h.doc_id for h in self.search(query)):
                chosen = query
                break
        self._expert_cache[pid] = chosen
        return chosen
