"""The augment output folder as a Hugging Face dataset: a `README.md` dataset card whose YAML
header names the data files (so `datasets.load_dataset(OUTPUT_DIR)` loads metamathqa.parquet as
the train split) and whose body is the run's provenance, every figure taken from stats.json.

Never in the card: an API key (only the name of its environment variable) or URL credentials.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from metamath import __version__, storage
from metamath.config import MetaMathConfig

SOURCE_LICENSES = {"gsm8k": "mit", "math": "mit"}  # openai/grade-school-math, hendrycks/math
SOURCE_NAMES = {"gsm8k": "GSM8K (Cobbe et al., 2021)", "math": "MATH (Hendrycks et al., 2021)"}


def size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M"


def prompts_hash() -> str:
    """One hash over every prompt template and exemplar file the teacher's prompts come from."""
    folder = Path(__file__).resolve().parents[1] / "prompts"
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yaml"):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def endpoint_host(backend: str, base_url: str | None) -> str:
    if backend != "openai":
        return f"local ({backend})"
    return urlparse(base_url).hostname if base_url else "api.openai.com"


def header(cfg: MetaMathConfig, stats: dict[str, Any]) -> dict[str, Any]:
    dataset = cfg.augment.dataset
    return {"license": SOURCE_LICENSES[dataset], "language": ["en"], "task_categories": ["text-generation"],
            "tags": ["math", "synthetic", "metamath"], "size_categories": [size_category(stats["rows"])],
            "pretty_name": f"MetaMathQA-style augmentation of {dataset.upper()}",
            "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "metamathqa.parquet"}]}]}


def _type_rows(stats: dict[str, Any]) -> list[str]:
    lines = ["| type | generated | correct | kept | dropped |", "|---|---:|---:|---:|---|"]
    for kind, entry in stats["types"].items():
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(entry["dropped"].items())) or "-"
        lines.append(f"| {kind} | {entry['generated']} | {entry['correct']} | {entry['kept']} | {dropped} |")
    return lines


def _config_yaml(cfg: MetaMathConfig) -> str:
    from metamath.augment.accounting import redact_url

    teacher = cfg.teacher.model_dump()
    teacher["base_url"] = redact_url(teacher["base_url"])
    return yaml.safe_dump({"augment": cfg.augment.model_dump(), "teacher": teacher}, sort_keys=False)


def body(cfg: MetaMathConfig, stats: dict[str, Any]) -> list[str]:
    aug, teacher, req, cost = cfg.augment, cfg.teacher, stats["requests"], stats["cost"]
    lines = [f"# {header(cfg, stats)['pretty_name']}", "",
             f"{stats['rows']:,} rows built by metamath {__version__} from the training "
             f"questions of {SOURCE_NAMES[aug.dataset]} ({stats['questions']:,} questions), in MetaMathQA's record "
             "format: `query`, `response`, `type`, `original_question` (plus `source_id`, `teacher`, `sample_index`, "
             "`request_key`). Every augmented response was checked against the gold answer.", "",
             "## Provenance", "",
             f"- teacher: `{teacher.model}` ({teacher.backend}) at {endpoint_host(teacher.backend, teacher.base_url)}; "
             f"temperature {teacher.temperature}, top_p {teacher.top_p}, max_tokens {teacher.max_tokens}",
             f"- methods: {', '.join(aug.methods)}; samples {json.dumps(aug.samples.model_dump())}; shots {aug.shots}"
             + (f"; DARS {json.dumps(stats['dars'])}" if "dars" in stats else ""),
             f"- prompts: sha256 `{prompts_hash()}` (metamath/prompts)",
             f"- requests: {req['sent']} sent, {req['succeeded']} succeeded, {req['served_from_cache']} samples from the "
             f"response store; tokens {req['prompt_tokens']} prompt + {req['completion_tokens']} completion",
             f"- cost: ${cost['this_run']:.4f} this run (price per million {json.dumps(cost['price_per_million'])})",
             f"- decontamination: {'on' if aug.decontaminate else 'off'} ({aug.decontam_ngram}-gram overlap with the "
             f"GSM8K and MATH test sets); dropped by reason: {json.dumps(stats['filters']['dropped'])}",
             f"- kept {stats['filters']['kept']} augmented rows and {stats['original_rows']} original solutions", ""]
    return lines + ["## Rows by type", ""] + _type_rows(stats) + ["", "## Config", "", "```yaml", _config_yaml(cfg).rstrip(), "```", ""]


def write_card(cfg: MetaMathConfig, stats: dict[str, Any]) -> str:
    text = "---\n" + yaml.safe_dump(header(cfg, stats), sort_keys=False) + "---\n\n" + "\n".join(body(cfg, stats))
    path = storage.join(cfg.augment.output_dir, "README.md")
    storage.write_text(path, text)
    return path
