#!/usr/bin/env bash
# Start the app the way a Hugging Face Space does, and check that the page answers:
# a fresh venv, `pip install -r requirements.txt` alone, `python app.py` with the variables a Space sets
# (SPACE_ID, GRADIO_SERVER_NAME=0.0.0.0, GRADIO_SERVER_PORT), then GET http://127.0.0.1:<port>/ must answer 200
# with the app's title. Run from CI after the tests; PYTHON picks the interpreter (3.11, as the README's front
# matter asks of the Space).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
TITLE="Conversational QA Studio"
# The venv (about 2 GB) in memory when there is room: on a slow disk, writing and deleting it was most of the time.
if [ -z "${SPACE_CHECK_DIR:-}" ] && [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -gt 4000000 ]; then
    SPACE_CHECK_DIR=/dev/shm
fi
work=$(mktemp -d -p "${SPACE_CHECK_DIR:-${TMPDIR:-/tmp}}")
app_pid=""
cleanup() {
    if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s)
"$PYTHON" -m venv "$work/venv"
# (this machine's pip configuration names index folders that lack some packages: pip warns for each; not shown)
"$work/venv/bin/pip" install --disable-pip-version-check -q -r requirements.txt 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
echo "space check: pip install -r requirements.txt took $(( $(date +%s) - start )) s"

port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# HOME and the app's folders in the temporary directory: nothing of the check is left behind.
env -u CQA_SHARED -u CQA_AUTH -u CQA_AUTH_FILE -u HF_HUB_OFFLINE \
    HOME="$work/home" CQA_CACHE_DIR="$work/cache" CQA_RUNS_DIR="$work/runs" CQA_DATA_DIR="$work/data" \
    SPACE_ID="ci/conversational-qa-studio" GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT="$port" \
    OMP_NUM_THREADS=1 "$work/venv/bin/python" app.py >"$work/app.log" 2>&1 &
app_pid=$!

launched=$(date +%s)
for _ in $(seq 1 180); do
    if ! kill -0 "$app_pid" 2>/dev/null; then
        echo "space check: the app exited before serving:"; cat "$work/app.log"; exit 1
    fi
    if page=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/" 2>/dev/null); then
        if grep -q "$TITLE" <<<"$page"; then
            echo "space check: http://127.0.0.1:$port/ answered with \"$TITLE\" $(( $(date +%s) - launched )) s after start"
            grep -m1 "shared mode" "$work/app.log" || true
            if ! grep -q "shared mode on" "$work/app.log"; then echo "space check: shared mode is not on"; exit 1; fi
            exit 0
        fi
        echo "space check: the page answered without the title \"$TITLE\""; exit 1
    fi
    sleep 1
done
echo "space check: no answer on port $port within 180 s:"; cat "$work/app.log"; exit 1
