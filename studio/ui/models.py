"""The Models tab: the catalogue with each model's availability and the engine "auto" picks for it, whether the
llama.cpp engine can be used here, and the form that adds or removes OpenAI-compatible servers.
"""

from __future__ import annotations

import gradio as gr

from studio import access
from studio.engines import loader
from studio.models import catalogue, gguf_files, refs, servers
from studio.models.refs import ModelError


def engine_line() -> str:
    """Whether the fast engine can be used in this app, and why not."""
    problem = gguf_files.llama_cpp_problem()
    if problem:
        return f"⚠️ **llama.cpp engine unavailable**: {problem}. Models run on transformers (PyTorch)."
    if reason := loader.hardware_prefers_pytorch():
        return (f"**llama.cpp engine available**; engine \"auto\" uses PyTorch on this machine: {reason}. Pick "
                "\"llama.cpp\" in the Chat settings to use it.")
    return ("**llama.cpp engine available**: with engine \"auto\" (Chat settings) the models it runs are answered "
            "by llama.cpp; the others, and any model with engine \"transformers\", by PyTorch.")


def _auto_engine(entry: refs.ModelEntry) -> str:
    """The engine "auto" picks for a model, with why it is not llama.cpp when llama.cpp is installed."""
    engine, why = loader.resolve_engine(entry, "auto")
    return f"{engine} ({why})" if why and gguf_files.llama_cpp_problem() is None else engine


def catalogue_rows() -> list[list]:
    rows = []
    for e in catalogue.catalogue(remote=True):
        rows.append([e.name, str(e.ref), e.family, e.size, "seq2seq" if e.seq2seq else "causal", e.prompt_style,
                     "yes" if e.available else "no", _auto_engine(e), e.reason])
    return rows


def build_models_tab() -> None:
    gr.Markdown(
        "Bundled models ship inside pip packages and work offline; they are checked (sha256) and converted once "
        "into a cached folder. The report's model families are listed by Hugging Face id: they work when their "
        "weights are in the local Hugging Face cache or in `$CQA_MODELS_DIR`; nothing is downloaded at run time. "
        "Any local model folder path typed into a model picker works too. Fine-tuned adapters from `runs/` appear "
        "here and in the pickers as soon as they are saved."
    )
    gr.Markdown(engine_line())
    headers = ["Model", "Reference", "Family", "Parameters", "Type", "Prompt style", "Available", "Engine (auto)",
               "Source / reason"]
    table = gr.Dataframe(catalogue_rows(), headers=headers, interactive=False, wrap=True,
                         column_widths=["14%", "17%", "6%", "6%", "6%", "7%", "6%", "12%", "26%"])
    gr.Button("Refresh").click(catalogue_rows, None, table, api_name="models")
    build_servers_form(table)


def _change_servers(change, *args):
    """A change to the OpenAI-compatible servers (refused in shared mode) -> (message, servers, key box, models):
    the key box is emptied, so a key never stays in the page."""
    try:
        access.check_settings_change("The OpenAI-compatible servers")
        return change(*args), servers.servers_table(), "", catalogue_rows()
    except (ModelError, access.AccessError) as e:
        return f"⚠️ {e}", gr.skip(), gr.skip(), gr.skip()


def save_server(name: str, base_url: str, api_key: str, model_names: str):
    return _change_servers(servers.save_server, name, base_url, api_key, model_names)


def remove_server(name: str):
    return _change_servers(servers.remove_server, (name or "").strip())


def build_servers_form(models_table: gr.Dataframe) -> None:
    gr.Markdown("### OpenAI-compatible servers\nvLLM, llama.cpp's server, Ollama or TGI answer as chat models "
                "`openai:<model>@<name>`; memory and knowledge stay in this app. Also set by `CQA_OPENAI_BASE_URL`, "
                "`CQA_OPENAI_API_KEY`, `CQA_OPENAI_MODELS`. Keys are kept owner-only in the settings folder and never "
                "shown again.")
    servers_table = gr.Dataframe(servers.servers_table(), headers=["Name", "Base URL", "API key", "Source", "Status"],
                           interactive=False, wrap=True)
    with gr.Row():
        name = gr.Textbox(label="Name", placeholder="local")
        url = gr.Textbox(label="Base URL", placeholder="http://127.0.0.1:8000/v1")
        key = gr.Textbox(label="API key (empty keeps the saved one)", type="password")
        names = gr.Textbox(label="Models (optional, comma-separated)")
    with gr.Row():
        save, remove = gr.Button("Save server"), gr.Button("Remove server")
    message = gr.Markdown()
    save.click(save_server, [name, url, key, names], [message, servers_table, key, models_table],
               api_visibility="private")
    remove.click(remove_server, name, [message, servers_table, key, models_table], api_visibility="private")
