"""The text a model reads for a conversation, in its own prompt style, and the strings that end its reply.

Styles (ModelEntry.prompt_style): chat: the tokenizer's chat template; qa: "Question:/Answer:" lines with stop
strings (base models); instruction: Dolly's "### Instruction:/### Response:"; turns: DialoGPT, turns separated by
the EOS token. Training renders examples with the same functions, so a model is trained on what it is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio import memory
from studio.memory import Message

if TYPE_CHECKING:
    from studio.engines.base import LoadedModel

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and accurately."
SUMMARY_SYSTEM_PROMPT = "You write short, factual summaries of conversations."
DOLLY_INTRO = "Below is an instruction that describes a task. Write a response that appropriately completes the request."

PROMPT_STYLES = ("chat", "qa", "instruction", "turns")

STOP_STRINGS = {
    "chat": [],
    "turns": [],
    "qa": ["\nQuestion:", "\nQ:", "\nUser:"],
    "instruction": ["### End", "### Instruction:"],
}


def merge_system(messages: list[Message], system_prompt: str) -> tuple[str, list[Message]]:
    """One system text (instructions + any memory summary) and the user/assistant turns."""
    parts = [system_prompt.strip()] if system_prompt.strip() else []
    parts += [m["content"] for m in messages if m["role"] == "system"]
    return "\n\n".join(parts), [m for m in messages if m["role"] != "system"]


def render_prompt(loaded: LoadedModel, messages: list[Message], system_prompt: str, add_generation_prompt=True) -> str:
    """The text the model reads for `messages`, in the model's own prompt style."""
    return render(loaded.entry.prompt_style, loaded.tokenizer, messages, system_prompt, add_generation_prompt)


def render(style: str, tokenizer, messages: list[Message], system_prompt: str, add_generation_prompt=True) -> str:
    """render_prompt for a tokenizer and prompt style, without a loaded model (training uses this too)."""
    system, turns = merge_system(messages, system_prompt)
    if style == "chat":
        conversation = ([{"role": "system", "content": system}] if system else []) + turns
        return tokenizer.apply_chat_template(conversation, add_generation_prompt=add_generation_prompt, tokenize=False)
    if style == "turns":
        summary = [m["content"] for m in messages if m["role"] == "system"]
        eos = tokenizer.eos_token
        return "".join(text + eos for text in summary + [m["content"] for m in turns])
    if style == "instruction":
        text = DOLLY_INTRO + "\n\n" + (system + "\n\n" if system else "")
        for m in turns:
            text += (f"### Instruction:\n{m['content']}\n\n### Response:\n" if m["role"] == "user"
                     else f"{m['content']}\n\n### End\n\n")
        return text
    text = system + "\n\n" if system else ""  # qa
    for m in turns:
        text += f"Question: {m['content']}\nAnswer:" if m["role"] == "user" else f" {m['content']}\n"
    return text


def encode_prompt(tokenizer, style: str, prompt: str) -> list[int]:
    """Token ids of a rendered prompt: the tokenizer's BOS is added unless the template already wrote it
    (chat templates do) or the style has none (DialoGPT turns)."""
    bos = tokenizer.bos_token
    add_special = not (bos and prompt.startswith(bos)) and style != "turns"
    return tokenizer(prompt, add_special_tokens=add_special).input_ids


def prompts_for(loaded: LoadedModel, questions: list[str], system_prompts: str | list[str]) -> list[list[int]]:
    """Each question's prompt token ids, asked alone; `system_prompts`: one for all questions, or one per question."""
    style = loaded.entry.prompt_style
    if isinstance(system_prompts, str):
        system_prompts = [system_prompts] * len(questions)
    return [encode_prompt(loaded.tokenizer, style, render_prompt(loaded, [{"role": "user", "content": q}], system))
            for q, system in zip(questions, system_prompts)]


def history_token_counter(loaded: LoadedModel, system_prompt: str) -> memory.CountTokens:
    """Tokens that earlier turns add to the prompt, measured with the model's tokenizer and prompt style."""
    tokenizer = loaded.tokenizer
    anchor = [{"role": "user", "content": "."}]

    def length(messages: list[Message]) -> int:
        return len(tokenizer(render_prompt(loaded, messages, system_prompt, add_generation_prompt=False),
                             add_special_tokens=False).input_ids)

    base = length(anchor)
    return lambda messages: length(messages + anchor) - base if messages else 0
