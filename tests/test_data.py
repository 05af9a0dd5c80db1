import csv
import json
from pathlib import Path

import pandas
import pytest

from studio.data import files, qa, registry
from studio.data.files import DataError
from studio.data.qa import Dataset, Example, dialogue_examples, load_file, preview, qa_examples, split, subset

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"
GOOD = ROOT / "tests" / "data" / "good"
ASSETS = ROOT / "assets"

# file in tests/data/bad -> a substring every user should see in the message
BAD_FILES = [
    ("empty.csv", "the file is empty (0 bytes)"),
    ("whitespace_only.csv", "the file is empty (only whitespace)"),
    ("header_only.csv", "has a header but no data rows"),
    ("wrong_columns.csv", "the file has columns: foo, bar. Rename the columns, or say which to use: question_column="),
    ("empty_answer.csv", "row 3: empty answer"),
    ("multiline_empty_answer.csv", "row 3: empty answer"),  # a row is a record, not a line: row 2 spans two lines
    ("duplicate_question.csv", "row 4 repeats the question of row 2 (the same answer too)"),
    ("duplicate_question.csv", "row 5 repeats the question of row 2 (a different answer)"),
    ("latin1.csv", "not UTF-8 text (perhaps Latin-1 or Windows-1252): line 2 (byte 0xe9 at byte offset 32)"),
    ("latin1.csv", "Re-save it as UTF-8"),
    ("long_answer.csv", "row 2: answer has 5,000 characters, the limit is 4,000"),
    ("unclosed_quote.csv", "row 3 (starting on line 3 of the file): malformed CSV"),
    ("stray_quote.csv", "row 2 (starting on line 2 of the file): malformed CSV"),
    ("broken_header.csv", "row 1 (starting on line 1 of the file): malformed CSV"),
    ("extra_cells.csv", "row 3 has 3 cells but the header has 2"),
    ("many_empty_answers.csv", "... and 10 more"),
    ("several_problems.csv", "row 3: empty question"),
    ("several_problems.csv", "row 4: answer has 4,001 characters, the limit is 4,000"),
    ("several_problems.csv", "row 5 repeats the question of row 2"),
    ("broken.json", "line 3, column 3: not valid JSON"),
    ("lines_in_json.json", "name it .jsonl"),
    ("not_records.json", 'expected a list of records [{...}, ...] or {"data": [...]}'),
    ("broken.jsonl", "line 2: not valid JSON"),
    ("list_line.jsonl", "line 2: expected a JSON object"),
    ("answer_not_text.jsonl", "line 1: answer is an object, expected text"),
    ("conv_no_reply.jsonl", "line 1: needs at least one user turn followed by an assistant reply"),
    ("conv_bad_role.jsonl", "line 2, turn 2: unknown role 'narrator'"),
    ("conv_empty_turn.jsonl", "line 1, turn 1: empty assistant turn"),
    ("spreadsheet.xlsx", "unsupported file type '.xlsx'"),
    ("duplicate_header.csv", "row 1 (the header) names the same column 2 times: 'question' (column 1), "
                             "'Question' (column 3); names may not differ only in case or spaces"),
    ("repeated_key.jsonl", "line 2 names the same field 2 times ('question', 'question')"),
    ("case_variant_keys.json", "record 1 names the same field 2 times ('Question', 'question ')"),
    ("conv_repeated_role.jsonl", "line 1, turn 1 names the same field 2 times ('role', 'Role')"),
    ("deeply_nested.json", "the JSON is nested too deeply to read"),
    ("deeply_nested.jsonl", "line 2: the JSON is nested too deeply to read"),
    ("nan_answer.json", "record 1: answer is nan (a JSON NaN or Infinity), expected text"),
    ("nan_answer.json", "record 2: answer is -inf (a JSON NaN or Infinity), expected text"),
    ("nan_cells.csv", "row 2: answer is 'nan', how spreadsheets and pandas write a missing or broken number"),
    ("nan_cells.csv", "row 3: answer is '-inf'"),
    ("utf16_broken.csv", "looks like UTF-16 text but byte offset 68 is not valid UTF-16; re-save it as UTF-8"),
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("file_name, expected", BAD_FILES)
def test_bad_file_is_refused_with_a_readable_message_and_registers_nothing(tmp_path, file_name, expected):
    path = BAD / file_name
    with pytest.raises(DataError) as caught:
        load_file(path)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(f"{file_name}: ")
    assert caught.value.errors and all(isinstance(e, str) and e for e in caught.value.errors)

    # A good dataset already registered under the same name must survive the failed register, byte for byte.
    registry.register(ASSETS / "test_brief.csv", name=path.stem, datasets_dir=tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(DataError):
        registry.register(path, datasets_dir=tmp_path)
    assert snapshot(tmp_path) == before
    with pytest.raises(DataError):
        registry.register(path, name="fresh", datasets_dir=tmp_path / "empty")
    assert registry.list_registered(tmp_path / "empty") == []


def test_every_bad_file_is_in_the_table():
    assert {name for name, _ in BAD_FILES} == {p.name for p in BAD.iterdir()}


@pytest.mark.parametrize(
    "file_name, errors",
    [
        ("several_problems.csv", ["row 3: empty question", "row 4: answer has 4,001 characters, the limit is 4,000",
                                  "row 5 repeats the question of row 2 (the same answer too); keep one of them"]),
        # one cause, one message: no follow-up complaints about what the first problem already explains
        ("header_only.csv", ["the file has a header but no data rows"]),
        ("answer_not_text.jsonl", ["line 1: answer is an object, expected text"]),
        ("conv_bad_role.jsonl", ["line 2, turn 2: unknown role 'narrator'; use user or assistant"]),
        ("broken.json", ["line 3, column 3: not valid JSON (Expecting ',' delimiter)"]),
        ("nan_answer.json", ["record 1: answer is nan (a JSON NaN or Infinity), expected text",
                             "record 2: answer is -inf (a JSON NaN or Infinity), expected text"]),
        ("deeply_nested.json", ["the JSON is nested too deeply to read; expected a list of flat records [{...}, ...]"]),
        ("deeply_nested.jsonl", ["line 2: the JSON is nested too deeply to read; a record is one flat object"]),
        ("duplicate_header.csv", ["row 1 (the header) names the same column 2 times: 'question' (column 1), "
                                  "'Question' (column 3); names may not differ only in case or spaces. Rename or "
                                  "remove all but one"]),
    ],
)
def test_all_problems_are_collected_once(file_name, errors):
    with pytest.raises(DataError) as caught:
        load_file(BAD / file_name)
    assert caught.value.errors == errors


def test_problems_beyond_the_cap_are_counted():
    with pytest.raises(DataError) as caught:
        load_file(BAD / "many_empty_answers.csv")
    assert caught.value.total == 60
    assert len(caught.value.errors) == files.MAX_ERRORS + 1
    assert caught.value.errors[0] == "row 2: empty answer"
    assert caught.value.errors[-1] == "... and 10 more"
    assert str(caught.value).startswith("many_empty_answers.csv: 60 problems\n- row 2: empty answer\n")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="file not found"):
        registry.register(tmp_path / "nope.csv", datasets_dir=tmp_path / "datasets")
    assert not (tmp_path / "datasets").exists()


def test_too_large_file_is_refused_before_reading(monkeypatch):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 40)
    # latin1.csv is 46 bytes and not UTF-8: only the size is reported, so its bytes were never decoded
    with pytest.raises(DataError) as caught:
        load_file(BAD / "latin1.csv")
    assert caught.value.errors == ["the file is 46 bytes, more than the limit of 40 bytes; split it into smaller files"]


def test_size_limit_message_in_megabytes(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.truncate(3 * 1024 * 1024)  # sparse: 3 MB on paper, nothing written
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    with pytest.raises(DataError, match=r"the file is 3\.0 MB, more than the limit of 2\.0 MB"):
        load_file(path)


def test_missing_explicit_column_names_the_columns_found():
    with pytest.raises(DataError, match="question column 'Frage' not found; the file has columns: question, answer"):
        load_file(BAD / "empty_answer.csv", question_column="Frage", answer_column="answer")


@pytest.mark.parametrize(
    "path, rows, first",
    [
        (ASSETS / "insurer_faq.csv", 395,
         {"question": "What is the Family Health Shield policy?", "topic": "general"}),
        (ASSETS / "test_brief.csv", 36, {"question": "Is cataract surgery covered in the first year?"}),
        (ASSETS / "test_detailed.csv", 25, {"topic": "cashless_claims"}),
        (GOOD / "prompt_response.jsonl", 2, {"question": "What is the grace period?", "answer": "30 days."}),
        # " Question " / "ANSWER" match after stripping and case folding; a number becomes text
        (GOOD / "upper_case.json", 2, {"question": "What is X?", "answer": "X is a plan."}),
        # byte-order mark, ';' separator, CRLF, a quoted cell over two lines, a blank ';;' row skipped
        (GOOD / "excel_export.csv", 2,
         {"question": "How do I claim?", "answer": "Call us.\nThen send the form.", "topic": "claims"}),
    ],
)
def test_good_qa_files_load(path, rows, first):
    dataset = load_file(path)
    assert (dataset.kind, len(dataset.records), dataset.source, dataset.name) == ("qa", rows, path.name, path.stem)
    assert first.items() <= dataset.records[0].items()
    assert all(set(r) <= {"question", "answer", "topic"} for r in dataset.records)


@pytest.mark.parametrize("file_name", ["utf16_excel_unicode.csv", "utf16_be.csv", "utf16_no_bom.jsonl"])
def test_utf16_files_are_read_as_utf16(file_name):
    # Excel's "Unicode text" (UTF-16 LE with a byte-order mark, tab separated), big-endian, and no mark at all
    assert load_file(GOOD / file_name).records == [
        {"question": "Is Zürich covered?", "answer": "Yes, up to €5,000."},
        {"question": "What is X?", "answer": "A plan."},
    ]


def test_the_registry_lives_in_one_module_and_the_old_folder_constant_is_gone():
    assert callable(registry.register) and callable(registry.list_registered)
    for stale in ("register", "list_registered", "DATASETS_DIR"):  # the layout before studio/ reached them here
        with pytest.raises(AttributeError):
            getattr(qa, stale)


def test_upper_case_json_turns_numbers_into_text():
    assert load_file(GOOD / "upper_case.json").records[1] == {"question": "What is Y?", "answer": "42"}


def test_explicit_column_mapping():
    with pytest.raises(DataError, match="Customer Message, Agent Reply, Channel"):
        load_file(GOOD / "custom_columns.csv")
    dataset = load_file(GOOD / "custom_columns.csv", question_column="customer message",
                             answer_column="Agent Reply")
    assert dataset.records == [
        {"question": "Can I pay monthly?", "answer": "Yes, by auto-debit."},
        {"question": "Where is my e-card?", "answer": "In the app."},
    ]


@pytest.mark.parametrize(
    "path, expected_turns",
    [
        # system turn dropped, roles mapped (bot/Human/agent), two user turns in a row joined into one
        (GOOD / "chat_roles.jsonl", [("assistant", "Welcome! How can I help?"), ("user", "Hi.\nWhat is X?"),
                                     ("assistant", "X is a plan."), ("user", "Thanks!"),
                                     ("assistant", "You're welcome.")]),
        # ShareGPT: "conversations" of {"from": "human"/"gpt", "value"}
        (GOOD / "sharegpt.json", [("user", "What is Y?"), ("assistant", "Y is a rider.")]),
    ],
)
def test_conversation_files_load(path, expected_turns):
    dataset = load_file(path)
    assert dataset.kind == "conversations"
    assert dataset.records == [{"turns": [{"role": r, "content": c} for r, c in expected_turns]}]


def test_memory_bench_exchanges_become_turns():
    dataset = load_file(ASSETS / "memory_bench.jsonl")
    assert (dataset.kind, len(dataset.records)) == ("conversations", 30)
    raw = json.loads((ASSETS / "memory_bench.jsonl").read_text(encoding="utf-8").split("\n")[0])
    expected = [{"role": role, "content": pair[role]} for pair in raw["turns"] for role in ("user", "assistant")]
    assert dataset.records[0] == {"turns": expected}


def test_register_list_and_load_round_trip(tmp_path):
    path = registry.register(ASSETS / "insurer_faq.csv", datasets_dir=tmp_path)
    assert path == tmp_path / "insurer_faq.jsonl"
    registry.register(GOOD / "sharegpt.json", name="My Chats!", datasets_dir=tmp_path)
    listed = registry.list_registered(tmp_path)
    assert [(d["name"], d["kind"], d["rows"], d["source"]) for d in listed] == [
        ("insurer_faq", "qa", 395, "insurer_faq.csv"),
        ("my_chats", "conversations", 1, "sharegpt.json"),
    ]
    assert listed[0]["path"] == str(path)
    meta = json.loads((tmp_path / "insurer_faq.meta.json").read_text())
    assert set(meta) == {"name", "kind", "rows", "source", "registered_at"}

    loaded = registry.load_registered("insurer_faq", tmp_path)
    assert loaded == Dataset("insurer_faq", "qa", load_file(ASSETS / "insurer_faq.csv").records,
                                  "insurer_faq.csv")
    # the registered file is itself a valid input file
    assert load_file(path).records == loaded.records
    assert registry.load_registered("my_chats", tmp_path).records == load_file(GOOD / "sharegpt.json").records
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_register_again_replaces_after_validating(tmp_path):
    registry.register(ASSETS / "test_brief.csv", name="faq", datasets_dir=tmp_path)
    registry.register(GOOD / "prompt_response.jsonl", name="faq", datasets_dir=tmp_path)
    assert [d["rows"] for d in registry.list_registered(tmp_path)] == [2]
    assert registry.load_registered("faq", tmp_path).source == "prompt_response.jsonl"


def test_register_refuses_a_name_without_usable_characters(tmp_path):
    with pytest.raises(DataError, match="cannot make a dataset name from '日本'"):
        registry.register(GOOD / "sharegpt.json", name="日本", datasets_dir=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_load_registered_unknown_name_lists_the_known_ones(tmp_path):
    registry.register(ASSETS / "test_brief.csv", datasets_dir=tmp_path)
    with pytest.raises(DataError, match=r"no dataset named 'nope' is registered \(registered: test_brief\)") as refused:
        registry.load_registered("nope", tmp_path)
    assert str(tmp_path) not in str(refused.value)  # no server path shown to a visitor
    assert registry.list_registered(tmp_path / "missing") == []


def test_register_uses_the_data_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CQA_DATA_DIR", str(tmp_path / "store"))
    registry.register(GOOD / "prompt_response.jsonl")
    assert (tmp_path / "store" / "prompt_response.jsonl").is_file()
    assert registry.load_registered("prompt_response").kind == "qa"


def test_preview():
    qa = preview(load_file(ASSETS / "insurer_faq.csv"))
    assert list(qa.columns) == ["question", "answer"] and len(qa) == 20
    chats = preview(load_file(GOOD / "sharegpt.json"), rows=5)
    assert chats.to_dict("records") == [{"turns": 2, "conversation": "user: What is Y?\nassistant: Y is a rider."}]


# ---------------------------------------------------------------- split and subset


@pytest.mark.parametrize(
    "n, val_fraction, n_val",
    [(0, 0.1, 0), (1, 0.1, 0), (2, 0.1, 1), (10, 0.1, 1), (25, 0.1, 3), (395, 0.1, 40), (10, 0.5, 5), (10, 0.0, 0),
     (3, 0.9, 2)],
)
def test_split_sizes(n, val_fraction, n_val):
    records = list(range(n))
    train, val = split(records, val_fraction)
    assert (len(train), len(val)) == (n - n_val, n_val)
    assert sorted(train + val) == records
    assert train == sorted(train) and val == sorted(val)  # original order kept within each part


def test_split_is_seeded():
    records = list(range(100))
    assert split(records, seed=1) == split(records, seed=1)
    assert split(records, seed=1) != split(records, seed=2)
    with pytest.raises(ValueError):
        split(records, val_fraction=1.0)


@pytest.mark.parametrize("size, count", [(200, 200), (1, 1), (395, 395), (0.5, 198), (1.0, 395), (0.001, 1)])
def test_subset_sizes(size, count):
    records = list(range(395))
    chosen = subset(records, size)
    assert len(chosen) == count and len(set(chosen)) == count and set(chosen) <= set(records)


def test_subsets_are_seeded_and_nested():
    records = [f"r{i}" for i in range(1000)]
    small, medium, large = (subset(records, size, seed=3) for size in (200, 400, 800))
    assert set(small) < set(medium) < set(large)
    assert subset(records, 200, seed=3) == small
    assert subset(records, 200, seed=4) != small


@pytest.mark.parametrize("size, message", [(800, "asked for 800 records but the dataset has only 395"),
                                           (0, "at least 1"), (1.5, r"fraction must be in \(0, 1\]"),
                                           (True, "count")])
def test_subset_refuses_bad_sizes(size, message):
    with pytest.raises(ValueError, match=message):
        subset(list(range(395)), size)


# ---------------------------------------------------------------- examples


def test_qa_examples():
    records = [{"question": "What is X?", "answer": "X is a plan.", "topic": "general"}]
    assert qa_examples(records) == [Example([{"role": "user", "content": "What is X?"}], "X is a plan.")]


def turns(*contents):
    return [{"role": "user" if c.startswith("u") else "assistant", "content": c} for c in contents]


FOUR_EXCHANGES = {"turns": turns("u1", "a1", "u2", "a2", "u3", "a3", "u4", "a4")}


@pytest.mark.parametrize(
    "conversation, n_previous, expected",
    [
        (FOUR_EXCHANGES, 2, [(["u1"], "a1"), (["u1", "a1", "u2"], "a2"), (["u2", "a2", "u3"], "a3"),
                             (["u3", "a3", "u4"], "a4")]),
        # a window of 1 would start at the assistant turn, which is dropped
        (FOUR_EXCHANGES, 1, [(["u1"], "a1"), (["u2"], "a2"), (["u3"], "a3"), (["u4"], "a4")]),
        (FOUR_EXCHANGES, 0, [(["u1"], "a1"), (["u2"], "a2"), (["u3"], "a3"), (["u4"], "a4")]),
        (FOUR_EXCHANGES, 3, [(["u1"], "a1"), (["u1", "a1", "u2"], "a2"), (["u2", "a2", "u3"], "a3"),
                             (["u3", "a3", "u4"], "a4")]),
        (FOUR_EXCHANGES, 7, [(["u1"], "a1"), (["u1", "a1", "u2"], "a2"), (["u1", "a1", "u2", "a2", "u3"], "a3"),
                             (["u1", "a1", "u2", "a2", "u3", "a3", "u4"], "a4")]),
        # an opening assistant greeting answers no user turn: no example for it, and windows never start with it
        ({"turns": turns("a0", "u1", "a1", "u2", "a2")}, 7, [(["u1"], "a1"), (["u1", "a1", "u2"], "a2")]),
    ],
)
def test_dialogue_examples(conversation, n_previous, expected):
    examples = dialogue_examples([conversation], n_previous=n_previous)
    assert [([m["content"] for m in e.messages], e.answer) for e in examples] == expected
    for e in examples:
        assert e.messages[0]["role"] == "user" and e.messages[-1]["role"] == "user"
        assert [m["role"] for m in e.messages] == ["user", "assistant"] * (len(e.messages) // 2) + ["user"]


def test_dialogue_examples_default_window_and_plain_turn_lists():
    conversation = turns(*[f"{w}{i}" for i in range(1, 7) for w in "ua"])
    last = dialogue_examples([conversation])[-1]  # default n_previous=7: 7 earlier turns + u6, then trimmed
    assert [m["content"] for m in last.messages] == ["u3", "a3", "u4", "a4", "u5", "a5", "u6"]
    assert len(dialogue_examples(load_file(ASSETS / "memory_bench.jsonl").records)) == 99



@pytest.mark.parametrize(
    "value, expected",
    [("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-0.5", "-0.5"), ("+3", "+3"), ("a = b", "a = b"), ("", ""),
     (-1.5, -1.5), (7, 7), (None, None)],
)
def test_csv_safe_escapes_formula_cells_only(value, expected):
    assert files.csv_safe(value) == expected


def test_csv_safe_frame_writes_a_csv_without_formulas(tmp_path):
    frame = pandas.DataFrame({"model": ["=HYPERLINK(\"http://x\")", "SmolLM2"], "rougeL": [-1.0, 42.5],
                              "@note": ["-ok", "fine"]})
    files.csv_safe_frame(frame).to_csv(tmp_path / "out.csv", index=False)
    with (tmp_path / "out.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["model", "rougeL", "'@note"], ["'=HYPERLINK(\"http://x\")", "-1.0", "'-ok"],
                    ["SmolLM2", "42.5", "fine"]]
    assert frame.loc[0, "model"].startswith("=")  # the original is left as it was
