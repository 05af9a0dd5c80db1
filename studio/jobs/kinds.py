"""One config dataclass per job kind. The UI builds these, the CLI reads them, the run folder stores them.

The dataclass is the single source of defaults: the Training tab reads its widget defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from studio.engines.prompts import DEFAULT_SYSTEM_PROMPT
from studio.jobs import config
from studio.jobs.config import ConfigError, JobConfig

MODES = ("qa", "dialogue")
TEST_SETS = ["assets/test_detailed.csv", "assets/test_brief.csv"]
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass
class SFTJob(JobConfig):
    """Supervised fine-tuning with LoRA (or QLoRA: the same job with `qlora=True`)."""

    MODULE: ClassVar[str] = "studio.training.sft"
    KIND: ClassVar[str] = "sft"
    LIMITS: ClassVar[dict[str, float]] = {
        "epochs": 50, "batch_size": 256, "max_length": 8192, "lora_r": 256, "lora_alpha": 4096,
        "train_size": 1_000_000, "max_steps": 1_000_000, "context_turns": 64, "threads": 256,
        "early_stopping_patience": 50, "checkpoint_every": 1_000_000, "learning_rate": 1.0,
        "knowledge_k": 20, "processes": 64}
    WORDS: ClassVar[dict[str, dict[str, object]]] = {"qlora": {"lora": False, "qlora": True}}

    model: str = "bundled:smollm2-135m-instruct"
    """The model to fine-tune: pick one, or type a local model folder (a model reference: bundled:<key>,
    hub:<org/name>, folder:<path>)."""
    data: str = "assets/insurer_faq.csv"
    """A registered dataset name, or a CSV / JSONL / JSON file of Q/A pairs or conversations."""
    question_column: str | None = None
    """Column holding questions, when it is not called question/prompt/input/... ."""
    answer_column: str | None = None
    """Column holding answers, when it is not called answer/response/output/... ."""
    mode: str = "qa"
    """qa: learn each answer from its question; dialogue: learn each reply from up to `context_turns` earlier turns."""
    context_turns: int = 7
    """dialogue mode: earlier turns (user and assistant) kept before each reply; 7 as the report did for DialoGPT."""
    train_size: float = 1.0
    """Training examples used: a fraction in (0, 1] or an absolute count (e.g. 200, 400, 800)."""
    val_fraction: float = 0.1
    """Share of the data held out for validation loss and perplexity each epoch."""
    seed: int = 0
    """Seeds the split, the subset, the shuffling and the LoRA initialisation."""
    epochs: int = 1
    """Passes over the training examples."""
    max_steps: int = 0
    """Stop after this many optimizer steps (0 = run all epochs); handy for a quick check."""
    learning_rate: float = 1e-3
    """Peak learning rate of AdamW; LoRA wants about 10x a full fine-tune's, small models and one epoch more."""
    batch_size: int = 4
    """Examples per optimizer step (split into micro-batches of similar length)."""
    warmup_ratio: float = 0.05
    """Share of steps spent warming the learning rate up, then it decays linearly to 0."""
    weight_decay: float = 0.0
    """AdamW weight decay on the LoRA weights."""
    max_length: int = 512
    """Tokens per example (prompt + answer); longer prompts are cut from the left, answers are kept."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int | None = None
    """LoRA scaling numerator (scale = alpha / r). Left out (None), it is derived as 2 x lora_r: 32 for r=16."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input. Off by default, as in LLaMA-Factory and Unsloth: on a CPU its random masks took
    about a fifth of each SmolLM2 step."""
    target_modules: list[str] | None = None
    """Layers that get LoRA weights; None derives them from the architecture (GPT-NeoX query_key_value, GPT-2
    c_attn, Llama/Qwen/Gemma attention and MLP projections, T5 q and v)."""
    qlora: bool = False
    """Load the base model in 4-bit NF4 (bitsandbytes) and train LoRA on top: QLoRA."""
    double_quant: bool = True
    """QLoRA: quantize the quantization constants too (saves about 0.4 bits per weight)."""
    compute_dtype: str = "bfloat16"
    """QLoRA: dtype the 4-bit weights are dequantized to for each matmul."""
    precision: str = "auto"
    """Training compute dtype: auto = bf16 autocast where bf16 is fast (GPU, AVX512-BF16/AMX CPUs), else fp32."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Chat-template models are trained with the system prompt the Chat tab uses, so the adapter sees at
    inference the prompt it was trained on."""
    knowledge: str | None = None
    """A knowledge collection (studio.knowledge.store): each example's system prompt then holds the passages retrieved
    for its question, as in chat with that collection (retrieval-augmented fine-tuning). None: plain fine-tuning."""
    knowledge_k: int = 3
    """Knowledge: passages retrieved per example."""
    gold_drop: float = 0.0
    """Knowledge: share of examples whose own Q/A passage is left out of the context, so the model also learns to
    say when the sources lack the answer. 0 by default: with 0.2 on a collection built from the training file,
    SmolLM2 learned "my question verbatim in the sources -> copy, else refuse" and refused every paraphrased test
    question (studio/training/grounded_examples.py); refusal is left to the chat's support threshold instead."""
    early_stopping_patience: int = 2
    """Stop after this many epochs without a better validation loss (0 = never)."""
    checkpoint_every: int = 50
    """Save a resumable checkpoint every this many steps (and at each epoch end)."""
    merge: bool = False
    """Also save the base model with the adapter merged in, as a plain model folder."""
    threads: int = 0
    """CPU threads (0 = the cores that are idle when the job starts), shared by the processes."""
    processes: int = 1
    """Processes training together, data parallel, through `accelerate launch`: one per GPU, or CPU processes
    talking over gloo where there is no GPU (studio/jobs/distributed.py). Same adapter and run folder as one."""
    accelerate_config: str | None = None
    """With several processes: an accelerate config file (FSDP, DeepSpeed ZeRO, several machines) for the
    launcher; None starts `processes` local processes."""
    eval_tests: list[str] = field(default_factory=list)
    """Test sets (question/answer files) the finished adapter is evaluated on, results kept in the run folder."""
    extra: dict = field(default_factory=dict)
    """Free-form notes carried into the run folder (e.g. which experiment grid cell this is)."""

    def __post_init__(self) -> None:
        if self.lora_alpha is None and isinstance(self.lora_r, int):
            self.lora_alpha = 2 * self.lora_r
        if isinstance(self.train_size, float) and self.train_size > 1 and self.train_size.is_integer():
            self.train_size = int(self.train_size)  # a count, however a form sent it (200.0 -> 200)

    def validate(self) -> SFTJob:
        self.require_text("model", "data")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.compute_dtype not in ("bfloat16", "float16", "float32"):
            raise ConfigError(f"compute_dtype must be bfloat16, float16 or float32, not {self.compute_dtype!r}")
        positive = {"epochs": self.epochs, "learning_rate": self.learning_rate, "batch_size": self.batch_size,
                    "max_length": self.max_length, "lora_r": self.lora_r, "lora_alpha": self.lora_alpha,
                    "train_size": self.train_size, "checkpoint_every": self.checkpoint_every}
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name} must be positive, not {value!r}")
        if isinstance(self.train_size, float) and self.train_size > 1 and not self.train_size.is_integer():
            raise ConfigError(f"train_size is a fraction in (0, 1] or a whole count, not {self.train_size!r}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be between 0 and 1, not {self.val_fraction!r}")
        if not 0 <= self.lora_dropout < 1 or not 0 <= self.warmup_ratio < 1:
            raise ConfigError("lora_dropout and warmup_ratio must be in [0, 1)")
        if min(self.max_steps, self.context_turns, self.early_stopping_patience, self.threads) < 0:
            raise ConfigError("max_steps, context_turns, early_stopping_patience and threads cannot be negative")
        if self.processes < 1:
            raise ConfigError(f"processes must be at least 1, not {self.processes!r}")
        if self.accelerate_config is not None:
            self.require_text("accelerate_config")
        self.check_limits()
        if self.knowledge is not None:
            self.require_text("knowledge")
        if self.knowledge_k < 1 or not 0 <= self.gold_drop <= 1:
            raise ConfigError(f"knowledge_k must be at least 1 (not {self.knowledge_k!r}) and gold_drop between 0 "
                              f"and 1 (not {self.gold_drop!r})")
        if self.target_modules is not None and not self.target_modules:
            raise ConfigError("target_modules is a non-empty list of layer names, or null to derive them")
        return self


@dataclass
class EvalJob(JobConfig):
    """Evaluate a model or fine-tuned adapter on test sets: batched greedy answers, ROUGE, reference perplexity."""

    MODULE: ClassVar[str] = "studio.evaluation.evaluate"
    KIND: ClassVar[str] = "eval"
    LIMITS: ClassVar[dict[str, float]] = {"batch_size": 256, "max_new_tokens": 4096, "limit": 1_000_000,
                                          "knowledge_k": 20, "holdout": 500}

    model: str = "bundled:smollm2-135m-instruct"
    """Model reference; adapter:runs/<id> evaluates a fine-tuned adapter."""
    tests: list[str] = field(default_factory=lambda: list(TEST_SETS))
    """Question/answer files to answer and score."""
    batch_size: int = 32
    """Questions answered together (similar lengths are grouped)."""
    max_new_tokens: int = 160
    """Upper bound on each answer's length."""
    precision: str = "float32"
    """Weights dtype for generation. float32 keeps answers independent of how questions are batched (in bf16 half
    of SmolLM2's greedy answers changed with the batch); batched fp32 was as fast as bf16 in batches of 8."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The system prompt chat-template models answer under (the Chat tab's default)."""
    limit: int = 0
    """Answer only the first N questions of each test set (0 = all)."""
    knowledge: str | None = None
    """A knowledge collection: each question is answered with the passages retrieved for it in the system prompt
    (the grounded prompt the chat uses); None answers without retrieval."""
    knowledge_k: int = 3
    """Passages retrieved per question."""
    knowledge_mode: str = "hybrid"
    """Retrieval: hybrid (dense + BM25, fused), dense or bm25."""
    answer_style: str = "auto"
    """With knowledge: auto (answers checked against their sources, asked again, then quoted), generate or quote,
    as the chat's Answer style (studio/answer_check.py)."""
    holdout: int = 0
    """With knowledge: also test on N of the collection's own Q/A pairs, answered from a copy of the collection
    without them (studio/knowledge/holdout.py); tests may then be empty."""
    engine: str = "auto"
    """Inference engine: auto, llama.cpp or transformers (studio/engines/llama_cpp.py says what auto picks)."""
    after_run: str = ""
    """A training run id: this evaluation waits in the queue until that run has finished (it ends too when the
    training stops or fails), then scores its adapter."""
    extra: dict = field(default_factory=dict)
    """Free-form notes carried into the run folder (e.g. the experiment grid cell)."""

    def validate(self) -> EvalJob:
        self.require_text("model")
        if not isinstance(self.holdout, int) or isinstance(self.holdout, bool) or self.holdout < 0:
            raise ConfigError(f"holdout is a count of Q/A pairs (0 for none), not {self.holdout!r}")
        if self.holdout and not self.knowledge:
            raise ConfigError("holdout needs a knowledge collection: its Q/A pairs are what is held out")
        if not isinstance(self.tests, list) or not all(isinstance(t, str) and t for t in self.tests) or not (
                self.tests or self.holdout):
            raise ConfigError("tests is a non-empty list of test files (it may be empty with holdout)")
        if self.batch_size < 1 or self.max_new_tokens < 1 or self.limit < 0:
            raise ConfigError("batch_size and max_new_tokens must be positive, limit not negative")
        if not isinstance(self.after_run, str):
            raise ConfigError(f"after_run is a run id or empty, not {self.after_run!r}")
        if self.knowledge is not None and not (isinstance(self.knowledge, str) and self.knowledge.strip()):
            raise ConfigError(f"knowledge is a collection name or null, not {self.knowledge!r}")
        if self.knowledge_k < 1 or self.knowledge_mode not in ("hybrid", "dense", "bm25"):
            raise ConfigError("knowledge_k must be positive and knowledge_mode one of hybrid, dense, bm25, not "
                              f"{self.knowledge_k!r} and {self.knowledge_mode!r}")
        if self.answer_style not in ("auto", "generate", "quote"):
            raise ConfigError(f"answer_style is one of auto, generate, quote, not {self.answer_style!r}")
        if self.engine not in ("auto", "llama.cpp", "transformers"):
            raise ConfigError(f"engine is one of auto, llama.cpp, transformers, not {self.engine!r}")
        self.check_limits()
        return self


@dataclass
class MemoryBenchJob(JobConfig):
    """Score every conversation memory on multi-turn follow-up questions (studio/evaluation/memory_bench.py)."""

    MODULE: ClassVar[str] = "studio.evaluation.memory_bench"
    KIND: ClassVar[str] = "memory_bench"
    LIMITS: ClassVar[dict[str, float]] = {"k": 100, "max_tokens": 8192, "max_new_tokens": 4096, "limit": 1_000_000}

    model: str = "bundled:smollm2-135m-instruct"
    """The chat model answering (and, for summary memories, summarising)."""
    k: int = 2
    """Exchanges the window memory keeps."""
    max_tokens: int = 192
    """Token budget of the token-budget and summary+buffer memories."""
    limit: int = 0
    """Use only the first N conversations (0 = all)."""
    max_new_tokens: int = 96
    """Upper bound on each final answer."""

    def validate(self) -> MemoryBenchJob:
        self.require_text("model")
        if self.k < 1 or self.max_tokens < 1 or self.limit < 0 or self.max_new_tokens < 1:
            raise ConfigError("k, max_tokens and max_new_tokens must be positive, limit not negative")
        self.check_limits()
        return self


METHODS = ("grpo", "rloo", "dpo")


@dataclass
class RLHFJob(JobConfig):
    """Reinforcement learning from a reward against the reference answers (GRPO, RLOO) or preference tuning on
    automatic pairs (DPO), with LoRA, from a base model or a finished SFT run's adapter (studio/training/rlhf.py)."""

    MODULE: ClassVar[str] = "studio.training.rlhf"
    KIND: ClassVar[str] = "rlhf"
    LIMITS: ClassVar[dict[str, float]] = {
        "max_steps": 100_000, "batch_size": 256, "generations": 64, "max_new_tokens": 1024, "max_length": 8192,
        "lora_r": 256, "lora_alpha": 4096, "train_size": 1_000_000, "threads": 256, "checkpoint_every": 100_000,
        "learning_rate": 1.0, "temperature": 10.0, "beta": 100.0}
    mode: ClassVar[str] = "qa"  # read by examples.load_examples: questions are asked alone
    context_turns: ClassVar[int] = 0

    method: str = "grpo"
    """grpo: rewards normalised within each question's group of answers; rloo: each answer's reward minus the mean
    of the others' (leave one out); dpo: the reference answer preferred over the model's own greedy answer."""
    model: str = "bundled:smollm2-135m-instruct"
    """The base model reference, or adapter:runs/<id> to continue a finished SFT run's adapter."""
    adapter: str | None = None
    """A finished SFT run folder (or adapter folder) whose adapter this job continues; None starts a new LoRA."""
    data: str = "assets/insurer_faq.csv"
    """Q/A file or registered dataset: the questions asked and the reference answers the rewards compare with."""
    question_column: str | None = None
    """Column holding questions, when it is not called question/prompt/input/... ."""
    answer_column: str | None = None
    """Column holding answers, when it is not called answer/response/output/... ."""
    train_size: float = 1.0
    """Training questions used: a fraction in (0, 1] or an absolute count."""
    val_fraction: float = 0.1
    """Share held out, split as SFT splits it: with the same seed an SFT adapter never saw these, nor does RLHF."""
    seed: int = 0
    """Seeds the split, the question order, the sampling and a new LoRA's initialisation."""
    max_steps: int = 30
    """Optimizer steps; questions (GRPO/RLOO) or pairs (DPO) are reused in a new order when they run out."""
    batch_size: int = 2
    """Questions per GRPO/RLOO step (each answered `generations` times), pairs per DPO step."""
    generations: int = 4
    """GRPO/RLOO: sampled answers per question; the group its rewards are compared within (at least 2)."""
    max_new_tokens: int = 48
    """Longest sampled (or, for DPO, greedy) answer, in tokens; short keeps a CPU step in seconds."""
    temperature: float = 1.0
    """GRPO/RLOO sampling temperature; 1 samples the policy itself, as the policy gradient assumes."""
    learning_rate: float = 5e-5
    """AdamW learning rate (constant)."""
    beta: float = 0.1
    """DPO: how far the policy may move from the starting model (higher keeps it closer)."""
    rouge_l_weight: float = 1.0
    """Reward weight of ROUGE-L F1 (0-1) against the reference answer."""
    piecewise_weight: float = 0.0
    """Reward weight of the report's piecewise ROUGE (ROUGE if >= 10, 5 if 5-10, else 0, on 0-100; then / 100)."""
    facts_weight: float = 1.0
    """Reward weight of key-fact accuracy: the share of the reference's facts the answer states."""
    length_weight: float = 1.0
    """Penalty weight for answers shorter than length_ratio x the reference (so "yes" cannot win)."""
    length_ratio: float = 0.5
    """Answers shorter than this share of the reference's words are penalised in proportion."""
    max_length: int = 512
    """Prompt tokens kept (cut from the left) plus answer tokens."""
    lora_r: int = 16
    """LoRA rank of a new adapter (a continued SFT adapter keeps its own)."""
    lora_alpha: int | None = None
    """LoRA scaling numerator of a new adapter; None derives 2 x lora_r."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input of a new adapter."""
    target_modules: list[str] | None = None
    """Layers that get LoRA weights in a new adapter; None derives them from the architecture."""
    qlora: bool = False
    """Load the base model in 4-bit NF4 (bitsandbytes) and train LoRA on top."""
    double_quant: bool = True
    """QLoRA: quantize the quantization constants too."""
    compute_dtype: str = "bfloat16"
    """QLoRA: dtype the 4-bit weights are dequantized to for each matmul."""
    precision: str = "auto"
    """auto = bf16 autocast where bf16 is fast (GPU, AVX512-BF16/AMX CPUs), else fp32."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The system prompt questions are asked under (the Chat tab's, as in SFT)."""
    checkpoint_every: int = 10
    """Save a resumable checkpoint every this many steps."""
    threads: int = 0
    """CPU threads (0 = the cores that are idle when the job starts)."""
    eval_tests: list[str] = field(default_factory=list)
    """Test sets the finished adapter is evaluated on, by an evaluation job queued after this one."""
    after_run: str = ""
    """A training run id: this job waits in the queue until that run has finished (it ends too when that run stops
    or fails), e.g. the SFT run whose adapter it continues."""
    extra: dict = field(default_factory=dict)
    """Free-form notes carried into the run folder (e.g. which experiment grid cell this is)."""

    def __post_init__(self) -> None:
        if self.lora_alpha is None and isinstance(self.lora_r, int):
            self.lora_alpha = 2 * self.lora_r
        if isinstance(self.train_size, float) and self.train_size > 1 and self.train_size.is_integer():
            self.train_size = int(self.train_size)

    def starting_adapter(self) -> str | None:
        """The adapter folder this job continues: `adapter`, or the folder of an adapter:<folder> model."""
        if self.adapter:
            return self.adapter
        return self.model.split(":", 1)[1] if self.model.startswith("adapter:") else None

    def validate(self) -> RLHFJob:
        self.require_text("model", "data")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.adapter is not None:
            self.require_text("adapter")
            if self.model.startswith("adapter:") and self.model.split(":", 1)[1] != self.adapter:
                raise ConfigError(f"model names adapter {self.model!r} and adapter names {self.adapter!r}; give one")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.compute_dtype not in ("bfloat16", "float16", "float32"):
            raise ConfigError(f"compute_dtype must be bfloat16, float16 or float32, not {self.compute_dtype!r}")
        positive = {"max_steps": self.max_steps, "batch_size": self.batch_size, "max_new_tokens": self.max_new_tokens,
                    "learning_rate": self.learning_rate, "temperature": self.temperature, "beta": self.beta,
                    "max_length": self.max_length, "lora_r": self.lora_r, "lora_alpha": self.lora_alpha,
                    "train_size": self.train_size, "checkpoint_every": self.checkpoint_every,
                    "length_ratio": self.length_ratio}
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name} must be positive, not {value!r}")
        if self.method != "dpo" and self.generations < 2:
            raise ConfigError(f"generations must be at least 2 for {self.method} (answers are compared within a "
                              f"question's group), not {self.generations!r}")
        weights = (self.rouge_l_weight, self.piecewise_weight, self.facts_weight, self.length_weight)
        if min(weights) < 0 or self.method != "dpo" and not any(weights[:3]):
            raise ConfigError("reward weights cannot be negative, and one of rouge_l_weight, piecewise_weight, "
                              "facts_weight must be positive")
        if isinstance(self.train_size, float) and self.train_size > 1 and not self.train_size.is_integer():
            raise ConfigError(f"train_size is a fraction in (0, 1] or a whole count, not {self.train_size!r}")
        if not 0 < self.val_fraction < 1 or not 0 <= self.lora_dropout < 1:
            raise ConfigError("val_fraction must be in (0, 1) and lora_dropout in [0, 1)")
        if self.threads < 0:
            raise ConfigError(f"threads cannot be negative, not {self.threads!r}")
        if self.target_modules is not None and not self.target_modules:
            raise ConfigError("target_modules is a non-empty list of layer names, or null to derive them")
        if not isinstance(self.after_run, str):
            raise ConfigError(f"after_run is a run id or empty, not {self.after_run!r}")
        self.check_limits()
        return self


JOB_KINDS: dict[str, type[JobConfig]] = {job.KIND: job for job in (SFTJob, EvalJob, MemoryBenchJob, RLHFJob)}
"""Every job kind by the name stored in its config.json."""


def field_docs(cls: type | None = None) -> dict[str, str]:
    """Each field's one-line docstring (SFTJob's by default), for UI help texts and --help."""
    return config.field_docs(cls or SFTJob)
