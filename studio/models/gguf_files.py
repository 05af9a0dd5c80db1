"""GGUF files for the llama.cpp engine and for export: base models, LoRA adapters, quantization.

A bundled model's GGUF is the file its package ships (multi-part ones are joined once into the cache); any other
model folder and every PEFT LoRA adapter is converted once with llama.cpp's own converters
(convert_hf_to_gguf.py, convert_lora_to_gguf.py and the gguf-py beside them), which come from the
llama-cpp-python source package of the pinned version, unpacked into the cache on first use: they are never
copied into this repository. Converters run in a subprocess of this Python; quantizing uses llama_cpp's
llama_model_quantize in a subprocess too, so a crash in C code cannot take the app down.

Cache layout under studio.core.paths.cache_dir():
  sdist/llama_cpp_python-<version>.tar.gz   the source package (`make` downloads it; else fetched on first use)
  llama.cpp-tools-<version>/                the converters and gguf-py, unpacked from it
  gguf/<bundled gguf name>                  joined multi-part bundled files (sha256-checked)
  gguf/folders/<name>-<key>.gguf            F16 conversions of model folders, keyed by their files' sizes and times
  gguf/adapters/<name>-<sha256>.gguf        LoRA adapters, keyed by the sha256 of the adapter's weights and config
  gguf/engine/<key>-<type>.gguf             bundled files requantized for the engine (BundledModel.llama_weights)
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core import paths
from studio.models import bundled

if TYPE_CHECKING:
    from studio.models.refs import ModelRef

LLAMA_CPP_VERSION = "0.3.36"
"""The llama-cpp-python release the app is built and tested with (requirements-llama.txt pins the same)."""
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
TOOL_FILES = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py")
TOOL_FOLDERS = ("conversion", "gguf-py")
QUANT_KINDS = ("Q8_0", "Q4_K_M", "F16", "Q4_1", "Q4_0")
"""What quantize_gguf writes; the names llama.cpp and Ollama use. Q4_1 and Q4_0 let a merged adapter keep the
type (and the decode speed) of a base shipped in them, as SmolLM2 is in Q4_1."""
INSTALL_HINT = "run `make llama` (or `make run`), which builds llama-cpp-python with the pinned flags"
CONVERT_TIMEOUT_S = 3600


class GgufError(Exception):
    """A GGUF file that cannot be made or found; the message says what failed and what to do."""


def cpu_lacks_avx2() -> bool:
    """True on an x86-64 Linux CPU without AVX2: the pinned build would stop there with an illegal instruction at
    the first decode, not at import, so this is checked before llama.cpp is used."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return bool(flags) and "avx2" not in flags.split()


def llama_cpp_problem() -> str | None:
    """None when `import llama_cpp` works on this CPU, else one line saying why not and what to do."""
    if cpu_lacks_avx2():
        return "this CPU has no AVX2, which the pinned llama.cpp build (Makefile LLAMA_CMAKE_ARGS) needs"
    try:
        importlib.import_module("llama_cpp")  # loads its shared library: the check is that this works
    except ImportError as e:
        return f"llama-cpp-python is not installed ({e}); {INSTALL_HINT}"
    except OSError as e:  # the package is there but its shared library does not load on this machine
        return f"llama-cpp-python is installed but its library does not load ({e}); {INSTALL_HINT}"
    return None


def gguf_dir() -> Path:
    return paths.cache_dir() / "gguf"


# ------------------------------------------------------------------------------------------ converter tools


def sdist_path() -> Path:
    """The llama-cpp-python source package, downloaded with pip (from the package index) when missing."""
    target = paths.cache_dir() / "sdist" / SDIST_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--no-binary",
             ":all:", "-d", tmp, f"llama-cpp-python=={LLAMA_CPP_VERSION}"],
            check=False, capture_output=True, text=True)
        got = Path(tmp) / SDIST_NAME
        if done.returncode or not got.is_file():
            raise GgufError(f"llama.cpp's converters are missing and their source package could not be downloaded "
                            f"(pip download llama-cpp-python=={LLAMA_CPP_VERSION}: {_last_line(done.stderr)}); "
                            f"{INSTALL_HINT} on a machine that reaches the package index")
        os.replace(got, target)
    return target


def converter_dir(progress: Callable[[str], None] = print) -> Path:
    """The folder holding llama.cpp's converters and gguf-py, unpacked once from the source package."""
    target = paths.cache_dir() / f"llama.cpp-tools-{LLAMA_CPP_VERSION}"
    if all((target / name).exists() for name in TOOL_FILES + TOOL_FOLDERS):
        return target
    sdist = sdist_path()
    progress(f"Unpacking llama.cpp's converters from {sdist.name}...")
    prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
    wanted = tuple(prefix + name for name in TOOL_FILES) + tuple(prefix + name + "/" for name in TOOL_FOLDERS)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tools-") as tmp:
        try:
            with tarfile.open(sdist) as tar:
                members = [m for m in tar.getmembers() if m.name in wanted or m.name.startswith(wanted)]
                tar.extractall(tmp, members=members, filter="data")
        except (OSError, tarfile.TarError) as e:
            raise GgufError(f"cannot unpack llama.cpp's converters from {sdist}: {e}; delete it and {INSTALL_HINT}")
        unpacked = Path(tmp) / prefix
        missing = [name for name in TOOL_FILES + TOOL_FOLDERS if not (unpacked / name).exists()]
        if missing:
            raise GgufError(f"{sdist.name} lacks {', '.join(missing)}: not the llama-cpp-python source package")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
    return target


def run_converter(script: str, args: list[str], what: str, progress: Callable[[str], None] = print) -> None:
    """Run one of llama.cpp's converter scripts on our Python with its own gguf-py; GgufError with the
    converter's last lines when it fails."""
    tools = converter_dir(progress)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tools / "gguf-py"), str(tools)]),
           "HF_HUB_OFFLINE": "1", "NO_LOCAL_GGUF": "1"}
    try:
        done = subprocess.run([sys.executable, str(tools / script), *args], env=env, check=False, capture_output=True,
                              text=True, timeout=CONVERT_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise GgufError(f"{what}: {script} did not finish within {CONVERT_TIMEOUT_S} s") from e
    if done.returncode:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
        raise GgufError(f"{what} failed ({script} exited with {done.returncode}):\n{tail}")


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# ------------------------------------------------------------------------------------------------ base models


def base_gguf(ref: ModelRef, progress: Callable[[str], None] = print) -> Path:
    """The GGUF file of a base model (for an adapter reference: of its base).

    bundled -> the shipped file (multi-part ones joined once into the cache, sha256-checked); hub and folder
    models -> converted once to an F16 GGUF in the cache with convert_hf_to_gguf.py."""
    from studio.models import catalogue, refs

    if ref.kind == "adapter":
        return base_gguf(_base_of(ref.id), progress)
    if ref.kind == "bundled":
        return _bundled_gguf(ref.id, progress)
    try:
        folder = catalogue.weights_folder(ref, progress)
    except refs.ModelError as e:
        raise GgufError(str(e)) from e
    return folder_gguf(folder, progress)


def engine_gguf(ref: ModelRef, progress: Callable[[str], None] = print) -> Path:
    """The GGUF file the llama.cpp engine reads for a base model: base_gguf's, or for a bundled model with
    `llama_weights` a copy requantized to that type once (engine/<key>-<type>.gguf in the cache: named by the new type
    alone, so llama_files.file_type reads it). When the copy cannot be made, the shipped file, saying so."""
    shipped = base_gguf(ref, progress)
    model = bundled.BUNDLED[ref.id] if ref.kind == "bundled" else None
    if model is None or not model.llama_weights:
        return shipped
    kind, name = model.llama_weights, Path(model.gguf_name)
    target = gguf_dir() / "engine" / f"{model.key}-{kind}.gguf"
    if target.is_file():
        return target
    progress(f"Requantizing {name} to {kind} for llama.cpp's fast prompt reading (once, seconds)...")
    try:
        return quantize_gguf(shipped, target, kind)
    except GgufError as e:
        progress(f"{e}; reading the shipped {name} instead")
        return shipped


def _base_of(adapter: str | Path) -> ModelRef:
    from studio.models import catalogue, refs

    try:
        return catalogue.adapter_base(adapter)
    except refs.ModelError as e:
        raise GgufError(str(e)) from e


def _bundled_gguf(key: str, progress: Callable[[str], None]) -> Path:
    if key not in bundled.BUNDLED:
        raise GgufError(f"Unknown bundled model {key!r}; bundled models: {', '.join(bundled.BUNDLED)}.")
    model = bundled.BUNDLED[key]
    found = bundled.part_paths(model)
    if isinstance(found, str):
        raise GgufError(f"{model.name} is not installed: {found}")
    if len(found) == 1:
        _check_shipped_file(model, found[0], progress)
        return found[0]
    target = gguf_dir() / model.gguf_name
    if target.is_file():  # written under a temporary name and renamed only after its sha256 matched
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"Joining {len(found)} packaged parts of {model.name} into one GGUF file (once)...")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{key}-") as tmp:
        joined = Path(tmp) / model.gguf_name
        _verify_sha256(model, found, copy_to=joined)
        os.replace(joined, target)
    return target


def _check_shipped_file(model: bundled.BundledModel, path: Path, progress: Callable[[str], None]) -> None:
    """sha256 of a shipped single-file GGUF, checked once per file version (a marker remembers size and time)."""
    stat = path.stat()
    marker = gguf_dir() / f"{model.key}.verified.json"
    seen = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}
    try:
        if json.loads(marker.read_text()) == seen:
            return
    except (OSError, ValueError):
        pass
    progress(f"Checking {model.name} weights (sha256)...")
    _verify_sha256(model, [path])
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(seen))


def _verify_sha256(model: bundled.BundledModel, files: list[Path], copy_to: Path | None = None) -> None:
    try:
        bundled.verify_sha256(model, files, copy_to=copy_to)
    except bundled.BundledError as e:
        raise GgufError(str(e)) from e


def _folder_key(folder: Path) -> str:
    """Names, sizes and times of the folder's files: a changed or replaced model gets a new conversion."""
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def folder_gguf(folder: Path, progress: Callable[[str], None] = print) -> Path:
    """A Hugging Face model folder converted once to an F16 GGUF file in the cache."""
    folder = Path(folder).expanduser()
    if not (folder / "config.json").is_file():
        raise GgufError(f"{folder} is not a model folder (no config.json): nothing to convert to GGUF")
    target = gguf_dir() / "folders" / f"{folder.name}-{_folder_key(folder)}.gguf"
    if target.is_file():
        return target
    progress(f"Converting {folder.name} to GGUF F16 (once)...")
    convert_folder(folder, target, progress)
    return target


def convert_folder(folder: Path, target: Path, progress: Callable[[str], None] = print,
                   outtype: str = "f16") -> Path:
    """convert_hf_to_gguf.py on `folder`, written to a temporary name beside `target` and renamed when whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as tmp:
        partial = Path(tmp) / target.name
        run_converter("convert_hf_to_gguf.py", ["--outtype", outtype, "--outfile", str(partial), str(folder)],
                      f"Converting {folder} to GGUF", progress)
        os.replace(partial, target)
    return target


# --------------------------------------------------------------------------------------------------- adapters


ADAPTER_WEIGHTS = "adapter_model.safetensors"


def adapter_digest(adapter: Path) -> str:
    """sha256 of an adapter's weights and config: a re-trained (or re-scaled) adapter gets a new GGUF file."""
    digest = hashlib.sha256()
    for name in (ADAPTER_WEIGHTS, "adapter_config.json"):
        with (adapter / name).open("rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def adapter_gguf(adapter_dir: Path, progress: Callable[[str], None] = print) -> Path:
    """A PEFT LoRA folder (or a run folder holding one) converted to a GGUF LoRA adapter, cached by content."""
    from studio.models import catalogue, refs

    try:
        folder = catalogue.adapter_folder(adapter_dir)
    except refs.ModelError as e:
        raise GgufError(str(e)) from e
    if not (folder / ADAPTER_WEIGHTS).is_file():
        raise GgufError(f"the adapter in {folder} has no {ADAPTER_WEIGHTS}: only PEFT adapters saved as "
                        "safetensors can be converted to GGUF")
    config = json.loads((folder / "adapter_config.json").read_text())
    if str(config.get("peft_type", "LORA")).upper() != "LORA":
        raise GgufError(f"the adapter in {folder} is {config.get('peft_type')}, not LoRA: llama.cpp loads only "
                        "LoRA adapters")
    target = gguf_dir() / "adapters" / f"{folder.parent.name or folder.name}-{adapter_digest(folder)[:16]}.gguf"
    if target.is_file():
        return target
    base = _base_of(folder)
    try:
        base_folder = catalogue.weights_folder(base, progress)
    except refs.ModelError as e:
        raise GgufError(f"cannot convert the adapter in {folder}: its base model {base} is unusable: {e}") from e
    progress(f"Converting the LoRA adapter in {folder} to GGUF (once per trained adapter)...")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".adapter-") as tmp:
        partial = Path(tmp) / target.name
        # f32 keeps the adapter's weights as trained; it is a few MB, and the engine's answers should match PEFT's.
        run_converter("convert_lora_to_gguf.py",
                      ["--outtype", "f32", "--base", str(base_folder), "--outfile", str(partial), str(folder)],
                      f"Converting the LoRA adapter in {folder} to GGUF", progress)
        os.replace(partial, target)
    return target


# ------------------------------------------------------------------------------------------------- quantize


def quantize_gguf(src: Path, dst: Path, kind: str) -> Path:
    """`src` (an F16/F32 GGUF, or a quantized one: requantized) quantized to `kind` (one of QUANT_KINDS) with
    llama.cpp, written to `dst` through a temporary name. Runs llama_model_quantize in a subprocess (see the module
    docstring)."""
    if kind not in QUANT_KINDS:
        raise GgufError(f"unknown quantization {kind!r}; choose one of {', '.join(QUANT_KINDS)}")
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise GgufError(f"cannot quantize {src}: no such file")
    if problem := llama_cpp_problem():
        raise GgufError(f"cannot quantize to {kind}: {problem}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".quantize-") as tmp:
        partial = Path(tmp) / dst.name
        done = subprocess.run([sys.executable, "-m", "studio.models.gguf_files", "quantize", str(src), str(partial), kind],
                              check=False, capture_output=True, text=True, cwd=paths.PROJECT_ROOT)
        if done.returncode or not partial.is_file():
            raise GgufError(f"quantizing {src.name} to {kind} failed: {_last_line(done.stderr or done.stdout)}")
        os.replace(partial, dst)
    return dst


def _quantize_here(src: str, dst: str, kind: str) -> int:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind}")
    params.nthread = max(1, len(os.sched_getaffinity(0)))
    params.allow_requantize = True
    code = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if code:
        print(f"llama_model_quantize returned {code}", file=sys.stderr)
    return 1 if code else 0


def main(argv: list[str]) -> int:
    """`python -m studio gguf sdist | tools | quantize SRC DST KIND`: print the source package's path
    (downloading it when missing), unpack the converters (make runs both), quantize (quantize_gguf runs this)."""
    try:
        if argv == ["sdist"]:
            print(sdist_path())
            return 0
        if argv == ["tools"]:
            print(converter_dir(progress=lambda message: None))
            return 0
        if argv[:1] == ["quantize"] and len(argv) == 4:
            return _quantize_here(*argv[1:])
    except GgufError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("usage: python -m studio gguf sdist | tools | quantize SRC DST KIND", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
