"""Credit assignment on KeyDoor: how many episodes each estimator needs to solve recurring-state tasks.

A tabular softmax policy (one logit per admissible action of each state, no LLM) is trained on
``KeyDoor-v0`` with ``hint=False``: the observation no longer says where the key or the door is, so
the policy must learn each task's map, and the only learning signal is the win at the end. The
state is (task, anchor): rooms recur inside an episode and across the G rollouts of a task, which
is exactly the case GiGPO's anchor groups are built for. Every estimator gets the same batches
shape (tasks × G rollouts), the same policy-gradient step and learning rate, and several seeds; a
seed fixes the task subset and the sampling, so estimators are compared on paired runs.

Reported per estimator: episodes until the on-policy success rate of a batch first reaches the
threshold (median and per-seed), and the final sampled and greedy success. MatchTIR and A²TGPO
need tool calls / a ground-truth answer and do not apply to this env. OPRL uses a tabular implicit
PRM (the same construction as ``turngym.algos.oprl.ImplicitPRM``: a copy of the policy trained
with the trajectory-level DPO loss, step reward ``β·(log π_φ − log π_old)``). The PRM's gradient
carries β², so its step size is large; with a PRM that cannot keep up, the step reward degenerates
into ``−β·log π_old`` (a surprisal bonus) and learning stalls (``--prm-lr 0`` shows it).
The win reward is 10, as verl-agent uses for ALFWorld; unnormalised estimators (RLOO, GiGPO
``mean_norm``, OPRL with RLOO levels) therefore take larger steps at the same learning rate.

    .venv/bin/python benchmarks/credit_assignment.py [--seeds 5] [--iters 60] [--quick]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import turngym
from turngym.algos import TurnTable, compute_advantages
from turngym.algos.oprl import normalize_step_rewards

ACTIONS = ["look", "go north", "go south", "go west", "go east", "take key", "open door"]
A_INDEX = {a: i for i, a in enumerate(ACTIONS)}

ESTIMATORS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "grpo": ("grpo", "paper", {}),
    "grpo (step rows)": ("grpo", "reference", {}),
    "rloo": ("rloo", "paper", {}),
    "reinforce_pp (γ=0.95)": ("reinforce_pp", "paper", {"gamma": 0.95}),
    "gigpo mean_std_norm": ("gigpo", "reference", {"mode": "mean_std_norm"}),
    "gigpo mean_norm": ("gigpo", "reference", {"mode": "mean_norm"}),
    "aem (base gigpo)": ("aem", "reference", {"base": "gigpo", "base_params": {"mode": "mean_std_norm"}, "lam": 1.0}),
    "oprl (rloo levels)": ("oprl", "reference", {}),
    "oprl (paper, grpo levels)": ("oprl", "paper", {"levels": "grpo"}),
}


@dataclass
class Tabular:
    """Softmax over the admissible actions of each state; logits start at 0 (uniform policy)."""

    theta: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ACTIONS))))
    index: dict[Any, int] = field(default_factory=dict)

    def state(self, key: Any) -> int:
        s = self.index.get(key)
        if s is None:
            s = self.index[key] = len(self.index)
            if s >= len(self.theta):
                self.theta = np.vstack([self.theta, np.zeros((max(64, len(self.theta)), len(ACTIONS)))])
        return s

    def probs(self, s: np.ndarray, mask: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        z = np.where(mask, (self.theta if theta is None else theta)[s], -np.inf)
        z = z - z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=-1, keepdims=True)


def grad_logp(pol: Tabular, theta: np.ndarray, s: np.ndarray, a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """∂ log π(a|s) / ∂θ[s, :] = onehot(a) − π(·|s), one row per sample."""
    g = -pol.probs(s, mask, theta)
    g[np.arange(len(a)), a] += 1.0
    return g


def rollouts(env: Any, pol: Tabular, tasks: list[str], G: int, rng: np.random.Generator, greedy: bool = False) -> dict[str, np.ndarray]:
    cols: dict[str, list[Any]] = {k: [] for k in ("group", "traj", "turn", "reward", "anchor", "s", "a", "mask", "won")}
    traj = 0
    for g, task in enumerate(tasks):
        for _ in range(G):
            _, info = env.reset(options={"task_id": task})
            t, done, won = 0, False, False
            start = len(cols["traj"])
            while not done:
                mask = np.zeros(len(ACTIONS), dtype=bool)
                mask[[A_INDEX[x] for x in info["admissible_actions"]]] = True
                s = pol.state((task, info["anchor"]))
                p = pol.probs(np.array([s]), mask[None])[0]
                a = int(np.argmax(p)) if greedy else int(rng.choice(len(ACTIONS), p=p))
                anchor = info["anchor"]
                _, r, term, trunc, info = env.step(ACTIONS[a])
                for k, v in (("group", g), ("traj", traj), ("turn", t), ("reward", r), ("anchor", anchor), ("s", s), ("a", a), ("mask", mask)):
                    cols[k].append(v)
                t += 1
                done = term or trunc
                won = won or bool(info.get("won"))
            cols["won"].extend([float(won)] * (len(cols["traj"]) - start))
            traj += 1
    out = {k: np.asarray(v) for k, v in cols.items()}
    out["anchor"] = np.asarray(cols["anchor"], dtype=object)
    return out


def train(label: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    name, preset, params = ESTIMATORS[label]
    env = turngym.make("KeyDoor-v0", hint=False, win_reward=10.0)  # hint=False: the map must be learned
    task_rng = np.random.default_rng(seed)
    tasks = list(task_rng.choice(env.task_ids("train"), size=args.tasks, replace=False))
    rng = np.random.default_rng(1000 + seed)
    pol = Tabular()
    prm: np.ndarray | None = None
    episodes, reached, curve = 0, None, []
    for it in range(args.iters):
        b = rollouts(env, pol, tasks, args.G, rng)
        n_ep = args.tasks * args.G
        episodes += n_ep
        success = float(b["won"][np.r_[True, b["traj"][1:] != b["traj"][:-1]]].mean())
        curve.append(success)
        if reached is None and success >= args.threshold:
            reached = episodes
        theta_old = pol.theta.copy()
        probs = pol.probs(b["s"], b["mask"])
        entropy = -np.sum(np.where(probs > 0, probs * np.log(np.where(probs > 0, probs, 1.0)), 0.0), axis=-1)
        extra: dict[str, np.ndarray] = {"entropy": entropy}
        if name == "oprl":
            if prm is None or len(prm) < len(pol.theta):
                prm = np.vstack([prm if prm is not None else np.zeros((0, len(ACTIONS))), np.zeros((len(pol.theta) - (0 if prm is None else len(prm)), len(ACTIONS)))])
            logp_phi = np.log(pol.probs(b["s"], b["mask"], prm)[np.arange(len(b["a"])), b["a"]])
            logp_old = np.log(probs[np.arange(len(b["a"])), b["a"]])
            raw = args.beta * (logp_phi - logp_old)
            extra["step_reward"] = normalize_step_rewards(raw, b["traj"], b["turn"])
            prm = dpo_step(pol, prm, b, raw, args)
        table = TurnTable(group=b["group"], traj=b["traj"], turn=b["turn"], reward=b["reward"], anchor=b["anchor"], outcome=b["won"], **extra)
        adv = compute_advantages(name, table, preset, **params).advantage
        g = grad_logp(pol, theta_old, b["s"], b["a"], b["mask"]) * adv[:, None]
        np.add.at(pol.theta, b["s"], args.lr * g / n_ep)  # mean over episodes of Σ_t A·∇log π
    greedy = rollouts(env, pol, tasks, 1, rng, greedy=True)
    first = np.r_[True, greedy["traj"][1:] != greedy["traj"][:-1]]
    return {"episodes": reached, "final": float(np.mean(curve[-3:])), "greedy": float(greedy["won"][first].mean()), "curve": curve}


def dpo_step(pol: Tabular, prm: np.ndarray, b: dict[str, np.ndarray], raw: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """One gradient step of ``−log σ(Q(τ⁺) − Q(τ⁻))`` over all (win, loss) pairs of each task group,
    Q = mean step reward of a trajectory (reference)."""
    n_traj = int(b["traj"].max()) + 1
    counts = np.bincount(b["traj"], minlength=n_traj)
    q = np.bincount(b["traj"], weights=raw, minlength=n_traj) / counts
    first = np.r_[True, b["traj"][1:] != b["traj"][:-1]]
    grp, won = b["group"][first], b["won"][first]
    better = (grp[:, None] == grp[None, :]) & (won[:, None] > won[None, :])
    if not better.any():
        return prm
    sig = 1.0 / (1.0 + np.exp(q[:, None] - q[None, :]))  # σ(−(Q+ − Q−))
    dq = np.where(better, -sig, 0.0).sum(1) - np.where(better, -sig, 0.0).sum(0)  # ∂L/∂Q per trajectory
    dq /= better.sum()
    g = grad_logp(pol, prm, b["s"], b["a"], b["mask"]) * (args.beta * dq[b["traj"]] / counts[b["traj"]])[:, None]
    prm = prm.copy()
    np.add.at(prm, b["s"], -args.prm_lr * g)
    return prm


def main() -> None:
    ap = argparse.ArgumentParser(description="credit assignment on KeyDoor (tabular softmax policy)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=60)
    ap.add_argument("--tasks", type=int, default=8)
    ap.add_argument("--G", type=int, default=8)
    ap.add_argument("--lr", type=float, default=6.0)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--prm-lr", type=float, default=500.0, help="PRM step size (its gradient carries β², hence large)")
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--only", nargs="*", default=None, help="estimator labels to run")
    ap.add_argument("--quick", action="store_true", help="2 seeds, 40 iterations")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.iters = 2, 40
    labels = args.only or list(ESTIMATORS)
    print(f"KeyDoor-v0 3x3, hint=False, state=(task, anchor); {args.tasks} tasks x G={args.G} per iteration, "
          f"{args.iters} iterations, lr {args.lr}, seeds 0..{args.seeds - 1}; threshold: batch success >= {args.threshold}")
    print(f"{'estimator':<24}{'episodes to threshold (median)':>31}{'per seed':>34}{'final':>8}{'greedy':>8}{'time':>7}")
    for label in labels:
        t0 = time.perf_counter()
        runs = [train(label, seed, args) for seed in range(args.seeds)]
        eps = [r["episodes"] for r in runs]
        median = float(np.median([e if e is not None else np.inf for e in eps]))
        med = f"{median:.0f}" if np.isfinite(median) else f">{args.iters * args.tasks * args.G}"
        per_seed = ",".join("-" if e is None else str(e) for e in eps)
        print(f"{label:<24}{med:>31}{per_seed:>34}{np.mean([r['final'] for r in runs]):>8.2f}"
              f"{np.mean([r['greedy'] for r in runs]):>8.2f}{time.perf_counter() - t0:>6.0f}s")


if __name__ == "__main__":
    main()
