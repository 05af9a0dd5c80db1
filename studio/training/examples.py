"""The examples a training job learns from: the train/validation split (by record, no leakage between them) and
the training subset, the same for SFT and RLHF, so with the same seed an RLHF run never sees SFT's held-out
questions."""

from __future__ import annotations

from pathlib import Path

from studio.data import qa, registry
from studio.jobs.config import ConfigError
from studio.jobs.kinds import RLHFJob, SFTJob


def load_examples(cfg: SFTJob | RLHFJob) -> tuple[list[qa.Example], list[qa.Example]]:
    """Train and validation examples: split by record (no leakage between them), then the training subset."""
    source = Path(cfg.data)
    if source.exists():
        dataset = qa.load_file(source, cfg.question_column, cfg.answer_column)
    else:
        dataset = registry.load_registered(cfg.data)
    train_records, val_records = qa.split(dataset.records, cfg.val_fraction, cfg.seed)
    size = int(cfg.train_size) if cfg.train_size > 1 else float(cfg.train_size)
    try:
        train_records = qa.subset(train_records, size, cfg.seed)
    except ValueError as e:
        raise ConfigError(f"train_size: {e}") from e

    def examples(records):
        if dataset.kind == "qa":
            if cfg.mode == "dialogue":
                raise ConfigError("dialogue mode needs conversations; turn Q/A pairs into conversations first "
                                  "(python -m studio conversations FILE --out conversations.jsonl)")
            return qa.qa_examples(records)
        return qa.dialogue_examples(records, cfg.context_turns if cfg.mode == "dialogue" else 0)

    return examples(train_records), examples(val_records)
