"""One sampling settings type: each bad setting is refused with its name, and the OpenAI request fields
(which are also the synth reply cache's key) stay exactly what the teacher and the eval backend sent."""

from __future__ import annotations

import pytest

from opencook.completions.sampling import Sampling
from opencook.synth.teacher import TeacherConfig


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"temperature": -0.1}, "temperature must be a number >= 0"),
        ({"temperature": 2.5}, "<= 2"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"top_p": 0.0}, "top_p must be in (0, 1]"),
        ({"top_p": 1.5}, "top_p must be in (0, 1]"),
        ({"max_new_tokens": 0}, "max_new_tokens must be an int >= 1"),
        ({"max_new_tokens": 1.5}, "max_new_tokens must be an int >= 1"),
        ({"seed": 1.0}, "seed must be an int or None"),
        ({"n": 0}, "n must be an int >= 1"),
        ({"n": 4}, "greedy samples would all be identical"),
        ({"stop": "\n"}, "stop must be a list of non-empty strings"),
        ({"stop": [""]}, "stop must be a list of non-empty strings"),
    ],
)
def test_bad_settings_are_named(kw, message):
    with pytest.raises(ValueError) as err:
        Sampling(**kw)
    assert message in str(err.value)


def test_stop_is_kept_as_a_tuple_so_settings_hash():
    s = Sampling(stop=["\nclass", "\ndef"])
    assert s.stop == ("\nclass", "\ndef") and hash(s) == hash(Sampling(stop=("\nclass", "\ndef")))


def test_openai_fields_match_the_teacher_and_eval_requests_of_before():
    assert Sampling(max_new_tokens=768).openai() == {"max_tokens": 768, "temperature": 0.0, "top_p": 1.0, "seed": 0}
    assert Sampling(seed=None).openai() == {"max_tokens": 512, "temperature": 0.0, "top_p": 1.0}
    s = Sampling(n=10, temperature=0.8, top_p=0.95, seed=3, stop=("\n\n",))
    assert s.openai() == {"max_tokens": 512, "temperature": 0.8, "top_p": 0.95, "seed": 3, "stop": ["\n\n"]}
    assert TeacherConfig(endpoint="http://127.0.0.1:1/v1").knobs() == Sampling(max_new_tokens=768).openai()


def test_teacher_refuses_several_samples_per_request():
    with pytest.raises(ValueError, match="n=2: must be 1"):
        TeacherConfig(endpoint="http://127.0.0.1:1/v1", sampling=Sampling(n=2, temperature=0.7))
