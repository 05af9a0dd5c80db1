"""The Knowledge tab: build knowledge collections from Q/A data and documents, list them, delete a file or a whole
collection, and try a question against one. Its logic, without Gradio, is studio.ui.knowledge_form's; these
handlers turn its answers and refusals into the page's widgets.
"""

from __future__ import annotations

import html

import gradio as gr

from studio.knowledge import documents
from studio.knowledge.support import ANSWER_STYLE_LABELS, ANSWER_STYLES
from studio.models import refs
from studio.ui import knowledge_form, visitor
from studio.ui.chat_settings import model_choices


def _knowledge_view(name: str | None = None):
    """The collections table, the collection picker (kept on `name` when it still exists) and its files."""
    rows = knowledge_form.collection_rows()
    choices = list(dict.fromkeys(row[0] for row in rows))
    name = name if name in choices else (choices[0] if choices else None)
    return rows, gr.Dropdown(choices=choices, value=name), gr.Dropdown(choices=knowledge_form.file_choices(name),
                                                                       value="")


def add_knowledge(name: str, sources: list[str] | None, uploads: list[str] | None, progress=gr.Progress(),
                  request: gr.Request = None):
    """Build or extend a collection, each file's reading and embedding shown as it happens. Returns (message,
    table, collection picker, file picker); on any error only the message changes."""
    visitor.changer(request, "Adding files to a collection")
    try:
        message = knowledge_form.add_to_collection(
            name, sources, uploads, lambda done, total, what: progress((done, total), desc=what))
    except knowledge_form.KnowledgeFormError as e:
        return f"⚠️ **Nothing was added.** {html.escape(str(e), quote=False)}", gr.skip(), gr.skip(), gr.skip()
    return message, *_knowledge_view(name.strip())


def delete_knowledge(name: str | None, file: str | None, request: gr.Request = None):
    visitor.changer(request, "Deleting from a collection")
    try:
        message = knowledge_form.delete(name, file)
    except knowledge_form.KnowledgeFormError as e:
        return f"⚠️ {html.escape(str(e), quote=False)}", gr.skip(), gr.skip(), gr.skip()
    return message, *_knowledge_view(name)


def rebuild_knowledge(name: str | None, progress=gr.Progress(), request: gr.Request = None):
    visitor.changer(request, "Rebuilding a collection")
    try:
        message = knowledge_form.rebuild(name, lambda done, total, what: progress((done, total), desc=what))
    except knowledge_form.KnowledgeFormError as e:
        return f"⚠️ {html.escape(str(e), quote=False)}", gr.skip(), gr.skip(), gr.skip()
    return message, *_knowledge_view(name)


def search_knowledge(name: str | None, question: str, k: float = 3) -> str:
    try:
        return knowledge_form.search(name, question, int(k))
    except knowledge_form.KnowledgeFormError as e:
        return f"⚠️ {html.escape(str(e), quote=False)}"


def evaluate_knowledge(name: str | None, model: str, test: str | None, held_out: float, answer_style: str,
                       request: gr.Request = None) -> str:
    owner = visitor.changer(request, "Evaluating a collection")
    try:
        return knowledge_form.evaluate_collection(name, model, test, held_out, answer_style, owner=owner)[0]
    except knowledge_form.KnowledgeFormError as e:
        return f"⚠️ **Nothing was queued.** {html.escape(str(e), quote=False)}"


INDEXING = "indexing"
"""The concurrency group of the handlers that embed documents: minutes of every core each, so one at a time."""


def page_view():
    """The table and pickers as a freshly loaded page shows them: collections made since the app started (in
    another tab, by the CLI) included."""
    return _knowledge_view(None)


def build_knowledge_tab() -> list[gr.components.Component]:
    """Knowledge collections: what the Chat and Compare tabs' Knowledge picker answers from. Returns the widgets
    page_view fills (the app refreshes them on every page load)."""
    gr.Markdown("Build a **knowledge collection** from Q/A data and documents; pick it in the Chat or Compare tab "
                "and replies are grounded on its passages, with their sources shown. Q/A files are indexed pair by "
                "pair, documents (PDF, DOCX, TXT, Markdown, HTML) in passages that remember their page or section.")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            name = gr.Textbox(label="Collection name", placeholder="e.g. nilgiri", max_lines=1,
                              info="Letters, digits, '_', '-' or '.'; an existing name adds to that collection")
            sources = gr.Dropdown(knowledge_form.source_choices(), multiselect=True, label="Q/A datasets and samples",
                                  info="The samples and the Q/A files added in the Training tab")
            uploads = gr.File(label="Documents or Q/A files", file_count="multiple", type="filepath",
                              file_types=list(documents.SUFFIXES))
            add = gr.Button("Build / add to collection", variant="primary")
            message = gr.Markdown()
        with gr.Column(scale=3):
            rows = knowledge_form.collection_rows()
            table = gr.Dataframe(rows, headers=["Collection", "File", "Passages"], label="Collections",
                                 interactive=False, max_height=300)
            names = list(dict.fromkeys(row[0] for row in rows))
            with gr.Row():
                # custom values: collections made in another session are not among this page's choices
                collection = gr.Dropdown(names, value=names[0] if names else None, label="Collection",
                                         allow_custom_value=True)
                files = gr.Dropdown(knowledge_form.file_choices(names[0] if names else None), value="",
                                    label="File to delete", allow_custom_value=True)
            with gr.Row():
                delete = gr.Button("Delete the file (or the whole collection)", variant="stop")
                rebuild = gr.Button("Rebuild from its stored files", size="sm")
            with gr.Row():
                question = gr.Textbox(label="Try a question", placeholder="What is the maternity waiting period?",
                                      scale=4)
                k = gr.Slider(1, 10, value=3, step=1, label="Passages", scale=1)
            search = gr.Button("Search")
            found = gr.Markdown()
            with gr.Accordion("Evaluate this collection: is the chat right on it?", open=False):
                gr.Markdown("Answers questions with the chosen model from the collection picked above, as the "
                            "chat does (checked against the passages), and scores them: key facts, faithfulness, "
                            "refusals and ROUGE-L, each with its 95% interval, question by question.")
                with gr.Row():
                    eval_model = gr.Dropdown(model_choices(), value=str(refs.DEFAULT_MODEL), label="Model",
                                             allow_custom_value=True, scale=2)
                    answer_style = gr.Dropdown([(ANSWER_STYLE_LABELS[s], s) for s in ANSWER_STYLES], value="auto",
                                               label="Answer style", scale=1)
                with gr.Row():
                    test = gr.Dropdown(knowledge_form.test_choices(), value=knowledge_form.HELD_OUT,
                                       label="Test questions", scale=2,
                                       info="Held-out pairs are left out of a copy of the collection, which "
                                            "answers them: a pair cannot answer itself")
                    held_out = gr.Slider(5, 50, value=20, step=1, label="Pairs held out", scale=1)
                evaluate = gr.Button("Evaluate", variant="primary")
                evaluated = gr.Markdown()
    view = [table, collection, files]
    # indexing embeds in the web request: one at a time for the whole app (INDEXING), added or rebuilt
    add.click(add_knowledge, [name, sources, uploads], [message, *view], api_name="knowledge_add",
              concurrency_limit=1, concurrency_id=INDEXING)
    delete.click(delete_knowledge, [collection, files], [message, *view], api_name="knowledge_delete")
    rebuild.click(rebuild_knowledge, collection, [message, *view], api_name="knowledge_rebuild",
                  concurrency_limit=1, concurrency_id=INDEXING)
    search.click(search_knowledge, [collection, question, k], found, api_name="knowledge_search")
    question.submit(search_knowledge, [collection, question, k], found, api_visibility="private")
    collection.change(lambda c: gr.Dropdown(choices=knowledge_form.file_choices(c), value=""), collection, files,
                      api_visibility="private")
    gr.Button("Refresh", size="sm").click(_knowledge_view, collection, view, api_name="knowledge_list")
    sources.focus(lambda: gr.Dropdown(choices=knowledge_form.source_choices()), None, sources,
                  api_visibility="private")
    evaluate.click(evaluate_knowledge, [collection, eval_model, test, held_out, answer_style], evaluated,
                   api_name="knowledge_evaluate")
    test.focus(lambda: gr.Dropdown(choices=knowledge_form.test_choices()), None, test, api_visibility="private")
    eval_model.focus(lambda: gr.Dropdown(choices=model_choices()), None, eval_model, api_visibility="private")
    return view
