"""bench/gpu_check.py runs where CI runs: without a CUDA GPU it says so and exits 0 (on a GPU it is run by hand)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the check itself is run, by hand")
def test_the_gpu_check_skips_cleanly_without_a_gpu():
    done = subprocess.run([sys.executable, "bench/gpu_check.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "skipped: no CUDA GPU" in done.stdout
