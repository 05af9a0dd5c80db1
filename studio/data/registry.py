"""The registry of datasets added in the Training tab: each is validated once (studio/data/qa.py), then kept as
<data folder>/<name>.jsonl + <name>.meta.json. The data folder is studio.core.paths.data_dir(), read at call time
($CQA_DATA_DIR, persistent storage, else ./data); every function also takes an explicit folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from studio.core import paths
from studio.data.files import DataError
from studio.data.qa import Dataset, load_file


def register(path, name: str | None = None, question_column=None, answer_column=None,
             datasets_dir: Path | None = None) -> Path:
    """Validate `path`, then save it as <datasets_dir>/<name>.jsonl + <name>.meta.json; return the .jsonl path.

    Nothing is written when the file has a problem, so a dataset already registered under that name survives.
    """
    dataset = load_file(path, question_column, answer_column)
    name = _safe_name(name or Path(path).stem)
    folder = Path(datasets_dir or paths.data_dir())
    folder.mkdir(parents=True, exist_ok=True)
    data_path = folder / f"{name}.jsonl"
    meta = {"name": name, "kind": dataset.kind, "rows": len(dataset.records), "source": dataset.source,
            "registered_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write_atomic(data_path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dataset.records))
    _write_atomic(folder / f"{name}.meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return data_path


def load_registered(name: str, datasets_dir: Path | None = None) -> Dataset:
    folder = Path(datasets_dir or paths.data_dir())
    name = _safe_name(name)
    data_path = folder / f"{name}.jsonl"
    if not data_path.is_file():
        known = ", ".join(d["name"] for d in list_registered(folder)) or "none"
        raise DataError([f"no dataset named {name!r} is registered (registered: {known})"])
    meta_path = folder / f"{name}.meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    lines = data_path.read_text(encoding="utf-8").split("\n")
    records = [json.loads(line) for line in lines if line.strip()]
    kind = meta.get("kind") or ("conversations" if records and "turns" in records[0] else "qa")
    return Dataset(name=name, kind=kind, records=records, source=meta.get("source", data_path.name))


def list_registered(datasets_dir: Path | None = None) -> list[dict]:
    """[{"name", "kind", "rows", "source", "path", "registered_at"}] sorted by name; unreadable entries are skipped."""
    folder = Path(datasets_dir or paths.data_dir())
    found = []
    for meta_path in sorted(folder.glob("*.meta.json")):
        name = meta_path.name[: -len(".meta.json")]
        data_path = folder / f"{name}.jsonl"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data_path.is_file():
            found.append({"name": name, "kind": meta.get("kind"), "rows": meta.get("rows"),
                          "source": meta.get("source"), "path": str(data_path),
                          "registered_at": meta.get("registered_at")})
    return found


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^a-z0-9_-]+", "_", str(name).lower()).strip("_-")
    if not safe:
        raise DataError([f"cannot make a dataset name from {name!r}; give a name with letters a-z, digits, _ or -"])
    return safe


def _write_atomic(path: Path, text: str) -> None:
    # A temp file in the same folder + os.replace: readers see the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
