"""`metamath <command> --config FILE [dotted.key=value ...]`."""

from __future__ import annotations

import json
import os
import sys
from typing import List, Optional, get_args

import typer
from rich.console import Console

from metamath import __version__
from metamath.config.schema import AugmentMethod, Benchmark, EngineConfig
from metamath.errors import MetaMathError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="MetaMath on Ray: augment, train, evaluate.")
console = Console()

OWNS_PROCESS = False  # set by the entry points: the command is the whole process

# What the help texts list comes from the schema's choices, so that they list what exists.
BENCHMARKS = ", ".join(get_args(Benchmark))
METHODS = ", ".join(get_args(AugmentMethod))
BACKENDS = ", ".join(get_args(EngineConfig.model_fields["backend"].annotation))


def _show_version(value: bool) -> None:
    if value:
        print(f"metamath {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """MetaMath on Ray: augment, train, evaluate."""


ConfigOpt = typer.Option(..., "--config", "-c", help="YAML run config (configs/*.yaml)")
OverridesArg = typer.Argument(None, help="dotted.key=value overrides, values in YAML")


def _fail(exc: Exception) -> None:
    """The error is the last thing on the terminal: Ray is stopped first, since its log monitor
    forwards the workers' lines with a delay and would print them after ours (only when this
    process is the command: a caller's own Ray, as in tests, is left alone)."""
    if OWNS_PROCESS and "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    print(("\n" if sys.stderr.isatty() else "") + f"error: {exc}", file=sys.stderr)
    raise typer.Exit(2)


def _exit_now(code: int) -> None:
    """After an interrupt the message above is the last word: a command that is the whole process
    ends here, before a Ray Data thread still unwinding can reconnect to Ray (Ray connects again
    on any call) and print a traceback after it."""
    if OWNS_PROCESS:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


DryRunOpt = typer.Option(False, "--dry-run", help="print the plan (requests, what the store already holds, tokens, "
                                                   "cost, time) and exit: nothing is sent, started or written")
JsonOpt = typer.Option(False, "--json", help="with --dry-run: the plan as JSON on stdout")


def _dry_run(name: str, config: str, overrides: Optional[List[str]], as_json: bool) -> None:
    from metamath.config import load_config
    from metamath.plan import print_plan
    from metamath.stages import plan_stage

    try:
        plans = plan_stage(name, load_config(config, overrides or []))
    except MetaMathError as exc:
        _fail(exc)
    if as_json:
        print(json.dumps(plans if len(plans) != 1 else plans[0], indent=2))
        return
    for plan in plans:
        print_plan(plan)


def _stage(name: str, config: str, overrides: Optional[List[str]], **flags: bool) -> None:
    """Validate the config for `name`, then run the stage's entry point."""
    from metamath.config import load_config
    from metamath.interrupts import as_interrupt
    from metamath.errors import BUDGET_EXIT_CODE, BudgetReached, SubmittedOnly
    from metamath.stages import run_stage

    try:
        cfg = load_config(config, overrides or [])
        run_stage(name, cfg, **flags)
    except BudgetReached as exc:
        print(f"budget reached: {exc}", file=sys.stderr)
        _exit_now(BUDGET_EXIT_CODE)
    except MetaMathError as exc:
        _fail(exc)
    except SubmittedOnly as exc:
        print(f"submitted: {exc}")
    except (KeyboardInterrupt, SystemExit) as exc:
        interrupt = as_interrupt(exc)
        if interrupt is None:
            raise
        _stop_on_interrupt(interrupt)
    except Exception as exc:  # a worker's MetaMathError arrives wrapped by Ray
        from metamath.errors import user_error
        from metamath.interrupts import received

        if received() is not None:  # raised because of the interrupt, in place of it
            _stop_on_interrupt(received())
        found = user_error(exc)
        if found is None:
            raise
        if isinstance(found, BudgetReached):
            print(f"budget reached: {found}", file=sys.stderr)
            _exit_now(BUDGET_EXIT_CODE)
        _fail(found)


def _stop_on_interrupt(interrupt) -> None:
    """Keep what is paid for, stop Ray and every process this one started, say how to resume."""
    from metamath.interrupts import stop_everything
    from metamath.ray_utils import cluster_address
    from metamath.generation.shutdown import drain_live_rounds

    stored = drain_live_rounds()  # before Ray goes: replies in flight are paid for, so keep them
    own_ray = cluster_address() == "local"
    killed = stop_everything(own_ray)
    print(f"\ninterrupted ({interrupt}): " + (f"{stored}; " if stored else "")
          + ("Ray stopped" if own_ray else "left the cluster (it runs on)")
          + (f", {killed} leftover process(es) killed" if killed else "")
          + "; re-run the same command to resume" + (" (nothing stored is sent again)" if stored else ""),
          file=sys.stderr)
    _exit_now(interrupt.exit_code)


@app.command(help=f"Build MetaMathQA with the teacher. Methods: {METHODS}. Backends: {BACKENDS}.")
def augment(config: str = ConfigOpt, overrides: Optional[List[str]] = OverridesArg,
            submit_only: bool = typer.Option(False, "--submit-only",
                                             help="teacher.mode batch: create the batches, then exit; the same "
                                                  "command without it later collects them and goes on"),
            dry_run: bool = DryRunOpt, as_json: bool = JsonOpt) -> None:
    if dry_run:
        return _dry_run("augment", config, overrides, as_json)
    _stage("augment", config, overrides, **({"submit_only": True} if submit_only else {}))


@app.command()
def batches(output_dir: str = typer.Argument(..., help="an augment output_dir (teacher.mode: batch)"),
            cancel: bool = typer.Option(False, "--cancel", help="cancel every batch not yet finished")) -> None:
    """List an augment run's Batch API batches and their states (or cancel them)."""
    from metamath.generation.batch.admin import show_batches

    try:
        show_batches(output_dir, cancel)
    except MetaMathError as exc:
        _fail(exc)


@app.command()
def train(config: str = ConfigOpt, overrides: Optional[List[str]] = OverridesArg) -> None:
    """Fine-tune the student with Ray Train + DeepSpeed."""
    _stage("train", config, overrides)


@app.command(help=f"Decode and score the benchmarks. Benchmarks: {BENCHMARKS}. Backends: {BACKENDS}.")
def evaluate(config: str = ConfigOpt, overrides: Optional[List[str]] = OverridesArg, dry_run: bool = DryRunOpt,
             as_json: bool = JsonOpt) -> None:
    if dry_run:
        return _dry_run("evaluate", config, overrides, as_json)
    _stage("evaluate", config, overrides)


@app.command()
def pipeline(config: str = ConfigOpt, overrides: Optional[List[str]] = OverridesArg, dry_run: bool = DryRunOpt,
             as_json: bool = JsonOpt) -> None:
    """augment -> train -> evaluate (base and fine-tuned)."""
    if dry_run:
        return _dry_run("pipeline", config, overrides, as_json)
    _stage("pipeline", config, overrides)


@app.command()
def ablate(
    config: str = ConfigOpt,
    overrides: Optional[List[str]] = OverridesArg,
    cell: Optional[List[str]] = typer.Option(None, help="run only this cell (repeatable), e.g. 'AnsAug@all'"),
) -> None:
    """Method ablation and data-size grid: train and evaluate every cell, then one table and plots."""
    if cell:
        overrides = [*(overrides or []), "ablate.cells=[" + ",".join(json.dumps(c) for c in cell) + "]"]
    _stage("ablate", config, overrides)


@app.command()
def report(
    runs: List[str] = typer.Argument(..., help="evaluation output directories (each with report.json)"),
    out: str = typer.Option("outputs/comparison", help="where comparison.md and comparison.png go"),
) -> None:
    """Put evaluation runs side by side: one Markdown table, one plot."""
    from metamath.evaluate.compare import compare_runs

    try:
        table, path = compare_runs(runs, out)
    except MetaMathError as exc:
        _fail(exc)
    print(table)
    print(f"written: {path}, comparison.json and comparison.png beside it")


@app.command()
def score(
    benchmark: str = typer.Option(..., help=f"one of: {BENCHMARKS}"),
    predictions: str = typer.Option(..., help="JSONL rows with `question` (or `id`) and `completion`"),
    out: str = typer.Option(..., help="output directory for report.json and verdicts.jsonl"),
    data_path: Optional[str] = typer.Option(None, help="benchmark file (default: the data root's test file)"),
    data_dir: Optional[str] = typer.Option(None, help="data root (default: $METAMATH_DATA_DIR, ../shared/data)"),
    workers: Optional[int] = typer.Option(None, help="scoring processes (default: all cores)"),
) -> None:
    """Score predictions under both scorers (`paper` and `strict`)."""
    from metamath.data.benchmarks import BENCHMARKS
    from metamath.scoring.report import report_table
    from metamath.scoring.run import score_predictions

    if benchmark not in BENCHMARKS:
        _fail(MetaMathError(f"--benchmark {benchmark!r}: choose from {', '.join(BENCHMARKS)}"))
    try:
        reports = score_predictions(benchmark, predictions, out, data_path, data_dir, workers)
    except MetaMathError as exc:
        _fail(exc)
    console.print(report_table(reports, title=f"{benchmark}: {predictions}"))
    console.print(f"wrote {out}/report.json and {out}/verdicts.jsonl")


analyze = typer.Typer(no_args_is_help=True, help="Analyses behind the paper's figures.")
app.add_typer(analyze, name="analyze")


def _show_analysis(run, *args) -> None:
    """An analysis's table on the terminal and the files it wrote; a bad input is one line."""
    try:
        table, written = run(*args)
    except MetaMathError as exc:
        _fail(exc)
    print(table)
    print(f"written: {', '.join(written)}")


@analyze.command("length")
def analyze_length(
    run_dir: str = typer.Argument(..., help="an evaluation output directory (report.json, <benchmark>/predictions.jsonl)"),
    out: Optional[str] = typer.Option(None, help="where length.json, length.md and length.png go (default RUN_DIR/analysis)"),
) -> None:
    """Accuracy in three equal-size bins of question length (the paper's Fig. 7)."""
    from metamath.analysis.length import analyze_length as run

    _show_analysis(run, run_dir, out)


@analyze.command("difficulty")
def analyze_difficulty(
    run_dirs: List[str] = typer.Argument(..., help="augment output directories (each with difficulty.parquet)"),
    out: Optional[str] = typer.Option(None, help="where difficulty.md, .json and .png go (default FIRST_RUN/analysis)"),
) -> None:
    """Questions and rows by the teacher's pass rate: AnsAug against DARS (difficulty.parquet)."""
    from metamath.analysis.difficulty import analyze_difficulty as run

    _show_analysis(run, run_dirs, out)


@analyze.command("perplexity")
def analyze_perplexity(
    model: str = typer.Option("smollm2-135m-instruct", help="a base model: a name, a folder or a Hub id"),
    data: List[str] = typer.Option(..., help="MetaMathQA-style JSONL or Parquet files (repeat --data)"),
    out: str = typer.Option("outputs/analysis", help="where perplexity.json, .md and .png go"),
    template: str = typer.Option("paper", help="the training template: paper or uniform"),
    max_length: int = typer.Option(512, help="tokens per row, as in training"),
    limit: Optional[int] = typer.Option(None, help="rows per file"),
    batch_size: int = typer.Option(8),
    replicas: int = typer.Option(1, help="model actors"),
) -> None:
    """Per file and type, the perplexity of the response tokens given the prompt (Fig. 3)."""
    from metamath.analysis.perplexity import score_perplexity, write_perplexity

    try:
        scored = score_perplexity(model, data, template, max_length, limit, batch_size, replicas)
        table, written = write_perplexity(scored, out, model)
    except MetaMathError as exc:
        _fail(exc)
    print(table)
    print(f"written: {', '.join(written)}")


@analyze.command("diversity")
def analyze_diversity(
    base: str = typer.Option(..., help="the base set (MetaMathQA JSONL or Parquet)"),
    added: List[str] = typer.Option(..., help="an added set (repeat --added)"),
    out: str = typer.Option("outputs/analysis", help="where diversity.json and .md go"),
    embedder: str = typer.Option("hf:smollm2-135m-instruct",
                                 help="hf:<model> (mean-pooled hidden states) or openai:<model> (/v1/embeddings)"),
    limit: Optional[int] = typer.Option(None, help="rows per file"),
    gains: Optional[str] = typer.Option(None, help="JSON {added set name: accuracy gain}, or an ablate "
                                                   "ablation.json: adds Pearson r"),
    config: Optional[str] = typer.Option(None, help="YAML whose teacher section gives an openai: embedder's "
                                                    "base_url, api_key_env and limits"),
) -> None:
    """The paper's diversity gain of each added set over the base (Fig. 2 and 4)."""
    from metamath.analysis.diversity import analyze_diversity as run
    from metamath.config import load_config

    try:
        teacher = load_config(config, []).teacher if config else None
        table, written = run(base, added, out, embedder, limit, gains, teacher)
    except MetaMathError as exc:
        _fail(exc)
    print(table)
    print(f"written: {', '.join(written)}")


@app.command()
def model(name: str = typer.Argument("smollm2-135m-instruct")) -> None:
    """Resolve a model name to a local folder (converting the embedded model once)."""
    from metamath.models import resolve_model

    try:
        console.print(resolve_model(name))
    except MetaMathError as exc:
        _fail(exc)


def main() -> None:
    global OWNS_PROCESS
    OWNS_PROCESS = True
    app()


if __name__ == "__main__":
    main()
