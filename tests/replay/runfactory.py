"""Real runs for the replay tests: KeyDoor episodes played by the rollout engine, then training
fields filled the way a trainer would (synthetic values, real store API), a tokenizer, metrics."""

from __future__ import annotations

import json
import random
from pathlib import Path

from turngym.agents.rollout import RolloutEngine, make_tasks
from turngym.agents.scripted import OracleAgent, RandomAgent
from turngym.core.episode import Episode
from turngym.store import EpisodeStore

_CORPUS = [
    "look",
    "go",
    "north",
    "go",
    "south",
    "go",
    "east",
    "go",
    "west",
    "take",
    "key",
    "open",
    "door",
    "you",
    "are",
    "in",
    "the",
    "room",
    "there",
    "is",
    "a",
    "key",
    "here",
    "your",
    "hands",
    "are",
    "empty",
    "you",
    "carry",
    "the",
    "key",
    "the",
    "door",
    "is",
    "locked",
    "exits",
    "north",
    "south",
    "east",
    "west",
    "center",
]


def build_tokenizer(path: Path) -> None:
    """A small byte-level BPE saved as an HF tokenizer directory (no download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    rng = random.Random(0)
    tok.train_from_iterator(
        [" ".join(rng.choices(_CORPUS, k=12)) for _ in range(400)], trainer
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    path.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(path))


def fill_training_fields(
    episodes: list[Episode], tokenizer_dir: Path | None, seed: int = 0
) -> None:
    """What the trainer writes: token ids/logprobs/mask at rollout time, advantages etc. after."""
    rng = random.Random(seed)
    tok = None
    if tokenizer_dir is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    for ep in episodes:
        for t in ep.turns:
            ids = (
                tok.encode(t.action + "<|endoftext|>")
                if tok is not None
                else [rng.randrange(300) for _ in range(5)]
            )
            n = len(ids)
            t.response_token_ids = ids
            t.rollout_logprobs = [-rng.random() * 2 for _ in range(n)]
            t.trainer_logprobs = [lp + rng.gauss(0, 0.1) for lp in t.rollout_logprobs]
            t.loss_mask = [1] * (n - 1) + [0]
            t.advantage = (
                (1.0 if ep.won else -1.0) * rng.random()
                if t.index % 2 == 0
                else [rng.gauss(0, 1) for _ in range(n)]
            )
            t.clip_scale = 1.0
            t.step_reward = rng.random()
            t.entropy = rng.random()
            t.prompt = [
                {"role": "system", "content": "You play KeyDoor."},
                {"role": "user", "content": t.observation},
            ]


def make_run(
    root: Path,
    *,
    num_tasks: int = 6,
    group_size: int = 4,
    tokenizer: bool = True,
    run_id: str = "run-a",
) -> Path:
    """A run directory with real KeyDoor episodes (random player groups + one oracle group), training fields, metrics.jsonl and config.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    tok_dir = root / "policy" if tokenizer else None
    if tok_dir is not None:
        build_tokenizer(tok_dir)
    with RolloutEngine("KeyDoor-v0", RandomAgent(seed=0), num_envs=4) as engine:
        episodes = engine.run(
            make_tasks(num_tasks), group_size=group_size, run_id=run_id, step=0
        )
    with RolloutEngine(
        "KeyDoor-v0", OracleAgent(), num_envs=2
    ) as engine:  # winners, for success filters
        episodes += engine.run(
            make_tasks(1, seed=100), group_size=2, run_id=run_id, step=0
        )
    fill_training_fields(episodes, tok_dir)
    with EpisodeStore(root) as store:
        store.set_run(run_id, {"algo": {"name": "gigpo", "gamma": 0.9}})
        store.write(episodes)
    with (root / "metrics.jsonl").open("w") as fh:
        for step in range(12):
            fh.write(
                json.dumps(
                    {
                        "step": step,
                        "success": min(1.0, 0.1 + 0.07 * step),
                        "reward_mean": 0.1 + 0.06 * step,
                        "turns_mean": 12 - 0.5 * step,
                        "invalid_rate": 0.2 / (1 + step),
                        "kl": 0.001 * step,
                        "clip_frac": 0.05 + 0.01 * (step % 3),
                        "loss": 1.0 / (1 + step),
                    }
                )
                + "\n"
            )
    (root / "config.yaml").write_text("algo:\n  name: gigpo\n  gamma: 0.9\n")
    return root
