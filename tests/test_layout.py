"""The package's shape (README, "Layout"): imports run one way between layers, no import circle, Gradio and plotly
only in the ui package, LangChain only in the memory module, the project root computed in one place, no file much
over 400 lines. tools/import_cycles.py is the team's checker (a copy of ../shared/tools/import_cycles.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("studio.core,studio.metrics,studio.memory|studio.models,studio.knowledge|studio.engines|"
          "studio.chat,studio.answer_check,studio.data,studio.access,studio.workspace,studio.logins|studio.jobs|"
          "studio.training|studio.evaluation|"
          "studio.ui,studio.cli,studio.__main__|app")
"""Bottom up; a module may import its own layer and the ones below, never one above."""
MAX_LINES = 420
SOURCES = sorted([*(ROOT / "studio").rglob("*.py"), ROOT / "app.py"])


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_imports_run_one_way_with_no_circle():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "import_cycles.py"), str(ROOT), "--layers", LAYERS],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no circles and no upward imports" in done.stdout


def test_the_layers_in_the_readme_are_the_checked_ones():
    assert f'--layers "{LAYERS}"' in (ROOT / "README.md").read_text().replace("\n", "")


@pytest.mark.parametrize(("library", "allowed"), [
    ("gradio", "studio/ui/"), ("plotly", "studio/ui/"), ("langchain", "studio/memory.py"),
    ("langchain_core", "studio/memory.py"), ("langchain_classic", "studio/memory.py"),
    ("langchain_text_splitters", "studio/memory.py"),
])
def test_libraries_stay_in_their_module(library, allowed):
    users = [str(path.relative_to(ROOT)) for path in SOURCES if path.name != "app.py"
             and any(name == library or name.startswith(library + ".") for name in imported_modules(path))]
    assert all(user.startswith(allowed) for user in users), users


def test_the_project_root_is_computed_once():
    computing = [str(path.relative_to(ROOT)) for path in SOURCES if path.name != "app.py" and "__file__" in path.read_text()]
    assert computing == ["studio/core/paths.py"]


def test_no_re_export_blocks():
    assert [str(p.relative_to(ROOT)) for p in SOURCES if "noqa: F401" in p.read_text()] == []


def test_files_stay_short():
    long = {str(path.relative_to(ROOT)): n for path in SOURCES if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
