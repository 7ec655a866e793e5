"""ChatML examples → token ids and a loss mask, tokenised segment by segment.

Each turn is ``<|im_start|>{role}\\n`` | ``{content}<|im_end|>`` | ``\\n``, each part encoded on its own, so
the mask starts and ends exactly at the assistant's content and its ``<|im_end|>``, and the ids before an
assistant turn are the ones ``encode_chat_prompt`` gives at inference (ending in ``<|im_start|>assistant\\n``).
Content is encoded as raw text: a literal ``<|im_end|>`` typed by a user stays text, never a control token."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from opencook.tokenizer import DEFAULT_SYSTEM_PROMPT, encode, load_tokenizer

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
ROLES = ("system", "user", "assistant")


def as_tokenizer(tokenizer: Tokenizer | str | Path) -> Tokenizer:
    return tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(tokenizer)


def tokenizer_with(tokenizer: str | Path, token: str) -> tuple[Tokenizer, int, Path]:
    """The saved tokenizer, the id of a special ``token`` a data format relies on, and its ``tokenizer.json``
    (whose hash goes into the data's meta)."""
    tok = load_tokenizer(tokenizer)
    tok_file = Path(tokenizer) / "tokenizer.json" if Path(tokenizer).is_dir() else Path(tokenizer)
    token_id = tok.token_to_id(token)
    if token_id is None:
        raise ValueError(f"{tok_file} has no {token} token: train the tokenizer with "
                         "`opencook lm tokenizer train`, which reserves it")
    return tok, token_id, tok_file


def example_messages(example: dict) -> list[dict[str, str]]:
    """The example's turns with the system turn first (OpenCoder's default when none is given). Accepts
    ``{"messages": [{"role", "content"}, ...]}`` or ``{"instruction", "output"}`` (an optional non-empty
    ``input`` is appended to the instruction after a blank line, as in Alpaca-style data)."""
    if not isinstance(example, dict):
        raise ValueError(f"an example must be a JSON object, got {type(example).__name__}")
    if "messages" in example:
        messages = example["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list of {\"role\", \"content\"} objects")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise ValueError(f"messages[{i}] must have string 'role' and 'content', got {m!r}")
            if m["role"] not in ROLES:
                raise ValueError(f"messages[{i}] has role {m['role']!r}; use one of {list(ROLES)}")
            if m["role"] == "system" and i > 0:
                raise ValueError(f"messages[{i}] is a system turn; only the first turn may be one")
        messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    elif "instruction" in example and "output" in example:
        instruction, output, extra = example["instruction"], example["output"], example.get("input") or ""
        if not all(isinstance(v, str) for v in (instruction, output, extra)):
            raise ValueError("'instruction', 'output' (and 'input') must be strings")
        messages = [{"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction},
                    {"role": "assistant", "content": output}]
    else:
        raise ValueError(f"an example needs 'messages' or both 'instruction' and 'output'; got keys {sorted(example)}")
    if not any(m["role"] == "assistant" for m in messages):
        raise ValueError("the example has no assistant turn, so nothing to learn from")
    if messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": DEFAULT_SYSTEM_PROMPT})
    return messages


def encode_turns(tok: Tokenizer, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """(ids, mask) of ``messages`` exactly as given (no default system turn added)."""
    im_end = tok.token_to_id(IM_END)
    if im_end is None or tok.token_to_id(IM_START) is None:
        raise ValueError(f"the tokenizer lacks {IM_START}/{IM_END}: train it with `opencook lm tokenizer train`")
    newline = encode(tok, "\n")
    ids: list[int] = []
    mask: list[int] = []
    for m in messages:
        header = encode(tok, f"{IM_START}{m['role']}\n", special=True)
        body = [*encode(tok, m["content"]), im_end]
        learn = int(m["role"] == "assistant")
        ids += header + body + newline
        mask += [0] * len(header) + [learn] * len(body) + [0] * len(newline)
    return ids, mask


def render_sft_example(example: dict, tokenizer: Tokenizer | str | Path) -> tuple[list[int], list[int]]:
    """(ids, mask) of one example; mask is 1 exactly on each assistant turn's content and ``<|im_end|>``."""
    return encode_turns(as_tokenizer(tokenizer), example_messages(example))


def encode_chat_prompt(messages: list[dict[str, str]], tokenizer: Tokenizer | str | Path) -> list[int]:
    """Prompt ids for a chat model: the turns as SFT tokenised them, then ``<|im_start|>assistant\\n``."""
    tok = as_tokenizer(tokenizer)
    if not messages or messages[0]["role"] != "system":
        messages = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, *messages]
    ids, _ = encode_turns(tok, messages)
    return ids + encode(tok, f"{IM_START}assistant\n", special=True)
