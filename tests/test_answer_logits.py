"""The quick answer-token loss (a shared prefix run once, the output layer on answer positions only) gives the
loss and LoRA gradients of running every row whole, for each model type it is used on; other models and wrapped
models are run whole."""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
    Qwen3Config,
)

from studio.engines import answer_logits, hf
from studio.engines.base import Tokenized

SMALL = dict(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128)
CONFIGS = {
    "llama": lambda: LlamaConfig(**SMALL),
    "mistral": lambda: MistralConfig(**SMALL, sliding_window=None),
    "qwen2": lambda: Qwen2Config(**SMALL),
    "qwen3": lambda: Qwen3Config(**SMALL, head_dim=8),
    "gemma3_text": lambda: Gemma3TextConfig(**SMALL, head_dim=8, sliding_window=64, final_logit_softcapping=None),
}
PREFIX = list(range(10, 22))  # 12 shared tokens, as a system prompt


def lora_model(config, attention: str = "eager"):
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_config(config, attn_implementation=attention).float()
    # B starts random (not zero) so every LoRA weight gets a gradient worth comparing
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                                            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "down_proj"]))
    return model.train()


def example(prompt: list[int], answer: list[int]) -> Tokenized:
    return Tokenized(prompt + answer, [-100] * len(prompt) + answer)


BATCHES = {  # name -> rows (prompt tokens, answer tokens); right-padded to the longest by hf.collate
    "shared prefix, lengths differ": [(PREFIX + [30, 31, 32], [40, 41, 42, 43]), (PREFIX + [33], [44, 45]),
                                      (PREFIX + [34, 35, 36, 37, 38], [46, 47, 48, 49, 50, 51])],
    "prefix runs up to the token before the answer": [(PREFIX + [30], [40, 41]), (PREFIX + [30], [42])],
    "prefix shorter than MIN_SHARED": [([10, 11, 12, 60, 61], [40, 41]), ([10, 11, 12, 62], [42, 43, 44])],
    "one row": [(PREFIX + [30, 31], [40, 41, 42])],
    "no shared token": [([5, 6, 7], [40, 41]), ([8, 9], [42, 43])],
}


def whole_model_loss(model, batch) -> torch.Tensor:
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             batch["labels"][:, 1:].reshape(-1), ignore_index=-100, reduction="sum")


def lora_gradients(model) -> dict[str, torch.Tensor]:
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    return grads


@pytest.mark.parametrize("model_type", sorted(CONFIGS))
@pytest.mark.parametrize("batch_name", sorted(BATCHES))
def test_quick_loss_and_gradients_equal_running_every_row_whole(model_type, batch_name):
    model = lora_model(CONFIGS[model_type]())
    batch = hf.collate([example(p, a) for p, a in BATCHES[batch_name]], pad_id=0, seq2seq=False)
    quick, count = answer_logits.answer_loss(model, batch)
    quick.backward()
    quick_grads = lora_gradients(model)
    reference = whole_model_loss(model, batch)
    reference.backward()
    reference_grads = lora_gradients(model)
    assert count == int((batch["labels"] != -100).sum())
    torch.testing.assert_close(quick, reference, rtol=1e-5, atol=1e-5)
    assert quick_grads.keys() == reference_grads.keys() and len(quick_grads) > 0
    for name in quick_grads:
        torch.testing.assert_close(quick_grads[name], reference_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_the_fused_attention_kernel_gives_the_same_loss_too():
    model = lora_model(CONFIGS["llama"](), attention="sdpa")
    batch = hf.collate([example(p, a) for p, a in BATCHES["shared prefix, lengths differ"]], pad_id=0,
                       seq2seq=False)
    with torch.no_grad():
        torch.testing.assert_close(answer_logits.answer_loss(model, batch)[0], whole_model_loss(model, batch),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows, window, expected", [
    ([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 60]], None, 9),  # answers at 10
    ([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 60]], 8, 0),  # longer than the window
    ([[1, 2, 3, 4, 50], [1, 2, 3, 4, 60]], None, 0),  # 3 shared tokens: under MIN_SHARED
    ([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50]], None, 0),  # one row
])
def test_shared_prefix_stops_before_the_token_that_predicts_an_answer(rows, window, expected):
    ids = torch.tensor(rows)
    labels = torch.full_like(ids, -100)
    labels[:, 10:] = ids[:, 10:]  # the answer starts at position 10 in every row
    assert answer_logits.shared_prefix_length(ids, labels, window) == expected


def test_other_model_types_and_wrapped_models_run_whole():
    gpt2 = get_peft_model(AutoModelForCausalLM.from_config(GPT2Config(vocab_size=97, n_embd=32, n_layer=2,
                                                                      n_head=4)),
                          LoraConfig(r=4, target_modules=["c_attn"])).eval()  # no dropout: two runs compare
    assert answer_logits.decoder_and_head(gpt2) is None
    assert answer_logits.decoder_and_head(torch.nn.Sequential(lora_model(CONFIGS["llama"]()))) is None
    capped = Gemma3TextConfig(**SMALL, head_dim=8, final_logit_softcapping=30.0)
    assert answer_logits.decoder_and_head(lora_model(capped)) is None
    # hf.batch_loss still scores such a model, the whole-model way
    batch = hf.collate([example(p, a) for p, a in BATCHES["shared prefix, lengths differ"]], pad_id=0,
                       seq2seq=False)
    with torch.no_grad():
        loss, count = hf.batch_loss(gpt2, batch, seq2seq=False)
        torch.testing.assert_close(loss, whole_model_loss(gpt2, batch), rtol=1e-5, atol=1e-5)
    assert count == 12
