"""The config tree. Every section forbids unknown keys so a typo fails before work starts.

Key names are a public interface (issues 2-6): extend freely, never rename.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from metamath.errors import ConfigError
from metamath.records.schema import RECORD_TYPES
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

AugmentMethod = Literal["ansaug", "rephrase", "sv", "fobar", "dars"]
Benchmark = Literal["gsm8k", "math", "math500", "gsm8k_backward", "svamp", "asdiv", "mawps", "gsm_hard", "tabmwp", "drop"]
RecordType = Literal[
    "GSM_AnsAug", "GSM_Rephrased", "GSM_SV", "GSM_FOBAR",
    "MATH_AnsAug", "MATH_Rephrased", "MATH_SV", "MATH_FOBAR", "GSM_DARS", "MATH_DARS",
]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    """Where benchmark files live and what to do with a malformed row."""

    root: Optional[str] = None  # default: $METAMATH_DATA_DIR, then ../shared/data, then the Hub
    # A malformed row: `error` fails naming file and line; `skip` skips it and counts it.
    on_malformed: Literal["error", "skip"] = "error"


class StorageConfig(Section):
    """Where outputs may live on a cluster. Every node must see what another wrote: a URI
    (s3://, gs://, ...) always qualifies; a local folder only under one of `shared_paths`."""

    shared_paths: list[str] = Field(default_factory=list)  # local folders every node mounts (NFS, ...)


class SamplesConfig(Section):
    """Samples per question for each method (the paper does not report K)."""

    ansaug: PositiveInt = 4  # solves per question
    rephrase: PositiveInt = 2  # rephrasings per question
    rephrase_solve: PositiveInt = 1  # solves per rephrasing
    sv: PositiveInt = 1  # solves per masked question
    fobar: PositiveInt = 1  # solves per masked question
    masks_per_question: PositiveInt = 2  # masked numbers drawn from all candidates


class MaskingConfig(Section):
    """Which numbers SV and FOBAR may mask. Every default is what the reference code does; each
    key turns on one deliberate difference (docs/method.md, "Deliberate differences")."""

    # Also mask a number whose space-separated token holds a letter, hyphen, bracket, quote,
    # colon, plus, asterisk or newline ("a 120-page book" -> "a x-page book"); the reference skips it.
    numbers_in_compounds: bool = False
    # Also mask "Ten", "Half" (the reference's lookup is exact and lower-case).
    capitalised_number_words: bool = False
    # Also mask a number word with punctuation attached ("two," -> "x,"); the reference needs the
    # word alone between spaces.
    number_words_with_punctuation: bool = False
    # Keep what surrounds the number in its token: "$5." -> "$x.", "£3" -> "£x". The reference
    # writes "x." and "x" (it keeps a leading "$" only when no punctuation ends the token).
    keep_token_affixes: bool = False


class DarsConfig(Section):
    """Difficulty-aware rejection sampling (DART-Math, Tong et al., NeurIPS 2024): solves are
    sampled in rounds; a question stops being asked once it has its quota of verified-correct
    solutions or has used `max_trials` samples. `uniform`: every quota is `min_correct` (k_u);
    `prop2diff`: the first round is a probe, and a question's quota is ceil(min_correct x its
    fail rate in the probe), at least 1, so the hardest get `min_correct` (k_p)."""

    strategy: Literal["uniform", "prop2diff"] = "uniform"  # how each question's quota is set
    min_correct: PositiveInt = 40  # k: verified-correct solutions wanted per question
    max_trials: PositiveInt = 2048  # samples per question at most
    round_samples: PositiveInt = 8  # solves asked per question per round (prop2diff: the probe's size)


class AugmentConfig(Section):
    dataset: Literal["gsm8k", "math"]  # Which training set the questions come from.
    # The training file (a path or URI); default: the data root's `<dataset>/train.jsonl`.
    data_path: Optional[str] = None
    limit: Optional[PositiveInt] = None  # Only the first N training questions.
    # The augmentations to run (DARS: `dars` and its section below).
    methods: list[AugmentMethod] = Field(default_factory=lambda: ["ansaug", "rephrase", "sv", "fobar"])
    samples: SamplesConfig = Field(default_factory=SamplesConfig)  # Samples per question for each method.
    shots: int = Field(8, ge=0, le=8)  # few-shot exemplars per teacher prompt; the paper uses 8
    # Rows kept per record type (a seeded subsample), e.g. the paper's counts.
    target_counts: dict[RecordType, PositiveInt] = Field(default_factory=dict)
    # Where metamathqa.{jsonl,parquet}, stats.json, the response store and the dataset card go.
    output_dir: str = "outputs/augment"
    include_original: bool = False  # Also write the original training solutions as rows.
    decontaminate: bool = True  # Drop rows that share an n-gram with a test question (GSM8K and MATH test sets).
    decontam_ngram: PositiveInt = 13  # The n of that n-gram check.
    seed: int = 0  # Seeds few-shot selection, masking and subsampling.
    # MATH FOBAR questions: "reference" writes what the reference code does ("\n### If we know
    # ... unknown variable $X$?"); "plain" drops the '### ' and the dollars, as for GSM8K.
    fobar_math_form: Literal["reference", "plain"] = "reference"
    masking: MaskingConfig = Field(default_factory=MaskingConfig)  # Which numbers SV and FOBAR may mask.
    dars: DarsConfig = Field(default_factory=DarsConfig)  # used when "dars" is one of the methods
    # --dry-run: the share of round-1 rephrasings and SV rewrites expected to be usable, which sets
    # how many round-2 solves the plan counts (an assumption until round 1 has run).
    round2_acceptance: float = Field(0.9, gt=0.0, le=1.0)


class EngineConfig(Section):
    """What reaches a generation backend the same way whoever calls it: `teacher` (augment) and
    `evaluate` (the decoder) both take these keys from here, so a new one reaches both."""

    # `openai`: any OpenAI-compatible API; `hf`: transformers actors; `vllm`: vLLM engines.
    backend: Literal["openai", "hf", "vllm"] = "hf"
    # A model name (the embedded `smollm2-135m-instruct`), a folder, a URI or a Hub id; for
    # `openai` the API's model name.
    model: str = "smollm2-135m-instruct"
    base_url: Optional[str] = None  # openai: the API's base URL, e.g. http://127.0.0.1:8000/v1 (default: OpenAI's)
    # The environment variable holding the API key (read there only, never written).
    api_key_env: Optional[str] = "OPENAI_API_KEY"
    max_concurrency: PositiveInt = 64  # requests in flight at once, job-wide
    requests_per_minute: Optional[PositiveInt] = None  # job-wide rate limit
    tokens_per_minute: Optional[PositiveInt] = None  # job-wide rate limit (prompt + completion)
    max_retries: int = Field(6, ge=0)  # retries of a failed request (429, 5xx, timeouts) with backoff
    timeout_s: PositiveFloat = 120.0  # per request
    # On Ctrl-C/SIGTERM: nothing more is sent, and requests in flight get this long to come back
    # and be stored (they are paid for either way).
    shutdown_grace_s: float = Field(30.0, ge=0.0)
    price_per_million: dict[str, float] = Field(default_factory=dict)  # {"prompt": .., "completion": ..}
    # --dry-run counts prompt tokens with this tokenizer (a local folder or the embedded model's
    # name); by default the model's own when it is one of those, else tiktoken's encoding for the
    # model when its files are on disk, else about 4 characters per token.
    tokenizer: Optional[str] = None
    stop: Optional[list[str]] = None  # stop strings (evaluate: default the paper's with prompt: paper)
    batch_size: PositiveInt = 8  # hf and vllm: prompts per generate call
    replicas: PositiveInt = 1  # actors
    tensor_parallel_size: PositiveInt = 1  # vllm: GPUs per engine
    use_gpu: bool = False  # hf: one GPU per replica, bf16; vllm: one GPU per tensor-parallel rank
    max_model_len: PositiveInt = 4096  # vllm
    kv_cache_gb: PositiveInt = 2  # vllm: KV cache on CPU (VLLM_CPU_KVCACHE_SPACE); GPUs size their own
    engine_kwargs: dict[str, Any] = Field(default_factory=dict)  # more vLLM engine arguments, applied last

    @model_validator(mode="after")
    def _prices_are_known(self) -> "EngineConfig":
        unknown = sorted(set(self.price_per_million) - {"prompt", "completion"})
        if unknown:
            raise ValueError(f"price_per_million: unknown key(s) {unknown}; use prompt and completion")
        return self


class TeacherConfig(EngineConfig):
    """The augment teacher: the engine keys, its sampling, batch mode and the budget."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)  # sampling temperature (the paper: 0.7)
    top_p: float = Field(1.0, gt=0.0, le=1.0)  # nucleus sampling
    max_tokens: PositiveInt = 512  # completion tokens per sample at most
    # openai backend: `online` requests, or `batch` through the provider's Batch API (half price,
    # results within `batch_window`; see generation/batch/)
    mode: Literal["online", "batch"] = "online"
    batch_window: str = "24h"  # the Batch API's completion window
    max_batches_in_flight: PositiveInt = 20  # batches created and not yet collected, at most
    batch_discount: float = Field(0.5, ge=0.0, le=1.0)  # batch price = price_per_million x this
    batch_poll_s: PositiveFloat = 30.0  # first wait between polls; backs off to 10x
    batch_max_requests: PositiveInt = Field(50_000, le=50_000)  # per input file (the API's limits)
    batch_max_bytes: PositiveInt = Field(200 * 1024 * 1024, le=200 * 1024 * 1024)  # per input file (the API's limits)
    # A hard budget for one run: no request starts that could take this run's spend, plus what is
    # in flight at its upper bound, past the cap (needs price_per_million). What the response
    # store already holds is free and not counted.
    max_cost_usd: Optional[PositiveFloat] = None
    max_requests: Optional[PositiveInt] = None  # HTTP requests this run may start, retries included
    expected_completion_tokens: Optional[PositiveInt] = None  # --dry-run; default: from the data's own solutions

    @model_validator(mode="before")
    @classmethod
    def _no_runtime_flags(cls, data: Any) -> Any:
        if isinstance(data, dict) and "submit_only" in data:
            raise ValueError("submit_only is no longer a config key: it is the command's flag "
                             "(metamath augment --submit-only)")
        return data

    @model_validator(mode="after")
    def _budget_has_prices(self) -> "TeacherConfig":
        capped = [k for k in ("max_cost_usd", "max_requests") if getattr(self, k) is not None]
        if capped and self.backend != "openai":
            raise ValueError(f"{', '.join(capped)} cap(s) what an API teacher is paid; backend {self.backend} "
                             "runs locally and is not capped (use backend: openai, or remove the cap)")
        if self.max_cost_usd is not None and not self.price_per_million:
            raise ValueError("max_cost_usd needs price_per_million ({prompt: .., completion: ..}, USD per "
                             "million tokens) to know what a request costs")
        return self


class LoraConfig(Section):
    rank: PositiveInt = 96  # the paper's QLoRA rank for 70B
    alpha: PositiveInt = 16  # LoRA alpha
    dropout: float = Field(0.05, ge=0.0, lt=1.0)  # LoRA dropout
    # the modules that get adapters
    targets: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    load_in_4bit: bool = False  # QLoRA: the base model in 4-bit (bitsandbytes, CUDA)


class TrainConfig(Section):
    model: str = "smollm2-135m-instruct"  # The student: a name, a folder, a URI or a Hub id.
    data_path: Optional[str | list[str]] = None  # one file or several (e.g. the GSM8K and MATH halves)
    output_dir: str = "outputs/train"  # Checkpoints (Ray Train) and `final/`, a Hugging Face checkpoint.
    # `paper`: the Alpaca template the paper trains with; `uniform`: one template for every row type.
    template: Literal["paper", "uniform"] = "paper"
    max_length: PositiveInt = 512  # Tokens per example; longer rows are dropped (as the reference does).
    epochs: PositiveFloat = 3  # passes over the data (the paper: 3)
    max_steps: Optional[PositiveInt] = None  # stop after this many optimizer steps
    micro_batch_size: PositiveInt = 4  # examples per worker per forward pass
    global_batch_size: PositiveInt = 128  # examples per optimizer step (the paper: 128)
    lr: PositiveFloat = 2e-5  # peak learning rate (the paper: 2e-5 for 7B)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"  # decay after warm-up
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)  # share of the steps spent warming up
    weight_decay: float = Field(0.0, ge=0.0)  # AdamW weight decay
    zero_stage: Literal[0, 1, 2, 3] = 2  # DeepSpeed ZeRO stage
    precision: Literal["bf16", "fp32"] = "bf16"  # bf16 on GPUs; fp32 on CPU
    offload_optimizer: bool = False  # ZeRO: optimizer states in CPU memory
    offload_params: bool = False  # ZeRO-3: parameters in CPU memory
    gradient_checkpointing: bool = False  # recompute activations in the backward pass
    packing: bool = False  # several examples per row up to max_length
    # Each micro-batch's examples laid end to end in one row, attention kept within each example,
    # LM head and loss only at target positions (metamath/train/padding_free.py): the padded
    # batch's loss without computing pads or prompt-position logits.
    padding_free: bool = True
    # A slice of MetaMathQA (metamath/train/selection.py): augmented rows of these types, then a
    # seeded, nested subset of them; the original solutions ride along when include_original.
    types: Optional[list[Literal[RECORD_TYPES]]] = None
    fraction: Optional[float] = Field(None, gt=0.0, le=1.0)  # the share of the selected rows to train on
    max_rows: Optional[PositiveInt] = None  # at most this many augmented rows
    include_original: bool = True  # the original training solutions ride along
    # Seeded shuffle of the rows every run; false keeps the files' order (pre-shuffled data, a
    # curriculum, or a like-for-like benchmark against another trainer).
    shuffle: bool = True
    num_workers: PositiveInt = 1  # Ray Train workers (one per GPU)
    use_gpu: bool = False  # one GPU per worker
    # extra Ray resources per worker, e.g. {CPU: 8}
    resources_per_worker: dict[str, float] = Field(default_factory=dict)
    lora: Optional[LoraConfig] = None  # LoRA / QLoRA adapters (null: full fine-tuning)
    save_every_steps: Optional[PositiveInt] = None  # a checkpoint every N steps (default: each epoch)
    # worker failures Ray Train recovers from (resuming from the last checkpoint); -1: no limit
    max_failures: int = Field(2, ge=-1)
    seed: int = 42  # seeds the shuffle, dropout and initialisation

    @model_validator(mode="after")
    def _batch_divides(self) -> "TrainConfig":
        per_step = self.micro_batch_size * self.num_workers
        if self.global_batch_size % per_step:
            raise ValueError(
                f"global_batch_size ({self.global_batch_size}) must be a multiple of "
                f"micro_batch_size x num_workers ({per_step})"
            )
        if self.lora is not None and self.zero_stage == 3:
            raise ValueError("lora needs zero_stage 0-2 (adapters are merged from full weights on export)")
        return self


class EvaluateConfig(EngineConfig):
    """The decoder: the engine keys (as the teacher's), the benchmarks and how they are asked."""

    # Which benchmarks to decode and score.
    benchmarks: list[Benchmark] = Field(default_factory=lambda: ["gsm8k", "math"])
    limit: Optional[PositiveInt] = None  # Only the first N items of each benchmark.
    # `paper`: MetaMath's inference prompt byte for byte; `chat`: the model's chat template.
    prompt: Literal["paper", "chat"] = "paper"
    # Completion tokens per benchmark (the paper: 512 GSM8K, 2048 MATH).
    max_tokens: dict[Benchmark, PositiveInt] = Field(
        default_factory=lambda: {"gsm8k": 512, "math": 2048, "math500": 2048, "gsm8k_backward": 512, "svamp": 512,
                                 "asdiv": 512, "mawps": 512, "gsm_hard": 512, "tabmwp": 512, "drop": 256}
    )
    # Sampling metrics: with samples k > 1, each item also gets k completions at `temperature` /
    # `top_p` (the greedy decode still gives the headline accuracy), and the report adds maj@k,
    # pass@1 and pass@k under both scorers.
    samples: PositiveInt = 1
    temperature: float = Field(0.7, gt=0.0, le=2.0)  # for the sampled decodes (samples > 1)
    top_p: float = Field(1.0, gt=0.0, le=1.0)  # for the sampled decodes
    output_dir: str = "outputs/evaluate"  # Where report.json/.md, plots, predictions and the response store go.
    data_dir: Optional[str] = None  # The data root for these benchmarks (default: data.root).
    # one benchmark's file or Hub source, over the data root: {svamp: "hf://ChilleD/SVAMP?split=test"}
    data_paths: dict[Benchmark, str] = Field(default_factory=dict)
    timeout_s: PositiveFloat = 300.0  # a whole 2,048-token decode per request


class PipelineConfig(Section):
    # Which stages to run, in order.
    stages: list[Literal["augment", "train", "evaluate"]] = Field(
        default_factory=lambda: ["augment", "train", "evaluate"]
    )
    output_dir: str = "outputs/pipeline"  # Where pipeline_state.json and the comparison go.


def _table3_method_sets() -> dict[str, list[str]]:
    """The paper's Table 3 rows: SFT on the originals, then each augmentation added."""
    return {"SFT": [], "AnsAug": ["ansaug"], "Rephrasing": ["rephrase"], "AnsAug+Rephrasing": ["ansaug", "rephrase"],
            "MetaMath": ["ansaug", "rephrase", "sv", "fobar"]}


class AblateConfig(Section):
    """`metamath ablate`: a grid of cells (method set x data size), each trained with the `train`
    section and evaluated with the `evaluate` section, all reading one augment output."""

    data_path: Optional[str] = None  # default: augment.output_dir/metamathqa.jsonl
    output_dir: str = "outputs/ablate"  # One folder per cell, then the grid's table, tests and plots.
    # name -> augmentation methods (GSM8K and MATH rows alike); [] = the original solutions alone
    method_sets: dict[str, list[AugmentMethod]] = Field(default_factory=_table3_method_sets)
    # rows of augmented data per cell (a seeded, nested subset: a larger size keeps the smaller's
    # rows); null = every row of the set. The originals ride along per train.include_original.
    sizes: list[Optional[PositiveInt]] = Field(default_factory=lambda: [None])
    baseline: Optional[str] = None  # the method set the paired tests compare against (default: the first)
    cells: Optional[list[str]] = None  # run only these cells ("AnsAug@all"), e.g. one Ray job each; default all

    @model_validator(mode="after")
    def _grid_is_sound(self) -> "AblateConfig":
        if not self.method_sets:
            raise ValueError("method_sets is empty: name at least one set of methods")
        if self.baseline is not None and self.baseline not in self.method_sets:
            raise ValueError(f"baseline {self.baseline!r} is not one of method_sets ({', '.join(self.method_sets)})")
        if len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes repeat a value: {self.sizes}")
        return self


class MetaMathConfig(Section):
    """One YAML may hold every stage's section; each command reads its own."""

    data: DataConfig = Field(default_factory=DataConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    augment: Optional[AugmentConfig] = None
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    train: Optional[TrainConfig] = None
    evaluate: Optional[EvaluateConfig] = None
    pipeline: Optional[PipelineConfig] = None
    ablate: Optional[AblateConfig] = None
    source: Optional[str] = Field(None, exclude=True)  # the file it came from, for messages

    def require(self, section: str) -> Section:
        value = getattr(self, section)
        if value is None:
            where = self.source or "the config"
            raise ConfigError(f"{where}: no '{section}' section; this command needs one")
        return value
