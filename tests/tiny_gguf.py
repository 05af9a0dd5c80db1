"""A tiny random Llama model that llama.cpp's own converter accepts, and its GGUF file (a second or two each).

tests/tiny_models.py's byte-level BPE tokenizer is one convert_hf_to_gguf.py refuses: it recognises BPE
pre-tokenizers by hashing how they split a fixed text, and a freshly trained vocabulary matches none. This one is
a SentencePiece-style BPE (byte fallback, "▁" for spaces, 256 byte tokens), which the converter reads as a Llama
vocabulary without that check, and llama.cpp tokenizes any text with (unknown characters fall back to bytes).
The text it writes is gibberish: tests check files, shapes and that tokens come out, never the words.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, trainers
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

from tests.tiny_models import CHATML, CORPUS

SPECIALS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<pad>"]
BYTE_TOKENS = [f"<0x{i:02X}>" for i in range(256)]


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=len(SPECIALS) + len(BYTE_TOKENS) + 200,
                                  special_tokens=SPECIALS + BYTE_TOKENS, show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                      bos_token="<|im_start|>", eos_token="<|im_end|>")
    wrapped.chat_template = CHATML
    return wrapped


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """A 2-layer Llama with hidden size 64 and a ChatML chat template, saved as a model folder."""
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=1, intermediate_size=128, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=False)
    model = AutoModelForCausalLM.from_config(config)
    ends = [tokenizer.convert_tokens_to_ids(t) for t in SPECIALS]
    with torch.no_grad():  # random weights would often end at once on a special token; make that unlikely
        model.get_output_embeddings().weight[ends] = 0.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_random_lora(base: Path, folder: Path, base_ref: str, seed: int = 0, r: int = 4) -> Path:
    """A PEFT LoRA adapter on `base` with random (non-zero) B matrices, as training saves one: its
    adapter_config.json names `base_ref` as the base model."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=["q_proj", "v_proj", "up_proj"]))
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    peft.peft_config["default"].base_model_name_or_path = base_ref
    peft.save_pretrained(folder, save_embedding_layers=False)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == base_ref
    return folder
