"""A damaged collection fails alone, and a kill never damages one. Each kind of damage from the issue is listed with
its reason while the other collection keeps working, the damaged one can be deleted, and rebuilt from its stored
files when it has them. Each write step of add, replace, remove, copy, rebuild and delete is interrupted in a
forked child by os._exit (as kill -9 would: no cleanup runs), and what is left on disk must read back as exactly the
old collection or the new one. Embeddings are words hashed into vectors: what is tested is the files, not MiniLM."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import traceback
import zlib
from pathlib import Path

import numpy as np
import pytest

from studio import cli
from studio.knowledge import embeddings, store
from studio.knowledge.collection import DamagedCollection, KnowledgeError
from studio.knowledge.collection_files import META, ORIGINALS, OURS, TRASH_PREFIX
from studio.ui import knowledge_form

DATA = Path(__file__).parent / "data" / "knowledge"
QUESTION, ANSWER = "yearly membership fee rupees juniors", "handbook.md § 1.1 Fees"
OTHER_QUESTION = "Where is the bank account held?"


class Words:
    """A stand-in for MiniLM: a text's words hashed into its dimensions, normalised; the same text, the same vector."""

    def encode(self, texts: list[str], **_) -> np.ndarray:
        vectors = np.zeros((len(texts), embeddings.DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % embeddings.DIMENSION] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A knowledge folder with "club" (handbook and FAQ) and "other" (notes)."""
    monkeypatch.setattr(embeddings, "embedder", Words)
    monkeypatch.setenv("CQA_KNOWLEDGE_DIR", str(tmp_path / "knowledge"))
    store._cache.clear()
    store.create("club", [DATA / "handbook.md", DATA / "club_faq.csv"])
    store.create("other", [DATA / "notes.txt"])
    yield tmp_path / "knowledge"
    store._cache.clear()


def stored(folder: Path, part: str) -> Path:
    return folder / json.loads((folder / META).read_text())["stored"][part]["file"]


def rewrite_passages(folder: Path, change) -> None:
    """Change the passages file and record its new size and sha256 in collection.json, as a save would: damage that
    the checksums cannot see, left to the counts to find."""
    import hashlib

    path = stored(folder, "passages")
    path.write_bytes(change(path.read_bytes()))
    meta = json.loads((folder / META).read_text())
    data = path.read_bytes()
    meta["stored"]["passages"] |= {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / META).write_text(json.dumps(meta))


def to_legacy(folder: Path) -> None:
    """The collection as saved before generations: passages.jsonl, dense.faiss, no checksums, no originals."""
    stored(folder, "passages").rename(folder / "passages.jsonl")
    stored(folder, "dense").rename(folder / "dense.faiss")
    meta = json.loads((folder / META).read_text())
    (folder / META).write_text(json.dumps({k: v for k, v in meta.items() if k not in ("generation", "stored")}))
    shutil.rmtree(folder / ORIGINALS)


def drop_last_line(data: bytes) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:-1])


def bad_line(data: bytes) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(lines[:2] + [b'{"text": "cut\n'] + lines[3:])


DAMAGE = {  # kind -> (what it does to the folder, the reason listed)
    "garbled collection.json": (lambda f: (f / META).write_text('{"files": {"handbook.md": '),
                                "collection.json is not valid JSON"),
    "empty collection.json": (lambda f: (f / META).write_text(""), "collection.json is empty"),
    "collection.json without files": (lambda f: (f / META).write_text("[]"), "collection.json lacks its list of files"),
    "missing passages file": (lambda f: stored(f, "passages").unlink(), "passages.1.jsonl is missing"),
    "missing dense file": (lambda f: stored(f, "dense").unlink(), "dense.1.faiss is missing"),
    "truncated dense file": (lambda f: os.truncate(stored(f, "dense"), stored(f, "dense").stat().st_size // 2),
                             "dense.1.faiss is"),
    "edited passages file": (lambda f: stored(f, "passages").write_bytes(
        stored(f, "passages").read_bytes().replace(b"Fees", b"FEES", 1)), "passages.1.jsonl does not match its sha256"),
    "one bad JSONL line": (lambda f: rewrite_passages(f, bad_line), "passages.1.jsonl line 3 is not a passage"),
    "vector/passage count mismatch": (lambda f: rewrite_passages(f, drop_last_line), "vectors for"),
    "legacy: one bad JSONL line": (lambda f: (to_legacy(f), (f / "passages.jsonl").write_bytes(
        bad_line((f / "passages.jsonl").read_bytes()))), "passages.jsonl line 3 is not a passage"),
    "legacy: vectors for fewer passages (the issue's kill)": (lambda f: (to_legacy(f), (
        f / "passages.jsonl").write_bytes(drop_last_line((f / "passages.jsonl").read_bytes()))), "vectors for"),
    "legacy: truncated dense.faiss": (lambda f: (to_legacy(f), os.truncate(f / "dense.faiss", 100)),
                                      "dense.faiss is not a readable FAISS index"),
}


def other_still_works() -> None:
    assert store.retrieve("other", OTHER_QUESTION, k=1)[0].file == "notes.txt"


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_collection_is_listed_with_its_reason_and_the_others_work(root, kind, capsys):
    damage, reason = DAMAGE[kind]
    damage(root / "club")
    store._cache.clear()  # a restart
    infos = {info.name: info for info in store.list_collections()}
    assert reason in infos["club"].damaged and not infos["other"].damaged
    assert infos["other"].files == {"notes.txt": 1}
    if "collection.json" not in kind:
        assert set(infos["club"].files) == {"handbook.md", "club_faq.csv"}, "its files, as collection.json says"
    for use in (lambda: store.retrieve("club", QUESTION), lambda: store.passages("club"), lambda: store.meta("club"),
                lambda: store.add_files("club", [DATA / "club_page.html"]), lambda: store.delete("club", "notes.txt")):
        with pytest.raises(DamagedCollection, match="is damaged: .*Delete it, or rebuild it"):
            use()
    other_still_works()
    assert "club" in [row[0] for row in knowledge_form.collection_rows()], "the Knowledge tab's table is drawn"
    assert cli.knowledge(["list"]) == 0 and f"club: damaged: {infos['club'].damaged}" in capsys.readouterr().out


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_collection_can_be_deleted(root, kind):
    DAMAGE[kind][0](root / "club")
    store._cache.clear()
    assert store.delete("club") == "Deleted collection 'club'"
    assert [info.name for info in store.list_collections()] == ["other"]
    assert sorted(p.name for p in root.iterdir()) == ["other"], "nothing left, not even a hidden folder"
    other_still_works()


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_collection_is_rebuilt_from_its_stored_files_or_says_which_to_add_again(root, kind):
    DAMAGE[kind][0](root / "club")
    store._cache.clear()
    if kind.startswith("legacy"):
        before = {p: p.read_bytes() for p in (root / "club").rglob("*") if p.is_file()}
        with pytest.raises(KnowledgeError, match="no stored copy of handbook.md, club_faq.csv .*add its files again"):
            store.rebuild("club")
        assert {p: p.read_bytes() for p in (root / "club").rglob("*") if p.is_file()} == before, "nothing changed"
        return
    assert store.rebuild("club") == {"handbook.md": 6, "club_faq.csv": 3}
    (info, _) = store.list_collections()
    assert info.name == "club" and not info.damaged and info.files == {"handbook.md": 6, "club_faq.csv": 3}
    assert store.retrieve("club", QUESTION, k=1)[0].citation == ANSWER
    assert_tidy(root / "club")


def test_rebuild_on_the_cli_and_a_copy_is_not_rebuilt(root, capsys):
    DAMAGE["missing dense file"][0](root / "club")
    assert cli.knowledge(["rebuild", "club"]) == 0 and "club_faq.csv: 3 passages" in capsys.readouterr().out
    store.copy_without("club", "club.copy", {0})
    with pytest.raises(KnowledgeError, match="a copy of 'club' with Q/A pairs held out"):
        store.rebuild("club.copy")


def test_a_legacy_collection_loads_and_moves_to_generations_at_its_next_save(root):
    to_legacy(root / "club")
    store._cache.clear()
    assert store.retrieve("club", QUESTION, k=1)[0].citation == ANSWER
    assert store.original_file("club", "handbook.md") is None, "made before copies were kept"
    store.add_files("club", [DATA / "club_page.html"])
    assert not (root / "club" / "passages.jsonl").exists() and not (root / "club" / "dense.faiss").exists()
    assert store.retrieve("club", QUESTION, k=1)[0].citation == ANSWER
    assert store.original_file("club", "club_page.html").read_bytes() == (DATA / "club_page.html").read_bytes()
    assert_tidy(root / "club", every_original=False)


def test_original_file_is_the_added_file_and_never_a_path(root):
    kept = store.original_file("club", "handbook.md")
    assert kept.name == "handbook.md" and kept.read_bytes() == (DATA / "handbook.md").read_bytes()
    for bad in ("../other/collection.json", "/etc/passwd", "originals", "missing.md", ""):
        with pytest.raises(KnowledgeError, match="is not in collection 'club'"):
            store.original_file("club", bad)
    with pytest.raises(KnowledgeError, match="No collection named 'nope'"):
        store.original_file("nope", "handbook.md")
    store.copy_without("club", "club.copy", {0})
    assert store.original_file("club.copy", "handbook.md").read_bytes() == kept.read_bytes()
    assert os.stat(store.original_file("club.copy", "handbook.md")).st_ino == os.stat(kept).st_ino, "a hard link"
    store.delete("club", "handbook.md")
    assert not (root / "club" / ORIGINALS / json.loads((root / "club.copy" / META).read_text())["files"][
        "handbook.md"]["sha256"]).exists(), "the removed file's copy went with it"
    assert store.original_file("club.copy", "handbook.md").is_file(), "the copy keeps its own"


def test_a_name_with_spaces_adds_to_the_collection_it_names(root):
    assert store.add_files(" club ", [DATA / "notes.txt"]) == {"notes.txt": 1}
    assert set(store.meta("club")["files"]) == {"handbook.md", "club_faq.csv", "notes.txt"}


def test_a_collection_saved_while_it_is_listed_is_never_seen_damaged(root):
    """A listing that read collection.json just before a save removed the files it named reads it again (without
    that, a listing here saw "dense.66.faiss is missing", and one failed on the cache entry the save dropped)."""
    done, failed = threading.Event(), []

    def saves():
        try:
            for _ in range(100):
                store.add_files("club", [DATA / "notes.txt"], replace=True)
        except KnowledgeError as e:
            failed.append(e)
        finally:
            done.set()

    saver = threading.Thread(target=saves)
    saver.start()
    seen = []
    while not done.is_set():
        store._cache.clear()
        seen += [info.damaged for info in store.list_collections() if info.damaged]
    saver.join()
    assert not seen and not failed


def test_a_folder_without_collection_json_is_an_add_that_never_finished(root):
    (root / "half").mkdir()
    (root / "half" / "passages.1.jsonl").write_text("{}\n")
    (root / ".deleting-gone-1234").mkdir()
    assert [info.name for info in store.list_collections()] == ["club", "other"]
    assert not (root / ".deleting-gone-1234").exists(), "a deletion's leftover is cleared"
    with pytest.raises(KnowledgeError, match="No collection named 'half'"):
        store.rebuild("half")
    assert store.add_files("half", [DATA / "notes.txt"]) == {"notes.txt": 1}
    assert_tidy(root / "half")


# ------------------------------------------------------------------------------------------------ kill -9


def assert_tidy(folder: Path, every_original: bool = True) -> None:
    """After a finished save: one generation, only the originals collection.json names (with `every_original`,
    each of them), no temporary files."""
    meta = json.loads((folder / META).read_text())
    ours = sorted(p.name for p in folder.iterdir() if OURS.fullmatch(p.name))
    assert ours == sorted([META, meta["stored"]["passages"]["file"], meta["stored"]["dense"]["file"]])
    kept = {str(p.relative_to(folder)) for p in (folder / ORIGINALS).rglob("*") if p.is_file()}
    named = {f"{ORIGINALS}/{info['sha256']}/{file}" for file, info in meta["files"].items()}
    assert kept == named if every_original else kept <= named
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(TRASH_PREFIX)]


def changed_handbook(tmp: Path) -> Path:
    (tmp / "changed").mkdir(exist_ok=True)
    (tmp / "changed" / "handbook.md").write_text("# Handbook\n\n## Fees\n\nThe yearly fee is 1,500 rupees for a "
                                                  "junior.\n")
    return tmp / "changed" / "handbook.md"


OPERATIONS = {  # name -> (the collection it changes, the change)
    "add to a new collection": ("fresh", lambda tmp: store.add_files("fresh", [DATA / "notes.txt"])),
    "add to a collection": ("club", lambda tmp: store.add_files("club", [DATA / "club_page.html"])),
    "replace a file": ("club", lambda tmp: store.add_files("club", [changed_handbook(tmp)], replace=True)),
    "remove a file": ("club", lambda tmp: store.delete("club", "club_faq.csv")),
    "hold-out copy over an older one": ("club.copy", lambda tmp: store.copy_without("club", "club.copy", {5, 6})),
    "rebuild": ("club", lambda tmp: store.rebuild("club")),
    "delete a collection": ("club", lambda tmp: store.delete("club")),
}
WRITES = ("mkdir", "replace", "rename", "unlink", "rmdir", "link")
"""The os calls that change a folder: a kill just before each of them is a kill at each write step (rmtree's
unlinks included)."""
CRASHED, FAILED = 9, 3


def killed_at(step: int, change) -> int:
    """Run `change` in a forked child that exits at once, as if killed, just before its `step`-th write; the child's
    exit code: CRASHED, or 0 when `change` finished with fewer writes."""
    pid = os.fork()
    if pid == 0:
        try:
            writes = 0

            def counted(real):
                def write(*args, **kwargs):
                    nonlocal writes
                    writes += 1
                    if writes == step:
                        os._exit(CRASHED)
                    return real(*args, **kwargs)
                return write

            for name in WRITES:
                setattr(os, name, counted(getattr(os, name)))
            change()
        except BaseException:  # noqa: BLE001 - the child reports any failure by its exit code
            traceback.print_exc()
            os._exit(FAILED)
        os._exit(0)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(f"the child killed at write {step} hung")
        time.sleep(0.005)
    return os.waitstatus_to_exitcode(done[1])


def state(name: str):
    """What a restarted app sees of collection `name` (None: no such collection), after checking that the listing
    works, that nothing is damaged and that the other collection answers."""
    store._cache.clear()
    infos = {info.name: info for info in store.list_collections()}
    assert not [info for info in infos.values() if info.damaged]
    other_still_works()
    if name not in infos:
        return None
    return (infos[name].files, [(p.id, p.file, p.text) for p in store.passages(name)],
            [p.citation for p in store.retrieve(name, QUESTION, k=3)])


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_kill_at_any_write_step_leaves_the_old_or_the_new_collection(root, tmp_path, operation, monkeypatch):
    name, change = OPERATIONS[operation]
    store.copy_without("club", "club.copy", {0})
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine)
    old = state(name)
    change(tmp_path)
    new = state(name)
    assert new != old or operation == "rebuild"
    seen, step = set(), 0
    while True:
        step += 1
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        store._cache.clear()
        code = killed_at(step, lambda: change(tmp_path))
        assert code in (CRASHED, 0), f"the change failed in the child (exit {code}) before write {step}"
        after = state(name)
        assert after in (old, new), f"killed before write {step}: neither the old nor the new {name!r}"
        seen.add("old" if after == old else "new")
        if code == 0:
            break
        # the next save clears what the kill left behind
        store.add_files(name, [DATA / "club_pairs.jsonl"])
        assert_tidy(root / name)
    assert step > 3 and seen == ({"old", "new"} if operation != "rebuild" else {"old"}), (step, seen)


def test_the_app_starts_with_a_damaged_collection_and_the_knowledge_tab_offers_delete_and_rebuild(root, tiny_models):
    """The issue's kill: passages replaced, the index not yet. The app used to exit at start on it."""
    import app
    from studio.ui import knowledge

    to_legacy(root / "club")
    (root / "club" / "dense.faiss").write_bytes((root / "club" / "dense.faiss").read_bytes()[:100])
    demo = app.build_app(default_model=f"folder:{tiny_models['llama']}", compare_model=f"folder:{tiny_models['gpt2']}")
    assert demo is not None
    rows, picker, files = knowledge.page_view()
    damaged = [row for row in rows if row[0] == "club"]
    assert len(damaged) == 1 and damaged[0][1].startswith("⚠️ damaged: ")
    assert {"club", "other"} <= {value for _, value in picker.choices}
    assert knowledge_form.file_choices("club") == [("(the whole collection)", "")]
    with pytest.raises(knowledge_form.KnowledgeFormError, match="handbook.md"):
        knowledge_form.rebuild("club")  # a legacy collection kept no copies: the files to add again are named
    assert knowledge_form.delete("club", "").startswith("🗑️ Deleted collection 'club'")
    assert [row[0] for row in knowledge_form.collection_rows()] == ["other"]


def test_a_damaged_collection_with_stored_files_is_rebuilt_from_the_knowledge_tab(root):
    stored(root / "club", "dense").write_bytes(b"")
    assert knowledge_form.collection_rows()[0][1].startswith("⚠️ damaged: ")
    message = knowledge_form.rebuild("club")
    assert message.startswith("🔁 Rebuilt **club** from its stored files: handbook.md (")
    assert [row[1] for row in knowledge_form.collection_rows() if row[0] == "club"] == ["handbook.md", "club_faq.csv"]


def test_a_cited_source_opens_from_the_copy_the_collection_keeps(root):
    """The chat's "Open a source" reads the collection's own copy of the file (studio/ui/chat_sources.py)."""
    from studio.ui import chat_sources

    passage = store.retrieve("club", QUESTION, k=1)[0].to_dict() | {"used": [], "collection": "club"}
    image, kept, note = chat_sources.open_source("1:1", {1: [passage]})
    assert image is None and Path(kept).name == passage["file"]
    assert Path(kept).read_bytes() == (DATA / passage["file"]).read_bytes()
    assert "the whole file, as it was added" in note
