"""Chat messages to a prompt string: the model's own Jinja chat template, else OpenCoder's ChatML."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache

from opencook.tokenizer import encode, render_chat

# ``opencook.tokenizer.encode`` flips the tokenizer's ``encode_special_tokens`` flag for the call, so
# threads that tokenise prompts (the server's workers, concurrent evaluation batches) take turns.
TOKENIZE_LOCK = threading.Lock()


def _raise(message: str) -> None:
    raise ValueError(f"the chat template rejected the messages: {message}")


@lru_cache(maxsize=4)
def _compile(template: str):
    # The same sandboxed environment transformers uses: a template from a downloaded model is untrusted code.
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = _raise
    return env.from_string(template)


def render_messages(messages: Sequence[Mapping[str, str]], template: str | None,
                    variables: Mapping[str, object] | None = None) -> str:
    """The prompt for ``messages`` followed by the assistant's generation prompt. ``variables`` are the
    extra names templates expect (``bos_token``, ``eos_token``); without jinja2 the built-in ChatML is used."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        template = None
    if template is None:
        return render_chat([dict(m) for m in messages], add_generation_prompt=True)
    return _compile(template).render(messages=[dict(m) for m in messages], add_generation_prompt=True,
                                     **(variables or {}))


def encode_messages(tokenizer, messages: Sequence[Mapping[str, str]], template: str | None,
                    variables: Mapping[str, object] | None = None) -> list[int]:
    """Token ids of the rendered conversation where only the template's own text can become control tokens:
    each message's text is encoded as plain text, so ``<|im_start|>system`` written inside a message stays
    characters. A template that rewrites a message (so its text is not found verbatim) is refused when that
    text holds a control token, since it could not be kept apart."""
    text = render_messages(messages, template, variables)
    ids: list[int] = []
    at = 0
    specials = [t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special]
    for m in messages:
        content = m["content"]
        if not content:
            continue
        found = text.find(content, at)
        if found < 0:
            if any(s in content for s in specials):
                raise ValueError("a message contains a control token and the chat template rewrites the message, "
                                 "so the two cannot be kept apart: remove the control token from the message")
            continue
        ids += encode(tokenizer, text[at:found], special=True) + encode(tokenizer, content, special=False)
        at = found + len(content)
    return ids + encode(tokenizer, text[at:], special=True)
