"""Per-turn inputs that some estimators need and the rollout does not produce by itself.

- AEM: the mean token entropy of each response (recorded by the ``hf`` backend at rollout time;
  recomputed here with the policy when a backend did not report it).
- A²TGPO: the information gain of each turn, from teacher-forcing the ground-truth answer after
  the transcript up to that turn (concatenated layout: turn k+1's prompt is exactly that context).
- OPRL: step rewards from the implicit PRM, which is then updated once on the batch.
- MatchTIR: each turn's tool-call match reward against the env's gold calls.

Each function writes onto the ``Turn`` fields (``entropy``, ``info_gain``, ``step_reward``) or
returns a column, so the estimators keep reading only the ``TurnTable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from turngym.core.episode import Episode
from turngym.train.samples import build_samples, collate, length_buckets, token_logprobs


def _ground_truth(ep: Episode) -> str | None:
    for t in ep.turns:
        gt = t.info.get("ground_truth")
        if gt is not None:
            return str(gt)
    return None


def ensure_entropy(model: torch.nn.Module, episodes: Sequence[Episode], *, layout: str, pad_id: int, token_budget: int) -> int:
    """Fill ``Turn.entropy`` where the backend left it empty; returns how many turns were filled."""
    missing = [(e, t) for e in episodes for t in e.turns if t.entropy is None and t.response_token_ids]
    if not missing:
        return 0
    samples = build_samples(episodes, layout=layout, require_advantage=False)
    with torch.no_grad():
        for index in length_buckets(samples, token_budget):
            batch = collate(samples, index, pad_id)
            _, ent = token_logprobs(model, batch, with_entropy=True)
            assert ent is not None
            for r, s_idx in enumerate(index):
                for e_idx, t_idx, start, n in samples[s_idx].spans:
                    turn = episodes[e_idx].turns[t_idx]
                    if turn.entropy is None:
                        turn.entropy = float(ent[r, start:start + n].mean())
    return len(missing)


def fill_info_gain(model: torch.nn.Module, tokenizer: Any, episodes: Sequence[Episode], *, preset: str, pad_id: int) -> int:
    """``Turn.info_gain`` for every non-final turn of episodes with a ground truth."""
    from turngym.algos.info_gain import information_gain

    filled = 0
    for ep in episodes:
        gt = _ground_truth(ep)
        turns = [t for t in ep.turns if t.response_token_ids and t.prompt_token_ids is not None]
        if gt is None or len(turns) < 2:
            continue
        gt_ids = tokenizer.encode(gt, add_special_tokens=False)
        contexts = [turns[0].prompt_token_ids] + [t.prompt_token_ids for t in turns[1:]] + [turns[-1].prompt_token_ids + turns[-1].response_token_ids]
        ig = information_gain(model, contexts, gt_ids, preset=preset, pad_id=pad_id)
        for t, value in zip(turns[:-1], ig[:-1]):
            t.info_gain = float(value)
            filled += 1
    return filled


def tool_match_column(episodes: Sequence[Episode], *, preset: str) -> np.ndarray:
    """MatchTIR turn rewards, one per turn in ``TurnTable.from_episodes`` row order."""
    from turngym.algos.matchtir import turn_rewards

    out: list[float] = []
    for ep in episodes:
        gold = next((t.info.get("gold_tool_calls") for t in ep.turns if t.info.get("gold_tool_calls")), None)
        if not ep.turns:
            continue
        if gold is None:
            raise ValueError(f"episode {ep.episode_id}: MatchTIR needs info['gold_tool_calls'] from the env")
        pred = [{"tool_calls": [{"name": c["name"], "arguments": c.get("arguments", {})} for c in (t.tool_calls or [])], "answer": t.info.get("answer")} for t in ep.turns]
        out.extend(turn_rewards(pred, gold, preset=preset, gold_answer=_ground_truth(ep)).tolist())
    return np.asarray(out, dtype=np.float64)


class StepRewardModel:
    """OPRL's implicit PRM, owned by the trainer (a copy of the policy, updated once per step)."""

    def __init__(self, policy: torch.nn.Module, *, preset: str, beta: float = 0.05, lr: float = 1e-6, grad_clip: float = 10.0) -> None:
        from turngym.algos.oprl import ImplicitPRM

        self.prm = ImplicitPRM(policy, beta=beta, lr=lr, grad_clip=grad_clip, preset=preset)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.prm.model.state_dict(), "optimizer": self.prm.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.prm.model.load_state_dict(state["model"])
        self.prm.optimizer.load_state_dict(state["optimizer"])

    def fill_step_rewards(self, episodes: Sequence[Episode], *, pad_id: int) -> dict[str, float]:
        """Step rewards from the PRM before its update (as the reference does), then one update."""
        samples = build_samples(episodes, layout="step", require_advantage=False)
        if not samples:
            return {}
        batch = collate(samples, list(range(len(samples))), pad_id)
        # ImplicitPRM aligns log-probs with input_ids (position 0 predicts nothing); ours are shifted by one.
        B, T = batch.input_ids.shape
        old = torch.zeros((B, T))
        mask = torch.zeros((B, T))
        old[:, 1:] = batch.old_logprobs
        mask[:, 1:] = batch.loss_mask
        meta = np.array([samples[i].spans[0][:2] for i in range(len(samples))])  # (episode, turn)
        traj = meta[:, 0]
        turn = np.array([episodes[e].turns[t].index for e, t in meta])
        group_keys = [episodes[e].group_id or episodes[e].episode_id for e in traj]
        _, group = np.unique(np.asarray(group_keys, dtype=object).astype(str), return_inverse=True)
        outcome = np.array([episodes[e].outcome_reward for e in traj])
        rewards, stats = self.prm.step(batch.input_ids, batch.attention_mask, mask, old, traj=traj, turn=turn, group=group.reshape(-1), outcome=outcome)
        for (e, t), r in zip(meta, rewards):
            episodes[e].turns[t].step_reward = float(r)
        return {f"oprl/{k}": v for k, v in stats.items()}
