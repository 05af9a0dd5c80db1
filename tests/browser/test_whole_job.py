"""The job the app is for, walked as a new user walks it in a real browser: the sample FAQ CSV and policy PDF into a
new collection; an FAQ question, a PDF-only question, an off-topic question and a follow-up in Chat, each reply with
its verdict and numbered sources, the PDF answer's page opened from its source; the collection evaluated on a
held-out part of its FAQ, the result in Results; the conversation downloaded. The default model (Qwen2.5-Coder-0.5B)
answers.
"""

from __future__ import annotations

import re
import time

from test_user_flows import PROJECT_ROOT, REPLY_TIMEOUT_S, open_accordion, open_tab, wait_until

FAQ = PROJECT_ROOT / "assets" / "insurer_faq.csv"
POLICY = PROJECT_ROOT / "assets" / "policy_wording.pdf"
EVALUATION_TIMEOUT_S = 600
DONE = re.compile(r"tok/s|no source matched")
"""The status line under the chat once a reply is complete (a model reply's speed, or the no-source reply)."""


def ask(page, panel, text: str) -> str:
    """Send `text`, wait for the reply to be complete; returns the status line under it."""
    status = panel.get_by_text(re.compile(r"^Running on"))
    before = status.inner_text() if status.count() else ""
    panel.get_by_placeholder("Type a message and press Enter").fill(text)
    panel.get_by_role("button", name="Send", exact=True).click()

    def finished() -> str:
        if not status.count():
            return ""
        line = status.first.inner_text()
        return line if line != before and DONE.search(line) else ""

    return wait_until(page, finished, REPLY_TIMEOUT_S, f"the reply to {text!r}")


def last_reply_and_sources(panel) -> tuple[str, str]:
    """The last answer's text and the title of the sources message under it ("" when it has none)."""
    messages = panel.get_by_role("log").locator('[data-testid="bot"]').all()
    texts = [m.inner_text().strip() for m in messages]
    if len(texts) >= 2 and "Sources: [1]" in texts[-1]:
        return texts[-2], texts[-1]
    return texts[-1], ""


def open_pdf_source(page, panel) -> str:
    """Open the latest answer's PDF source: its page drawn in the page, and the page alone to download. Returns
    the note above the drawing."""
    open_accordion(panel, "Open a source")
    picker = panel.get_by_role("combobox", name="Source of the latest answer")
    picker.click()
    page.get_by_role("option", name=re.compile(r"policy_wording\.pdf p\. \d+")).first.click()
    note = panel.get_by_text(re.compile(r"page \d+ of policy_wording\.pdf"))
    note.wait_for(timeout=30_000)
    panel.locator("img[src*='gradio_api/file']").first.wait_for(timeout=30_000)
    panel.locator("a[href*='policy_wording-p']").first.wait_for(timeout=30_000)  # the page alone, to download
    return note.first.inner_text()


def test_a_new_user_builds_a_collection_asks_it_proves_it_and_keeps_the_chat(page, app):
    started = time.monotonic()
    panel = open_tab(page, "Knowledge")
    panel.get_by_role("textbox", name="Collection name").fill("mine")
    with page.expect_file_chooser() as chooser:
        panel.get_by_role("button", name="Click to upload or drop files").first.click()
    chooser.value.set_files([str(FAQ), str(POLICY)])
    panel.get_by_role("cell", name=POLICY.name).wait_for()
    panel.get_by_role("button", name="Build / add to collection").click()
    panel.get_by_text(re.compile(r"Added to mine")).wait_for(timeout=REPLY_TIMEOUT_S * 1000)
    page.shot("job-1-collection")
    print(f"collection built {time.monotonic() - started:.0f} s after the page opened")

    panel = open_tab(page, "Chat")
    knowledge = panel.get_by_role("combobox", name="Knowledge")
    knowledge.click()
    page.get_by_role("option", name="mine", exact=True).click()
    wait_until(page, lambda: knowledge.input_value() == "mine", 10, "the collection to be picked")

    asked = {}
    for key, question in (("faq", "How long is the free-look period?"),
                          ("pdf", "How does the policy wording define an accident?"),
                          ("off-topic", "What is the capital of France?"),
                          ("before follow-up", "How much does Gold Plus pay for a road ambulance?"),
                          ("follow-up", "And on Platinum?")):
        status = ask(page, panel, question)
        asked[key] = (status, *last_reply_and_sources(panel))
        page.shot(f"job-2-{key.replace(' ', '-')}")
        if key == "pdf":  # the page the answer came from, opened from its source
            opened = open_pdf_source(page, panel)
            page.shot("job-2-pdf-source-page")
    reply, sources = asked["faq"][1:]
    assert reply and "[1] insurer_faq.csv row" in sources, asked["faq"]
    assert re.search(r"every fact found in the sources|no key facts to check|quoted from the sources|not found",
                     sources), sources  # the verdict leads the sources' title
    assert "policy_wording.pdf p." in asked["pdf"][2], asked["pdf"]
    assert re.search(r"page \d+ of policy_wording\.pdf", opened), opened
    assert asked["off-topic"][1] == "I have no source for that in mine." and not asked["off-topic"][2]
    assert "Answered without the model" in asked["off-topic"][0]
    assert asked["follow-up"][1] and "Sources: [1]" in asked["follow-up"][2], asked["follow-up"]

    def downloaded() -> str:  # each reply refreshes the file a moment after it is shown
        with page.expect_download() as download:
            panel.get_by_role("button", name="Download the conversation (Markdown)").click()
        text = open(download.value.path(), encoding="utf-8").read()
        return text if text.count("**You:**") == 5 else ""

    saved = wait_until(page, downloaded, 30, "the download to hold all five questions")
    assert "**You:** And on Platinum?" in saved
    assert "- [1] insurer_faq.csv row" in saved and "knowledge collection mine" in saved

    panel = open_tab(page, "Knowledge")
    open_accordion(panel, "Evaluate this collection")
    panel.get_by_role("spinbutton", name="Pairs held out").fill("5")
    panel.get_by_role("spinbutton", name="Pairs held out").press("Enter")
    panel.get_by_role("button", name="Evaluate", exact=True).click()
    panel.get_by_text(re.compile(r"Queued \S+: mine answered by")).wait_for()
    page.shot("job-3-evaluation-queued")
    result = wait_until(page, lambda: next(app.runs_dir.glob("*/eval-mine-heldout-5+mine.heldout-5.json"), None),
                        EVALUATION_TIMEOUT_S, "the evaluation of the held-out pairs")
    assert result.is_file()

    panel = open_tab(page, "Results")
    open_accordion(panel, "One run, question by question")
    pick = panel.get_by_role("combobox", name="Run · test set")
    wait_until(page, lambda: "mine-heldout-5" in pick.input_value(), 30, "the evaluation in the Results tab")
    assert not panel.get_by_text("Sample results").count(), "the user's own result replaces the sample results"
    page.shot("job-4-results")
    print(f"the whole job took {time.monotonic() - started:.0f} s in the page")
