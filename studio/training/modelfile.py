"""The Ollama Modelfile written beside an exported GGUF file: FROM, TEMPLATE, SYSTEM and PARAMETER stop.

A prompt format is five fixed strings around the system text and each turn (`ChatFormat`); the same value renders
the Go template Ollama reads and, in Python, the text llama.cpp is given when the export is checked, so the two
cannot drift apart. Tests compare `ChatFormat.render` with the tokenizer's own chat template (studio.engines.prompts.render).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.engines.prompts import DOLLY_INTRO, STOP_STRINGS


class FormatError(ValueError):
    """No Ollama template is known for this model's prompt format; the message names it."""


@dataclass(frozen=True)
class ChatFormat:
    name: str
    prefix: str
    """Written once at the start, with or without a system prompt."""
    system_start: str | None
    """None: the format has no system prompt (DialoGPT turns); SYSTEM is then left out of the Modelfile."""
    system_end: str
    user_start: str
    user_end: str
    """Ends a user turn and opens the assistant's reply (the generation prompt)."""
    assistant_end: str
    stop: tuple[str, ...]
    assistant_start: str = ""
    """Before an earlier reply's text (the qa style's space after "Answer:")."""

    def render(self, system: str, messages: list[dict]) -> str:
        """The prompt for `messages` (user/assistant turns) under `system`, ready for the assistant's reply."""
        text = self.prefix
        if system and self.system_start is not None:
            text += self.system_start + system + self.system_end
        for message in messages:
            if message["role"] == "user":
                text += self.user_start + message["content"] + self.user_end
            elif message["role"] == "assistant":
                text += self.assistant_start + message["content"] + self.assistant_end
        return text

    def go_template(self) -> str:
        """The same format as an Ollama (Go text/template) TEMPLATE."""
        system = ("{{ if .System }}" + self.system_start + "{{ .System }}" + self.system_end + "{{ end }}"
                  if self.system_start is not None else "")
        return (self.prefix + system + "{{ range .Messages }}{{ if eq .Role \"user\" }}" + self.user_start
                + "{{ .Content }}" + self.user_end + "{{ else if eq .Role \"assistant\" }}" + self.assistant_start
                + "{{ .Content }}"
                + self.assistant_end + "{{ end }}{{ end }}")


CHATML = ChatFormat("chatml", "", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n",
                    "<|im_end|>\n<|im_start|>assistant\n", "<|im_end|>\n", ("<|im_end|>",))
QA = ChatFormat("qa", "", "", "\n\n", "Question: ", "\nAnswer:", "\n", tuple(STOP_STRINGS["qa"]),
                assistant_start=" ")
INSTRUCTION = ChatFormat("instruction", DOLLY_INTRO + "\n\n", "", "\n\n", "### Instruction:\n",
                         "\n\n### Response:\n", "\n\n### End\n\n", tuple(STOP_STRINGS["instruction"]))


def chat_format(prompt_style: str, tokenizer) -> ChatFormat:
    """The format a model was trained in (studio.engines.prompts' prompt styles), for the Modelfile and the check."""
    if prompt_style == "chat":
        template = getattr(tokenizer, "chat_template", None) or ""
        if "<|im_start|>" in template:
            return CHATML
        raise FormatError("no Ollama template is known for this model's chat template (only ChatML, as the bundled "
                          "chat models use)")
    if prompt_style == "qa":
        return QA
    if prompt_style == "instruction":
        return INSTRUCTION
    if prompt_style == "turns":
        eos = tokenizer.eos_token
        return ChatFormat("turns", "", None, "", "", eos, eos, (eos,))
    raise FormatError(f"unknown prompt style {prompt_style!r}")


def modelfile_text(gguf_name: str, fmt: ChatFormat, system_prompt: str) -> str:
    """An Ollama Modelfile for the GGUF file `gguf_name` lying in the same folder."""
    for label, text in (("template", fmt.go_template()), ("system prompt", system_prompt)):
        if '"""' in text:
            raise FormatError(f'the {label} contains """, which a Modelfile cannot quote')
    lines = [f"FROM ./{gguf_name}", "", f'TEMPLATE """{fmt.go_template()}"""', ""]
    if fmt.system_start is not None and system_prompt.strip():
        lines += [f'SYSTEM """{system_prompt}"""', ""]
    # A Modelfile's quoted values have no escape for a newline: "\nQuestion:" is written as "Question:".
    stops = dict.fromkeys(stop.strip() for stop in fmt.stop if stop.strip())
    lines += [f'PARAMETER stop "{stop}"' for stop in stops if '"' not in stop]
    lines += ["PARAMETER temperature 0"]  # greedy, as the app's evaluation and the export check answer
    return "\n".join(lines) + "\n"
