"""The flags every model-evaluating ``opencook eval`` verb shares (where completions come from, how they are
sampled), and the ``Sampling`` they make: one definition for HumanEval/MBPP, LiveCodeBench and BigCodeBench."""

from __future__ import annotations

import argparse

from opencook.cli.flags import add_common, add_out, existing, positive

DEFAULT_SAMPLING_TEMPERATURE = 0.8


def add_generation_flags(p: argparse.ArgumentParser, *, max_new_tokens: int, out_default: str) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=existing, metavar="DIR",
                     help="Hugging Face LLaMA directory, or an opencook training run/checkpoint")
    src.add_argument("--endpoint", metavar="URL",
                     help="an OpenAI-compatible server's base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--n", type=positive, default=1, help="samples per problem")
    p.add_argument("--k", default="1,10", help="pass@k values to report (only k <= n are computed)")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"default: 0 (greedy) when --n 1, else {DEFAULT_SAMPLING_TEMPERATURE}")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--max-new-tokens", type=positive, default=max_new_tokens, help="tokens generated per sample")
    p.add_argument("--batch-size", type=positive, default=8, help="rows (samples) generated together")
    p.add_argument("--limit", type=positive, default=None, help="only the first N problems (default: all)")
    add_out(p, out_default)
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                   help="in-process weights dtype (auto: as stored)")
    p.add_argument("--threads", type=positive, default=None,
                   help="torch CPU threads for in-process generation (default: torch's)")
    p.add_argument("--endpoint-model", default=None, metavar="NAME",
                   help="the served model name to send (default: the server's first)")
    p.add_argument("--concurrency", type=positive, default=4, help="parallel chat requests to an endpoint")
    p.add_argument("--stream", action="store_true", help="read endpoint replies as server-sent events")
    p.add_argument("--rpm", type=float, default=0.0, help="endpoint requests per minute at most (0: no limit)")
    p.add_argument("--tpm", type=float, default=0.0, help="endpoint tokens per minute at most, as hosted APIs meter "
                                                          "them (0: no limit)")
    add_common(p)


def sampling_from(args: argparse.Namespace):
    """The ``Sampling`` the flags ask for; an unset temperature is greedy for one sample, else 0.8."""
    from opencook.completions.sampling import Sampling

    temperature = args.temperature
    if temperature is None:
        temperature = 0.0 if args.n == 1 else DEFAULT_SAMPLING_TEMPERATURE
    sampling = Sampling(n=args.n, temperature=temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                        seed=args.seed)
    return sampling
