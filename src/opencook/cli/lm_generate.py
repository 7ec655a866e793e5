"""``opencook lm serve MODEL_DIR`` (an OpenAI-compatible server) and ``opencook lm generate`` (one answer, no server)."""

from __future__ import annotations

import argparse
import sys

from opencook.cli.flags import add_alias, add_common, existing, non_negative, positive


def cmd_serve(args: argparse.Namespace) -> int:
    import torch

    from opencook.lm.generate.served import load_served_model
    from opencook.lm.generate.server import ServeConfig, make_server

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    served = load_served_model(args.model_dir, name=args.endpoint_model, dtype=dtype)
    served.model.to(args.device)
    config = ServeConfig(slots=args.slots, max_queue=args.max_queue, read_timeout_s=args.read_timeout)
    try:
        server, sock = make_server(served, args.host, args.port, config)
    except OSError as e:
        print(
            f"opencook: cannot listen on {args.host}:{args.port} ({e.strerror}): choose another --port, "
            "or --port 0 for a free one",
            file=sys.stderr,
        )
        return 2
    host, port = sock.getsockname()[:2]
    print(
        f"serving {served.name!r} at http://{host}:{port}/v1  "
        "(POST /v1/completions, /v1/chat/completions; GET /v1/models, /health, /metrics)",
        flush=True,
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """One completion or chat answer, through the same request handlers as the server, so the command line and
    HTTP give the same text for the same knobs."""
    from opencook.lm.generate.served import load_served_model
    from opencook.lm.generate.server import App, ServeConfig

    app = App(load_served_model(args.model_dir), ServeConfig(slots=1))
    knobs = {
        "max_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "stop": args.stop or None,
        "seed": args.seed,
    }
    knobs = {k: v for k, v in knobs.items() if v is not None}
    try:
        if args.chat is not None:
            reply = app.answer({"messages": [{"role": "user", "content": args.chat}], **knobs}, chat=True)
            text, finish = reply["choices"][0]["message"]["content"], reply["choices"][0]["finish_reason"]
            print(f"user: {args.chat}\nassistant: {text}")
        else:
            reply = app.answer({"prompt": args.prompt, **knobs}, chat=False)
            text, finish = reply["choices"][0]["text"], reply["choices"][0]["finish_reason"]
            print(args.prompt + text)
    finally:  # the engine thread is stopped before the interpreter exits (else torch aborts at shutdown)
        app.engine.close()
    usage = reply["usage"]
    print(
        f"[{usage['prompt_tokens']} prompt + {usage['completion_tokens']} generated tokens, finish: {finish}]",
        file=sys.stderr,
    )
    return 0


def add_parser(lm_sub) -> None:
    """Register ``opencook lm serve`` on ``lm_sub`` (an argparse subparsers object)."""
    serve = lm_sub.add_parser("serve", help="serve a model directory over an OpenAI-compatible HTTP API")
    serve.add_argument(
        "model_dir", type=existing,
        help="Hugging Face LLaMA directory: config.json, model.safetensors, "
        "tokenizer.json (as save_hf_dir writes it)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=non_negative, default=8000, help="0 picks a free port (printed on start)")
    name = serve.add_argument("--endpoint-model", default=None, metavar="NAME",
                              help="the served name, the id clients send as 'model' (default: the directory's name)")
    add_alias(serve, "--model-name", name)
    serve.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="weights dtype (auto: as stored)",
    )
    serve.add_argument("--slots", type=positive, default=32, help="sequences decoded together (continuous batching)")
    serve.add_argument("--max-queue", type=positive, default=512,
                       help="rows waiting for a slot before new requests are answered 429 with Retry-After")
    serve.add_argument("--read-timeout", type=float, default=30.0,
                       help="seconds a request's headers or body may take to arrive")
    serve.add_argument("--threads", type=positive, default=None, help="torch threads (default: torch's own)")
    serve.add_argument("--device", default="cpu", help="where the model runs: cpu, cuda, cuda:1 ...")
    add_common(serve)
    serve.set_defaults(func=cmd_serve)

    gen = lm_sub.add_parser("generate", help="complete a prompt or answer one chat message (no server)")
    gen.add_argument("model_dir", type=existing, help="Hugging Face LLaMA directory (as export-hf or import-hf writes it)")
    what = gen.add_mutually_exclusive_group(required=True)
    what.add_argument("prompt", nargs="?", help="text to complete")
    what.add_argument("--chat", metavar="MESSAGE", help="one user message, rendered with the chat template "
                                                       "(default: complete PROMPT instead)")
    gen.add_argument("--max-new-tokens", type=positive, default=128, help="tokens generated at most")
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    gen.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass")
    gen.add_argument("--stop", action="append", help="a stop string (repeatable; default: the model's end token)")
    gen.add_argument("--seed", type=int, default=None, help="sampling seed (default: a fresh one)")
    add_common(gen)
    gen.set_defaults(func=cmd_generate)
