"""Tiny random models of every architecture family we claim, built offline in about a second.

Their text is gibberish: tests check behaviour, shapes and prompts, never the words.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    PreTrainedTokenizerFast,
    T5Config,
)

CORPUS = [
    "My name is Priya and I live in Pune.",
    "What is the waiting period for pre-existing diseases?",
    "The free look period is fifteen days from the date of receipt of the policy.",
    "Cashless claims are settled directly with the network hospital.",
    "How do I renew my policy? You can renew online before the due date.",
    "Hello! How are you today? I am fine, thank you.",
    "The no claim bonus increases the sum insured by ten percent each claim-free year.",
    "Question: Answer: Summary of the conversation so far: ### Instruction: ### Response: ### End",
] * 20

SPECIALS = ["<pad>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Folder name -> (model class, config); the names carry the hints our catalogue reads (dialogpt -> turns).
FAMILIES = ("gpt2", "gpt_neox", "llama", "t5")
FOLDER_NAMES = {"gpt2": "tiny-DialoGPT", "gpt_neox": "tiny-pythia", "llama": "tiny-llama-chat", "t5": "tiny-t5"}


def build_tokenizer(chat: bool) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                      eos_token="<|im_end|>" if chat else "<|endoftext|>",
                                      bos_token="<|im_start|>" if chat else "<|endoftext|>")
    if chat:
        wrapped.chat_template = CHATML
    return wrapped


def build_tiny_model(family: str, folder: Path, max_positions: int = 256, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(chat=family == "llama")
    vocab = len(tokenizer)
    ids = dict(pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
               bos_token_id=tokenizer.bos_token_id)
    if family == "gpt2":
        config = GPT2Config(vocab_size=vocab, n_positions=max_positions, n_embd=32, n_layer=2, n_head=2, **ids)
    elif family == "gpt_neox":
        config = GPTNeoXConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=max_positions, **ids)
    elif family == "llama":
        config = LlamaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             num_key_value_heads=1, intermediate_size=64, max_position_embeddings=max_positions,
                             **ids)
    elif family == "t5":
        config = T5Config(vocab_size=vocab, d_model=32, d_ff=64, d_kv=16, num_layers=2, num_heads=2,
                          decoder_start_token_id=tokenizer.pad_token_id, **ids)
    else:
        raise ValueError(family)
    auto = AutoModelForSeq2SeqLM if family == "t5" else AutoModelForCausalLM
    model = auto.from_config(config)
    with torch.no_grad():  # random weights would often pick pad/eos first and show nothing; make them unlikely
        model.get_output_embeddings().weight[[tokenizer.convert_tokens_to_ids(t) for t in SPECIALS]] = 0.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_all(root: Path) -> dict[str, Path]:
    return {family: build_tiny_model(family, root / FOLDER_NAMES[family]) for family in FAMILIES}
