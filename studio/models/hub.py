"""The report's model families by Hugging Face id, and finding or fetching their weights.

A hub model is used from $CQA_MODELS_DIR or the local Hugging Face cache; it is downloaded only when the app was
started with downloads allowed (studio/access.py). studio/models/catalogue.py turns these into catalogue entries.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.models import weights


class HubError(Exception):
    """A hub model could not be fetched; the message says why."""


@dataclass(frozen=True)
class HubModel:
    id: str
    family: str
    params: int
    prompt_style: str
    seq2seq: bool = False


def _pythia(size: str, params: int) -> list[HubModel]:
    return [HubModel(f"EleutherAI/pythia-{size}{d}", "gpt_neox", params, "qa") for d in ("", "-deduped")]


HUB_MODELS: list[HubModel] = [
    HubModel("microsoft/DialoGPT-small", "gpt2", 124_439_808, "turns"),
    HubModel("microsoft/DialoGPT-medium", "gpt2", 354_823_168, "turns"),
    HubModel("microsoft/DialoGPT-large", "gpt2", 774_030_080, "turns"),
    HubModel("databricks/dolly-v2-3b", "gpt_neox", 2_775_086_080, "instruction"),
    HubModel("databricks/dolly-v2-7b", "gpt_neox", 6_857_302_016, "instruction"),
    HubModel("databricks/dolly-v2-12b", "gpt_neox", 11_846_072_320, "instruction"),
    *_pythia("70m", 70_426_624),
    *_pythia("160m", 162_322_944),
    *_pythia("410m", 405_334_016),
    *_pythia("1b", 1_011_781_632),
    *_pythia("1.4b", 1_414_647_808),
    *_pythia("2.8b", 2_775_208_960),
    *_pythia("6.9b", 6_857_302_016),
    *_pythia("12b", 11_846_072_320),
    HubModel("EleutherAI/gpt-neox-20b", "gpt_neox", 20_554_567_680, "qa"),
    HubModel("google/flan-t5-base", "t5", 247_577_856, "qa", seq2seq=True),
]


def find_hub_folder(hub_id: str) -> Path | None:
    """The local folder holding `hub_id`'s weights: $CQA_MODELS_DIR/<name> or the HF cache, never the network."""
    roots = [Path(p) for p in os.environ.get("CQA_MODELS_DIR", "").split(os.pathsep) if p]
    for root in roots:
        for candidate in (root / hub_id, root / hub_id.split("/")[-1], root / hub_id.replace("/", "--")):
            if candidate.is_dir() and weights.has_weights(candidate):
                return candidate
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(hub_id, "config.json")
    if isinstance(config, str) and weights.has_weights(Path(config).parent):
        return Path(config).parent
    return None


def downloads_allowed() -> bool:
    """Whether hub files may be fetched: only when the app was started with downloads allowed (HF_HUB_OFFLINE off)."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE


HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "tokenizer*"]
"""What a hub download fetches: config, tokenizer and safetensors weights (no .bin, .h5 or .msgpack copies)."""


def download_hub_model(hub_id: str, progress: Callable[[str], None] = print) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    progress(f"Downloading {hub_id} from the Hugging Face Hub (config, tokenizer, safetensors weights)...")
    try:
        folder = Path(snapshot_download(hub_id, allow_patterns=HUB_FILES))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as e:
        raise HubError(f"could not download {hub_id} from the Hugging Face Hub: {e}") from e
    if not weights.has_weights(folder):
        raise HubError(f"{hub_id} on the Hugging Face Hub has no safetensors weights to load")
    return folder
