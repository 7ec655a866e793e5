"""The evaluations a training run asks for, built from ``opencook.evals`` and handed to the LM trainer.

The trainer (``lm/train``) may not import ``evals`` (they are siblings on floor 2), so the CLI, the one place
that wires capabilities together, turns the recipe's ``humaneval`` section into an evaluator callable.
"""

from __future__ import annotations

from pathlib import Path

from opencook.lm.train.config import LMTrainConfig


def training_evaluators(cfg: LMTrainConfig, out: Path) -> dict:
    """``{"humaneval": fn}`` when ``humaneval.problems`` > 0, else nothing. Each call writes the evaluation's
    files (completions, verdicts) under ``out/evals/humaneval/step_NNNNNNNN`` and returns ``{"pass@1": ...}``."""
    he = cfg.humaneval
    if not he.problems:
        return {}
    from opencook.benchmarks.problems import load_humaneval

    benchmark = load_humaneval(he.dataset)
    if he.problems > len(benchmark.problems):
        raise ValueError(f"humaneval.problems={he.problems}, but {benchmark.source} holds "
                         f"{len(benchmark.problems)} problems")
    kind = "chat" if cfg.phase == "sft" else "base"

    def humaneval(model, tokenizer, step: int) -> dict[str, float]:
        from opencook.completions.sampling import Sampling
        from opencook.evals.report import write_results
        from opencook.evals.run import evaluate
        from opencook.lm.generate.backend import InProcessBackend
        from opencook.lm.generate.decoding import default_eos_ids
        from opencook.lm.generate.served import ServedModel
        from opencook.sandbox import Limits

        served = ServedModel(model=model, tokenizer=tokenizer, name=f"{cfg.name} step {step}",
                             eos_ids=default_eos_ids(tokenizer))
        backend = InProcessBackend(out, served=served, slots=min(he.problems, 32))
        try:
            results = evaluate(benchmark, kind, backend, Sampling(max_new_tokens=he.max_new_tokens), ks=[1],
                               batch_size=min(he.problems, 32), limits=Limits(timeout_s=he.timeout_s),
                               workers=he.workers, limit=he.problems)
        finally:
            backend.engine.close()
        write_results(results, out / "evals" / "humaneval" / f"step_{step:08d}")
        scores = results.record["scores"]
        return {"pass@1": scores["pass_at_k"]["pass@1"], "problems": scores["problems"],
                "generation_s": results.record["wall_time_s"]["generation"]}

    return {"humaneval": humaneval}
