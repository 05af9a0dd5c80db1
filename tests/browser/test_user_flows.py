"""What a user does in the page, in a real browser: chat with memory, compare, add data, train, chat with the
adapter, read the Results charts. Widgets are found by their visible labels and roles, never by generated ids.

Every step leaves a screenshot in the test's tmp folder (pytest prints its path on failure).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BAD_FILE = PROJECT_ROOT / "tests" / "data" / "bad" / "several_problems.csv"
GOOD_FILE = PROJECT_ROOT / "tests" / "data" / "good" / "prompt_response.jsonl"
REPLY_TIMEOUT_S = 180
FIRST_USE_TIMEOUT_S = 480
"""A bundled model's first use converts its weights once per machine (Qwen2.5-0.5B: about 3 min on 2 busy cores)."""
TRAINING_TIMEOUT_S = 240
STATS = re.compile(r"prompt (\d+) tokens")
"""The line under a chat that says a reply is complete, e.g. '1.3 s · 19 tokens · ... · prompt 31 tokens · ...'."""


def wait_until(page, check, timeout_s: float, what: str):
    """Poll `check()` until it returns something truthy; fail naming `what` and leave a screenshot."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            page.shot("timeout")
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        page.wait_for_timeout(500)


def despite_redraws(action):
    """`action()` on an element that the tab may redraw on its timer meanwhile: when Playwright finds the element
    detached (replaced by its redrawn copy), None, so that wait_until asks again and the locator finds the new one."""
    try:
        return action()
    except PlaywrightError as error:
        if "not attached" in str(error):
            return None
        raise


def open_tab(page, name: str):
    """Click a top-level tab; returns the panel now shown (the other tabs' panels are hidden)."""
    page.get_by_role("tab", name=name, exact=True).click()
    return page.get_by_role("tabpanel").filter(visible=True).first


def adapter_label(run_id: str, how: str) -> re.Pattern:
    """A SmolLM2 adapter in the model pickers: named by how and on what it was trained, and when (the run id's
    time stamp, to the second), e.g. "... fine-tuned on insurer_faq (LoRA r=16, 1 epoch) · 4 Dec 2026 02:19:53"."""
    year, month, day, hour, minute, second = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})",
                                                      run_id).groups()
    return re.compile(rf"SmolLM2-135M-Instruct {how} on insurer_faq \(.*\) · {int(day)} \w+ {year} "
                      rf"{hour}:{minute}:{second}")


def open_accordion(panel, title: str) -> None:
    # "/" escaped: Playwright passes the pattern on as a /.../ literal
    button = panel.get_by_role("button", name=re.compile("^" + re.escape(title).replace("/", r"\/")))
    if "open" not in (button.get_attribute("class") or "").split():  # Gradio marks an open accordion's button
        button.click()


def completed_prompt_tokens(panel, nth: int = 0) -> int | None:
    """Prompt tokens from the nth finished-reply line in the panel, or None while still generating."""
    lines = panel.get_by_text(STATS)
    if lines.count() <= nth:
        return None
    found = STATS.search(lines.nth(nth).inner_text())
    return int(found.group(1)) if found else None


def bot_messages(conversation) -> list[str]:
    return [m.inner_text().strip() for m in conversation.locator('[data-testid="bot"]').all()]


def send_and_wait(page, panel, text: str) -> None:
    """Type a message in the Chat tab, press Send, wait until its reply is complete (a new stats line)."""
    before = completed_prompt_tokens(panel)
    panel.get_by_placeholder("Type a message and press Enter").fill(text)
    panel.get_by_role("button", name="Send", exact=True).click()
    # Each turn's prompt is longer than the last one (memory on), so a new count means the new reply finished.
    wait_until(page, lambda: (completed_prompt_tokens(panel) or 0) > (before or 0), REPLY_TIMEOUT_S,
               f"the reply to {text!r}")


def shown_prompt(page, panel, last_message: str) -> str:
    """The text of the 'Prompt the model received on the last turn' panel, once it shows the last message."""
    open_accordion(panel, "Prompt the model received on the last turn")

    def prompt_text() -> str:  # the accordion fills its textboxes a moment after it opens
        text = "\n".join(box.input_value() for box in panel.locator("textarea").all())
        return text if last_message in text else ""

    return wait_until(page, prompt_text, 15, "the prompt panel to show the last turn")


def test_chat_remembers_the_first_turn(page):
    panel = open_tab(page, "Chat")
    assert panel.get_by_role("combobox", name="Model").input_value().startswith("Qwen2.5-Coder-0.5B")
    assert panel.get_by_role("combobox", name="Memory").input_value() == "Full buffer (every turn)"
    page.shot("chat-0-open")

    send_and_wait(page, panel, "My name is Priya.")
    send_and_wait(page, panel, "What is my name?")
    page.shot("chat-1-two-turns")

    conversation = panel.get_by_role("log")
    users = [m.inner_text().strip() for m in conversation.locator('[data-testid="user"]').all()]
    replies = bot_messages(conversation)
    assert users == ["My name is Priya.", "What is my name?"]
    assert len(replies) == 2 and all(replies), replies
    prompt = shown_prompt(page, panel, "What is my name?")
    page.shot("chat-2-prompt")
    # Full-buffer memory: the last turn's prompt holds the first exchange, and the model used it.
    assert "My name is Priya." in prompt
    assert "Priya" in replies[1], f"second reply did not use the first turn: {replies[1]!r}"


def test_compare_shows_both_answers(page):
    panel = open_tab(page, "Compare")
    model_a = panel.get_by_role("combobox", name="Model A").input_value()
    model_b = panel.get_by_role("combobox", name="Model B").input_value()
    assert model_a.startswith("Qwen2.5") and model_b.startswith("SmolLM2"), (model_a, model_b)
    open_accordion(panel, "Generation settings")
    panel.get_by_role("spinbutton", name="Max new tokens").fill("24")
    panel.get_by_role("spinbutton", name="Max new tokens").press("Enter")
    panel.get_by_placeholder("Both models answer this message").fill("What is the capital of France?")
    panel.get_by_role("button", name="Send to both").click()
    # Model A answers first, then B; each finished reply adds a stats line under its conversation.
    wait_until(page, lambda: completed_prompt_tokens(panel, 1), FIRST_USE_TIMEOUT_S, "both models' answers")
    page.shot("compare-both-answered")

    conversations = panel.get_by_role("log").all()
    assert len(conversations) == 2
    for conversation in conversations:
        assert conversation.locator('[data-testid="user"]').inner_text().strip() == "What is the capital of France?"
        replies = bot_messages(conversation)
        assert len(replies) == 1 and replies[0], replies


def upload(page, panel, path: Path) -> None:
    """Choose a file in the 'Add your own Q/A file' box and press 'Check and add'."""
    open_accordion(panel, "Add your own Q/A file")
    clear = panel.get_by_role("button", name="Clear", exact=True)
    if clear.count():  # the file of an earlier upload is still in the box
        clear.click()
    with page.expect_file_chooser() as chooser:
        panel.get_by_role("button", name="Click to upload or drop files").click()
    chooser.value.set_files(str(path))
    panel.get_by_role("cell", name=path.name).wait_for()
    panel.get_by_role("button", name="Check and add").click()


def test_add_data_shows_row_errors_then_adds_a_good_file(page, app):
    panel = open_tab(page, "Training")
    upload(page, panel, BAD_FILE)
    message = panel.locator(".prose", has_text="several_problems.csv was not added").last  # Gradio's Markdown
    message.wait_for()
    page.shot("data-1-bad-file")
    for row_error in ("row 3: empty question", "row 4: answer has 4,001 characters",
                      "row 5 repeats the question of row 2"):
        assert row_error in message.inner_text(), message.inner_text()
    assert not list(app.data_dir.iterdir()), "a file with errors must not be registered"
    assert "Sample" in panel.get_by_role("combobox", name="Training data").input_value()

    upload(page, panel, GOOD_FILE)
    wait_until(page, lambda: "prompt_response" in panel.get_by_role("combobox", name="Training data").input_value(),
               30, "the added file to be selected as training data")
    # "✅ Added prompt_response.jsonl: 2 Q/A pairs." (the selection's own summary may replace it: "2 Q/A pairs.")
    panel.get_by_text(re.compile(r"\b2 Q/A pairs\.")).first.wait_for()
    # the preview now shows the added file's rows (wait_for fails the test if the cell never appears)
    panel.get_by_role("grid", name="Preview").get_by_role("gridcell", name="What is the grace period?").first.wait_for()
    page.shot("data-2-good-file")
    assert list(app.data_dir.iterdir()), "the good file was not registered"


def test_train_then_chat_with_the_adapter(page, app):
    panel = open_tab(page, "Training")
    assert panel.get_by_role("combobox", name="Base model").input_value().startswith("SmolLM2-135M-Instruct")
    assert "Sample" in panel.get_by_role("combobox", name="Training data").input_value()
    # The smallest job the form allows: 8 examples in batches of 4, one epoch = 2 optimizer steps.
    for label, value in (("Epochs", "1"), ("Batch size", "4"), ("Training examples used", "8")):
        panel.get_by_role("spinbutton", name=label).fill(value)
    started = time.monotonic()
    panel.get_by_role("button", name="Start training").click()
    run_label = wait_until(page, lambda: panel.get_by_role("combobox", name="Run").input_value(), 30, "the queued run")
    run_id = run_label.split(" · ")[0]  # the picker shows "<run id> · LoRA · <state>"
    page.shot("train-1-started")
    finished = wait_until(page, lambda: panel.get_by_text(re.compile(r"^(finished|failed|stopped)$")).all(),
                          TRAINING_TIMEOUT_S, "the training run to end")
    page.shot("train-2-ended")
    state = finished[0].inner_text()
    log = panel.get_by_role("textbox", name="Log (last lines)").input_value()
    assert state == "finished", f"run {run_id} ended {state}; log:\n{log}"
    assert panel.get_by_text(re.compile(r"step 2/2 \(100%\)")).count() == 1
    print(f"training run {run_id} took {time.monotonic() - started:.0f} s in the page")

    adapter_run = app.runs_dir / run_id
    assert (adapter_run / "adapter" / "adapter_config.json").exists()

    panel = open_tab(page, "Chat")
    picker = panel.get_by_role("combobox", name="Model")
    picker.click()
    trained = adapter_label(run_id, "fine-tuned")
    page.get_by_role("option", name=trained).click()
    info = panel.get_by_text(re.compile(r"adapter on SmolLM2-135M-Instruct"))
    info.wait_for()
    send_and_wait(page, panel, "Does the policy cover treatment abroad?")
    page.shot("train-3-adapter-chat")
    assert trained.search(picker.input_value()), picker.input_value()
    replies = bot_messages(panel.get_by_role("log"))
    assert len(replies) == 1 and replies[0], replies


def test_grpo_from_the_training_tab_shows_its_reward_and_chats(page, app):
    """A new user's RLHF: GRPO on the preselected SmolLM2 from the Training tab, the reward curve drawn next to the
    loss, then the tuned adapter answering in Chat."""
    panel = open_tab(page, "Training")
    open_accordion(panel, "RLHF: GRPO, RLOO or DPO")
    panel.get_by_role("radio", name="GRPO").check()
    # The smallest run the form allows: 2 steps of 1 question answered 2 ways, 16 tokens each.
    for label, value in (("Steps", "2"), ("Questions per step", "1"), ("Answers per question (GRPO/RLOO)", "2"),
                         ("Answer tokens", "16")):
        panel.get_by_role("spinbutton", name=label).fill(value)
        panel.get_by_role("spinbutton", name=label).press("Tab")
    before = {p.name for p in app.runs_dir.iterdir()}
    panel.get_by_role("button", name="Start RLHF").click()
    run_dir = wait_until(page, lambda: next((p for p in app.runs_dir.iterdir() if p.name not in before
                                             and p.name.endswith("-grpo")), None), 30, "the queued GRPO run")
    status = run_dir / "status.json"
    ended = wait_until(page, lambda: status.exists() and json.loads(status.read_text()).get("state") in
                       ("finished", "failed", "stopped") and json.loads(status.read_text()), TRAINING_TIMEOUT_S,
                       "the GRPO run to end")
    log = (run_dir / "log.txt").read_text() if (run_dir / "log.txt").exists() else ""
    assert ended["state"] == "finished", f"GRPO run ended {ended['state']}: {ended.get('message')}\n{log[-2000:]}"
    rewards = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in rewards if "reward_mean" in m] == [1, 2], rewards
    # The page follows the new run: its reward curve has the two steps.
    plot = panel.locator(".js-plotly-plot", has_text="reward (mean)")
    plot.wait_for(timeout=60_000)
    wait_until(page, lambda: despite_redraws(lambda: plot.scroll_into_view_if_needed() or True), 30,
               "the reward plot to hold still")
    page.shot("rlhf-1-reward")

    def mean_steps():  # the tab redraws on its timer; the last step arrives with the next tick
        traces = despite_redraws(lambda: plot.evaluate(
            "el => el._fullData.map(t => ({name: t.name, x: Array.from(t.x || [])}))")) or []
        return next((t["x"] for t in traces if t["name"] == "reward (mean)" and t["x"] == [1, 2]), None)

    assert wait_until(page, mean_steps, 30, "the reward curve's two steps") == [1, 2]

    panel = open_tab(page, "Chat")
    picker = panel.get_by_role("combobox", name="Model")
    picker.click()
    page.get_by_role("option", name=adapter_label(run_dir.name, "tuned with GRPO")).click()
    panel.get_by_text(re.compile(r"adapter on SmolLM2-135M-Instruct")).wait_for()
    send_and_wait(page, panel, "Is maternity covered?")
    page.shot("rlhf-2-chat")
    replies = bot_messages(panel.get_by_role("log"))
    assert replies and replies[-1], replies


def test_results_tab_draws_a_chart(page, app):
    # A real (small) memory benchmark of SmolLM2 in the app's runs folder: two memory kinds, one conversation.
    command = [sys.executable, "-m", "studio.evaluation.memory_bench", "--model", "bundled:smollm2-135m-instruct", "--limit", "1",
               "--kinds", "none", "buffer", "--max-new-tokens", "16"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CQA_RUNS_DIR": str(app.runs_dir)})
    assert done.returncode == 0, done.stderr[-2000:]

    panel = open_tab(page, "Results")
    # Opening the tab refreshes it; the chart is found by its title (plotly draws into a .js-plotly-plot div).
    plot = panel.locator(".js-plotly-plot", has_text="Which memory keeps context?")
    plot.wait_for()
    plot.scroll_into_view_if_needed()
    page.shot("results-chart")
    # _fullData: the traces as drawn, numbers decoded (plotly.py sends numpy arrays base64-encoded in .data)
    traces = plot.evaluate("el => el._fullData.map(t => ({type: t.type, x: Array.from(t.x), y: Array.from(t.y)}))")
    bars = [t for t in traces if t["type"] == "bar"]
    assert len(bars) == 1, traces
    assert bars[0]["x"] == ["No memory", "Full buffer (every turn)"]
    # Retention: the needed fact never reaches a memoryless prompt, and always reaches a full buffer.
    assert bars[0]["y"] == [0, 100]
    assert plot.locator(".barlayer .point path").count() == 2


def test_on_a_phone_the_conversation_comes_before_the_settings(browser, app):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        tab = context.new_page()
        tab.goto(app.url)
        tab.get_by_role("tab", name="Chat", exact=True).click()
        panel = tab.get_by_role("tabpanel").filter(visible=True).first
        box = panel.get_by_placeholder("Type a message and press Enter").bounding_box()
        settings = panel.get_by_role("combobox", name="Memory").bounding_box()
        assert box["y"] < settings["y"], (box, settings)
    finally:
        context.close()
