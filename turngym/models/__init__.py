"""Models: tiny local Qwen2 policies (built offline in seconds) and the loader for any HF model dir."""

from turngym.models.loading import load_model, load_model_and_tokenizer, load_tokenizer
from turngym.models.tiny import CHATML_TEMPLATE, SIZES, TinySpec, build_model_dir, ensure_model_dir, train_tokenizer

__all__ = [
    "CHATML_TEMPLATE",
    "SIZES",
    "TinySpec",
    "build_model_dir",
    "ensure_model_dir",
    "load_model",
    "load_model_and_tokenizer",
    "load_tokenizer",
    "train_tokenizer",
]
