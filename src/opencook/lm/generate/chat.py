"""Chat messages to a prompt string: the model's own Jinja chat template, else OpenCoder's ChatML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from opencook.tokenizer import render_chat


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
