"""The run folder: the only contract between the UI, the job runner and a training subprocess.

runs/<id>/
  config.json      the resolved job config (what made everything else here)
  status.json      state (queued | running | finished | stopped | failed), message, pid, step/total, times
  metrics.jsonl    one JSON object per line: training steps and per-epoch validation
  log.txt          the subprocess's log
  summary.json     runtime, tokens/s, peak RAM, losses (written when the job ends)
  adapter/         the PEFT adapter (adapter_config.json + adapter_model.safetensors)
  checkpoint/      the latest resumable state (adapter, optimizer, scheduler, position)
  merged/          optional: base model with the adapter merged in
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.jsonl"
LOG = "log.txt"
SUMMARY = "summary.json"
ADAPTER = "adapter"
CHECKPOINT = "checkpoint"
MERGED = "merged"

STATES = ("queued", "running", "finished", "stopped", "failed")
ENDED = ("finished", "stopped", "failed")


def write_json(path: Path, value: dict) -> None:
    """Atomic: a reader (the UI polling every second) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(value, f, indent=2)
    os.replace(f.name, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def update_status(run_dir: Path, **fields) -> dict:
    status = read_json(run_dir / STATUS)
    status.update(fields, updated_at=time.time())
    write_json(run_dir / STATUS, status)
    return status


def append_metric(run_dir: Path, record: dict) -> None:
    with open(run_dir / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_metrics(run_dir: Path) -> list[dict]:
    try:
        lines = (run_dir / METRICS).read_text().splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written right now
    return records


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
