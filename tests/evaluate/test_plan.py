from metamath.config import load_config
from metamath.evaluate.plan import plan_evaluate
from metamath.prompts.templates import inference_prompt
from metamath.tokens import token_counter


def _cfg(tmp_path, *extra):
    return load_config(None, ["evaluate.backend=openai", "evaluate.model=smollm2-135m-instruct", "evaluate.limit=4",
                              "evaluate.benchmarks=[gsm8k, math]", f"evaluate.output_dir={tmp_path / 'eval'}",
                              "evaluate.price_per_million={prompt: 1.0, completion: 2.0}", *extra])


def test_the_plan_counts_every_decode_with_the_paper_prompt_and_prices_it(data_root, tmp_path):
    from metamath.data import load_benchmark

    plan = plan_evaluate(_cfg(tmp_path, "evaluate.samples=3"))
    lines = {(line["round"], line["stage"]): line for line in plan["lines"]}
    assert set(lines) == {("gsm8k", "greedy"), ("gsm8k", "sampled"), ("math", "greedy"), ("math", "sampled")}
    counter = token_counter("smollm2-135m-instruct")
    problems = load_benchmark("gsm8k", "test", limit=4).problems
    assert lines[("gsm8k", "greedy")]["prompt_tokens"] == sum(counter.prompt(inference_prompt(p.question)) for p in problems)
    assert lines[("gsm8k", "sampled")]["samples"] == 12 and lines[("gsm8k", "sampled")]["requests"] == 4
    assert lines[("math", "greedy")]["completion_max"] == 4 * 2048
    assert plan["totals"]["cost_usd"]["online"] > 0 and not (tmp_path / "eval").exists()


def test_a_local_backend_plans_decodes_at_no_cost(data_root, tmp_path):
    plan = plan_evaluate(_cfg(tmp_path, "evaluate.backend=hf"))
    assert plan["totals"]["cost_usd"]["online"] == 0 and plan["totals"]["samples"] == 8
    assert any("no API cost" in note for note in plan["notes"])
