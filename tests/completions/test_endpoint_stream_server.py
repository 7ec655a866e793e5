"""The eval endpoint backend streaming from a real `opencook lm serve` (tiny model) gets the same greedy
samples and finish reasons as without streaming, for a base batch (several prompts in one request, each
choice assembled from its own events) and for chat rows."""

from __future__ import annotations

import pytest

from lm_assets import lm_server, tiny_llama_dir
from opencook.completions.backends import Batch, EndpointBackend
from opencook.completions.sampling import Sampling


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stream")
    _, _, model_dir = tiny_llama_dir(tmp, max_seq_len=128)
    with lm_server(model_dir) as base:
        yield base


def test_streamed_samples_equal_plain_ones(url):
    base = Batch(0, ("def forward(self, x):", "import torch", "class A:"), None, ("\n\n",), seed=3)
    chat = Batch(1, None, (({"role": "user", "content": "def f(x):"},), ({"role": "user", "content": "hi"},)),
                 (), seed=4)
    sampling = Sampling(max_new_tokens=12)
    plain, streamed = EndpointBackend(url), EndpointBackend(url, stream=True, tokens_per_minute=10**6)
    for batch in (base, chat):
        want = plain.run(batch, sampling)
        assert streamed.run(batch, sampling) == want
        assert all(s.text for s in want)
