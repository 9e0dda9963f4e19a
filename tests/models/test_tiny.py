"""Tiny local models: offline build, HF loading, tokenizer agreement, ChatML, determinism."""

import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # any hub access would fail loudly instead of downloading

import pytest
import torch
from tokenizers import Tokenizer
from typer.testing import CliRunner

import turngym
from turngym.models import SIZES, build_model_dir, ensure_model_dir, load_model, load_model_and_tokenizer, load_tokenizer

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return ensure_model_dir(tmp_path_factory.getbasetemp() / "tiny-model", "tiny", seed=0)


def _env_texts() -> list[str]:
    texts = []
    for env_id in ("KeyDoor-v0", "ToolCalc-v0"):
        env = turngym.make(env_id, expert=True)
        for seed in range(3):
            obs, info = env.reset(seed=seed)
            texts.append(obs)
            texts.extend(info["admissible_actions"])
            obs, *_ = env.step(info["expert_action"])
            texts.append(obs)
    return texts


STRINGS = [
    "",
    "go north",
    "calculate[12*7+5] answer[89]",
    "It's what they'll do; I'D say 12345 + 0.25",
    "Café naïve Zürich — «quotes» ‘single’ 中文字符 日本語 한국어 😀🔑",
    "e\u0301 composed vs é precomposed",  # NFC normalisation, as Qwen2
    "tabs\tand   spaces   \n\n\nnewlines\r\n",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "<think>plan</think><action>go to fridge 1</action>",
    '<tool_call>{"name": "calculate", "arguments": {"expression": "1+2"}}</tool_call>',
    "```python\nprint(sum(range(10)))\n```",
    "zqxj unseen wörds ÿ\x00\x01 bytes",
]


def test_directory_loads_with_auto_classes(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in tiny_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"} <= names
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, local_files_only=True)
    tok = AutoTokenizer.from_pretrained(tiny_dir, local_files_only=True)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.config.tie_word_embeddings is False
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight)
    n_params = sum(p.numel() for p in model.parameters())
    assert 100_000 <= n_params <= 1_000_000
    assert 1000 <= len(tok) <= 2048 == SIZES["tiny"].vocab_size
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert model.config.eos_token_id == tok.eos_token_id and model.config.pad_token_id == tok.pad_token_id
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [0, 1, 2]


@pytest.mark.parametrize("text", STRINGS + _env_texts())
def test_transformers_ids_equal_raw_tokenizer_ids(tiny_dir, text):
    raw = Tokenizer.from_file(str(tiny_dir / "tokenizer.json"))
    tok = load_tokenizer(tiny_dir)
    ids = tok.encode(text, add_special_tokens=False)
    assert ids == raw.encode(text).ids
    assert tok.decode(ids) == raw.decode(ids, skip_special_tokens=False)
    import unicodedata

    assert tok.decode(ids) == unicodedata.normalize("NFC", text)


def test_env_texts_tokenise_compactly(tiny_dir):
    """The corpus covers the env vocabulary: env text needs far fewer tokens than bytes."""
    tok = load_tokenizer(tiny_dir)
    text = "\n".join(_env_texts())
    assert len(tok.encode(text)) < len(text.encode()) / 3


def test_chat_template_renders_chatml(tiny_dir):
    tok = load_tokenizer(tiny_dir)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "go?"}, {"role": "assistant", "content": "go north"}]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ngo?<|im_end|>\n<|im_start|>assistant\ngo north<|im_end|>\n"
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    ids = tok.encode(prompt, add_special_tokens=False)
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 3  # markers are single special tokens


def test_build_is_deterministic_and_seeded(tmp_path, tiny_dir):
    again = build_model_dir(tmp_path / "again", "tiny", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "vocab.json", "merges.txt", "config.json"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes(), name
    other = build_model_dir(tmp_path / "other", "tiny", seed=1)
    assert (other / "tokenizer.json").read_bytes() == (tiny_dir / "tokenizer.json").read_bytes()
    assert (other / "model.safetensors").read_bytes() != (tiny_dir / "model.safetensors").read_bytes()
    # ensure_model_dir reuses a complete directory and rebuilds on a different seed
    assert ensure_model_dir(again, "tiny", seed=0) == again
    assert json.loads((ensure_model_dir(again, "tiny", seed=2) / "turngym_model.json").read_text())["seed"] == 2


def test_generation_is_deterministic_under_a_seed(tiny_dir):
    model, tok = load_model_and_tokenizer(tiny_dir)
    ids = torch.tensor([tok.encode("You are in the center room.")])

    def sample(seed):
        torch.manual_seed(seed)
        return model.generate(ids, max_new_tokens=12, do_sample=True, pad_token_id=tok.pad_token_id)[0].tolist()

    assert sample(3) == sample(3)
    assert sample(3) != sample(4)


def test_small_size_is_about_26m_parameters():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    spec = SIZES["small"]
    config = Qwen2Config(
        vocab_size=1700, hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers, num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads, tie_word_embeddings=False,
    )
    with torch.device("meta"):
        n = sum(p.numel() for p in Qwen2ForCausalLM(config).parameters())
    assert 22_000_000 <= n <= 30_000_000


def test_loader_never_reaches_for_the_hub(tmp_path):
    with pytest.raises((FileNotFoundError, OSError)):
        load_model(tmp_path / "missing" / "model")
    with pytest.raises((FileNotFoundError, OSError)):
        load_tokenizer(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="dtype"):
        load_model(tmp_path, dtype="int3")


def test_cli_model_init(tmp_path):
    from turngym.cli.main import app

    out = tmp_path / "m"
    result = CliRunner().invoke(app, ["model", "init", "--out", str(out), "--size", "tiny", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "parameters" in result.output
    assert json.loads((out / "turngym_model.json").read_text())["seed"] == 5
    model = load_model(out)
    assert model.config.model_type == "qwen2"
    bad = CliRunner().invoke(app, ["model", "init", "--out", str(tmp_path / "x"), "--size", "huge"])
    assert bad.exit_code == 2 and "unknown size" in bad.output
