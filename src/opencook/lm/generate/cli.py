"""``opencook lm serve MODEL_DIR``: an OpenAI-compatible server for a Hugging Face LLaMA directory."""

from __future__ import annotations

import argparse
import sys


def cmd_serve(args: argparse.Namespace) -> int:
    import torch

    from opencook.lm.generate.served import load_served_model
    from opencook.lm.generate.server import make_server

    dtype = {"auto": None, "float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    served = load_served_model(args.model_dir, name=args.model_name, dtype=dtype)
    try:
        server = make_server(served, args.host, args.port)
    except OSError as e:
        print(f"opencook: cannot listen on {args.host}:{args.port} ({e.strerror}): choose another --port, "
              "or --port 0 for a free one", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(f"serving {served.name!r} at http://{host}:{port}/v1  "
          "(POST /v1/completions, /v1/chat/completions; GET /v1/models, /health)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def add_parser(lm_sub) -> None:
    """Register ``opencook lm serve`` on ``lm_sub`` (an argparse subparsers object)."""
    serve = lm_sub.add_parser("serve", help="serve a model directory over an OpenAI-compatible HTTP API")
    serve.add_argument("model_dir", help="Hugging Face LLaMA directory: config.json, model.safetensors, "
                                         "tokenizer.json (as save_hf_dir writes it)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port (printed on start)")
    serve.add_argument("--model-name", default=None, help="the id clients send as 'model' (default: the "
                                                          "directory's name)")
    serve.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto",
                       help="weights dtype (auto: as stored)")
    serve.set_defaults(func=cmd_serve)
