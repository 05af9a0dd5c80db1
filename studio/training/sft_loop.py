"""SFT's training loop over a prepared Session (studio/training/sft.py prepares it and saves what it trained):
epochs of optimizer steps on length-grouped batches, a metrics record per step, validation after each epoch with
early stopping and the best adapter kept, and resumable checkpoints. With a team (studio/jobs/distributed.py) every
process runs this loop on its share of each batch; only the main one writes into the run folder.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from studio.engines import hf
from studio.engines.base import Tokenized
from studio.engines.hf import collate, micro_batches
from studio.jobs import distributed, runs
from studio.jobs.kinds import SFTJob
from studio.models.refs import ModelEntry
from studio.training import answer_loss, lora
from studio.training.answer_loss import batches

log = logging.getLogger("sft")


class StopTraining(runs.StopJob):
    """A clean early end of training (stop signal, NaN loss) with the message to show."""


@dataclass
class Session:
    """What the steps of one training session share. A resumed run is a new session: `start`, `tokens` and
    `first_step` measure this session alone (its ETA and tokens/s), `state` carries on from the checkpoint."""

    cfg: SFTJob
    run_dir: Path
    device: str
    team: distributed.Team
    threads: int
    entry: ModelEntry
    folder: Path  # the base model's weights
    model: Any  # the plain PEFT model: what is saved, checkpointed and validated
    tokenizer: Any
    targets: list[str]
    train: list[Tokenized]
    val: list[Tokenized]
    knowledge_counts: dict | None
    # The optimizer and its schedule (sft.optimizer_and_schedule):
    trained: Any = None  # `model`, or with a team its wrapper whose backward passes exchange the gradients
    params: list[torch.nn.Parameter] = field(default_factory=list)
    optimizer: Any = None
    scheduler: Any = None
    total_steps: int = 0
    amp_dtype: torch.dtype | None = None
    amp: Callable[[], Any] = contextlib.nullcontext
    # The loop's state (what a checkpoint keeps, plain values only) and this session's pace:
    state: dict = field(default_factory=lambda: {
        "step": 0, "epoch": 0, "batch_in_epoch": 0, "best_val": None, "bad_epochs": 0, "tokens": 0, "seconds": 0.0})
    start: float = 0.0
    tokens: int = 0
    first_step: int = 0

    @property
    def main(self) -> bool:
        """Only the main process of a team writes into the run folder."""
        return self.team.main

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id


def train_epochs(session: Session, stop: dict) -> str:
    """Epoch after epoch until total_steps or early stopping; the message to end with (StopTraining ends it early)."""
    state, early_stopped = session.state, False
    while state["step"] < session.total_steps and not early_stopped:
        epoch = state["epoch"]
        order = batches(session.train, session.cfg.batch_size, session.cfg.seed + epoch)
        for index_batch in order[state["batch_in_epoch"]:]:
            if distributed.any_process(session.team, stop["asked"]):
                raise StopTraining("Stopped on request; the adapter trained so far was saved.")
            step_loss = optimizer_step(session, index_batch)
            if session.main:
                _log_step(session, step_loss, epoch, len(order))
                if state["step"] % session.cfg.checkpoint_every == 0:
                    _checkpoint(session)
            if state["step"] >= session.total_steps:
                break
        if state["batch_in_epoch"] == len(order):  # the epoch is complete: validate, maybe stop early
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            early_stopped = _end_of_epoch(session)
            if session.main:
                _checkpoint(session)
    if early_stopped:
        return (f"Early stop: the validation loss did not improve for {session.cfg.early_stopping_patience} epochs; "
                "the best adapter was kept.")
    if state["batch_in_epoch"]:  # max_steps ended it mid-epoch: validate what there is
        _end_of_epoch(session)
    return "Finished."


def optimizer_step(session: Session, index_batch: list[int]) -> float:
    """Forward and backward over this process's share of one batch's micro-batches, then one optimizer step; the
    batch's loss per answer token. StopTraining when that loss is not finite."""
    count = sum(sum(1 for x in session.train[i].labels if x != -100) for i in index_batch)
    loss_sum, tokens = 0.0, 0
    micros = micro_batches([session.train[i] for i in index_batch])
    mine = distributed.my_share(session.team, micros)
    for position, micro in enumerate(mine):
        weight = session.team.size / count if micro is not None else 0.0  # the processes' gradients are averaged
        tensors = collate(micro or micros[0], session.pad_id, session.entry.seq2seq)
        batch = {k: v.to(session.device) for k, v in tensors.items()}
        with distributed.exchange_after(session.team, session.trained, position == len(mine) - 1):
            with session.amp():
                loss, _ = hf.batch_loss(session.trained, batch, session.entry.seq2seq)
            (loss * weight).backward()
        if micro is not None:
            loss_sum += float(loss.detach())
            tokens += int(batch["attention_mask"].sum())
    loss_sum, tokens = distributed.totals(session.team, loss_sum, tokens)
    session.tokens += int(tokens)
    step_loss = loss_sum / max(count, 1)
    if not math.isfinite(step_loss):
        raise StopTraining(f"The loss became {step_loss} at step {session.state['step'] + 1}: training stopped "
                           "and the last good adapter was kept. Try a lower learning rate.")
    torch.nn.utils.clip_grad_norm_(session.params, 1.0)
    session.optimizer.step()
    session.scheduler.step()
    session.optimizer.zero_grad(set_to_none=True)
    session.state["step"] += 1
    session.state["batch_in_epoch"] += 1
    return step_loss


def _log_step(session: Session, step_loss: float, epoch: int, batches_in_epoch: int) -> None:
    """One step's metrics record, status and (now and then) log line, with the ETA from this session's pace."""
    state, total_steps = session.state, session.total_steps
    seconds = time.time() - session.start
    per_step = seconds / (state["step"] - session.first_step)
    runs.append_metric(session.run_dir, {
        "step": state["step"], "epoch": round(epoch + state["batch_in_epoch"] / batches_in_epoch, 4),
        "loss": round(step_loss, 5), "lr": session.scheduler.get_last_lr()[0],
        "elapsed_s": round(state["seconds"] + seconds, 2),
        "eta_s": round(per_step * (total_steps - state["step"]), 1),
        "tokens_per_s": round(session.tokens / max(seconds, 1e-9), 1)})
    runs.update_status(session.run_dir, step=state["step"], message=f"Epoch {epoch + 1}/{session.cfg.epochs}")
    if state["step"] % max(1, total_steps // 20) == 0 or state["step"] == total_steps:
        log.info("step %d/%d  loss %.4f  lr %.2e  %.0f tokens/s", state["step"], total_steps, step_loss,
                 session.scheduler.get_last_lr()[0], session.tokens / max(seconds, 1e-9))


def save_checkpoint(session: Session, state: dict) -> None:
    """Tensors and plain values only, so resuming loads it with weights_only=True."""
    from peft import get_peft_model_state_dict

    runs.save_checkpoint(session.run_dir, {
        "lora": get_peft_model_state_dict(session.model, save_embedding_layers=False),
        "optimizer": session.optimizer.state_dict(), "scheduler": session.scheduler.state_dict(), "state": state})


def _checkpoint(session: Session) -> None:
    snapshot = dict(session.state, seconds=session.state["seconds"] + time.time() - session.start,
                    tokens=session.state["tokens"] + session.tokens)
    save_checkpoint(session, snapshot)


def _end_of_epoch(session: Session) -> bool:
    """Validate; keep the best adapter; True when early stopping says stop. Every process of a team validates the
    same weights on all of `val` (so all reach the same decision); only the main one writes."""
    cfg, state = session.cfg, session.state
    if not session.val:
        if session.main:
            lora.save_adapter(session.model, session.run_dir / runs.ADAPTER)
        return False
    val_loss = answer_loss.mean_loss(session.model, session.val, cfg, session.pad_id, session.entry.seq2seq,
                                     session.device, session.amp)
    if session.main:
        runs.append_metric(session.run_dir, {"step": state["step"], "epoch": state["epoch"],
                                             "val_loss": round(val_loss, 5),
                                             "val_perplexity": round(math.exp(min(val_loss, 50)), 3)})
        log.info("epoch %d: validation loss %.4f, perplexity %.2f", state["epoch"], val_loss,
                 math.exp(min(val_loss, 50)))
    if not math.isfinite(val_loss):
        raise StopTraining("The validation loss is not finite: training stopped; the last good adapter was kept.")
    if state["best_val"] is None or val_loss < state["best_val"]:
        state["best_val"], state["bad_epochs"] = val_loss, 0
        if session.main:
            lora.save_adapter(session.model, session.run_dir / runs.ADAPTER)
        return False
    state["bad_epochs"] += 1
    return bool(cfg.early_stopping_patience) and state["bad_epochs"] >= cfg.early_stopping_patience
