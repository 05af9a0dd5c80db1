"""Several users chatting at once: concurrent Chat sessions through gradio_client, with no cross-talk.

Each session states a different name ("My name is Ada.") and asks it back ("What is my name?") under full-buffer
memory. A session's second prompt (the Chat tab's prompt panel) must hold its own name and no other session's;
one that holds another's is cross-talk. Every reply must be non-empty. Latency is per turn, from submit to the
last streamed piece, so it includes waiting in the app's queue (one generation at a time by default). Then the
same again while a LoRA training job runs in the app's job queue.

    python bench/load.py                                 # starts app.py on a free port, 8 sessions, Qwen-0.5B
    python bench/load.py --url http://127.0.0.1:7860/    # an app already running (--no-training spares its queue)
    python bench/load.py --sessions 16 --model bundled:smollm2-135m-instruct

Ends with `cross_talk: N` (the goal is 0) summed over both phases.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["Ada", "Bram", "Chidi", "Dagny", "Emeka", "Fumiko", "Gustavo", "Hana", "Ilse", "Joaquim", "Kofi", "Lucia",
         "Mateus", "Nadia", "Oskar", "Priya"]
START_TIMEOUT_S = 300


@dataclass
class Session:
    name: str
    latencies: list[float] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    prompt: str = ""
    error: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(model: str, folder: Path) -> tuple[subprocess.Popen, str, Path]:
    """app.py on a free loopback port, its runs and data in `folder`; returns (process, url, log file)."""
    port = free_port()
    env = {**os.environ, "CQA_RUNS_DIR": str(folder / "runs"), "CQA_DATA_DIR": str(folder / "data"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("OMP_NUM_THREADS", None)
    log = folder / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
                                    "--model", model], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"app.py exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return process, url, log
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit(f"app.py did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def reply_text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def converse(url: str, session: Session, model: str, max_new_tokens: int, start: threading.Barrier) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        start.wait()
        for text in (f"My name is {session.name}.", "What is my name?"):
            began = time.perf_counter()
            chatbot, _box, prompt, *_rest = client.predict(
                message=text, model=model, memory_kind="buffer", max_new_tokens=max_new_tokens, temperature=0.0,
                api_name="/chat")
            session.latencies.append(time.perf_counter() - began)
            session.replies.append(reply_text(chatbot[-1]).strip() if chatbot else "")
            session.prompt = prompt
    except Exception as e:  # noqa: BLE001 - any failure of one session is reported, the others go on
        session.error = f"{type(e).__name__}: {e}"


def run_phase(url: str, label: str, count: int, model: str, max_new_tokens: int) -> tuple[int, int]:
    """`count` concurrent sessions; prints the phase's numbers and returns (cross-talk, sessions that failed)."""
    sessions = [Session(NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else str(i))) for i in range(count)]
    start = threading.Barrier(count)
    threads = [threading.Thread(target=converse, args=(url, s, model, max_new_tokens, start)) for s in sessions]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    names = {s.name for s in sessions}
    cross_talk = sum(bool(names - {s.name} & set(s.prompt.replace(".", " ").replace(",", " ").split()))
                     for s in sessions if not s.error)
    own = sum(s.name in s.prompt for s in sessions if not s.error)
    answered = sum(len(s.replies) == 2 and all(s.replies) for s in sessions)
    recalled = sum(bool(s.replies) and s.name in s.replies[-1] for s in sessions)
    latencies = sorted(t for s in sessions for t in s.latencies)
    print(f"\n{label}: {count} sessions x 2 turns in {wall:.1f} s")
    for s in sessions:
        shown = " | ".join(r[:60] for r in s.replies) or "-"
        print(f"  {s.name:8s} {shown}" + (f"  ERROR {s.error}" if s.error else ""))
    if latencies:
        p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
        print(f"  turn latency p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s")
    print(f"  answered {answered}/{count}, own name in the second prompt {own}/{count}, "
          f"recalled in the reply {recalled}/{count}, errors {sum(bool(s.error) for s in sessions)}, "
          f"cross-talk {cross_talk}")
    return cross_talk, count - answered


def start_training(url: str, model: str) -> str:
    """A one-epoch LoRA job on the sample data through the Training tab's API, once it is running (it is stopped
    when the phase ends)."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    run_id = client.predict(model=model, data="assets/insurer_faq.csv", api_name="/start_training")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until its first optimizer step is done: the model is loaded and training
        status = client.predict(run_id, api_name="/run_status")
        if status.get("state") not in ("queued", "running"):
            sys.exit(f"the training job did not run: {status.get('state')}: {status.get('message')}")
        if (status.get("step") or 0) >= 1:
            return run_id
        time.sleep(1)
    sys.exit("the training job did not reach its first step within 300 s")


def stop_training(url: str, run_id: str) -> str:
    from gradio_client import Client

    client = Client(url, verbose=False)
    status = client.predict(run_id, api_name="/run_status")
    progress = f"at step {status.get('step')}/{status.get('total_steps', '?')}, {status.get('state')}"
    return f"{progress}; {client.predict(run_id, api_name='/stop_training')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an app already running (default: start app.py on a free port)")
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--model", default="bundled:qwen2.5-coder-0.5b-instruct", help="the chat model")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--no-training", action="store_true", help="skip the phase with a training job running")
    parser.add_argument("--train-model", default="bundled:smollm2-135m-instruct", help="the training job's base model")
    args = parser.parse_args()
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    with tempfile.TemporaryDirectory(prefix="cqa-load-") as tmp:
        process = None
        url = args.url
        if url is None:
            process, url, _log = start_app(args.model, Path(tmp))
        try:
            print(f"app {url}, model {args.model}, {args.sessions} sessions, {args.max_new_tokens} new tokens")
            run_phase(url, "warm-up (1 session, loads the model)", 1, args.model, args.max_new_tokens)
            cross_talk, failed = run_phase(url, "chat only", args.sessions, args.model, args.max_new_tokens)
            if not args.no_training:
                run_id = start_training(url, args.train_model)
                print(f"\ntraining job {run_id} started")
                more = run_phase(url, "while training", args.sessions, args.model, args.max_new_tokens)
                cross_talk, failed = cross_talk + more[0], failed + more[1]
                print(f"training job: {stop_training(url, run_id)}")
        finally:
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    print(f"unanswered: {failed}")
    print(f"cross_talk: {cross_talk}")


if __name__ == "__main__":
    main()
