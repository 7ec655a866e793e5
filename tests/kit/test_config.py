from dataclasses import dataclass, field
from typing import Literal

import pytest

from opencook.kit.config import ConfigError, build_config, to_plain


@dataclass
class Inner:
    ratio: float = 0.5


@dataclass
class Example:
    paths: list[str] = field(default_factory=list)
    workers: int = 1
    mode: Literal["a", "b"] = "a"
    ratios: dict[str, float] = field(default_factory=dict)
    metadata: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_typo_names_the_key_and_suggests_the_fix():
    with pytest.raises(
        ConfigError, match=r"stages\[0\].ingest: unknown key 'worker'; did you mean 'workers'"
    ):
        build_config(Example, {"worker": 2}, "stages[0].ingest")


def test_wrong_type_names_the_dotted_key():
    with pytest.raises(ConfigError, match=r"x\.workers: expected an integer, got 'two'"):
        build_config(Example, {"workers": "two"}, "x")
    with pytest.raises(ConfigError, match=r"x\.paths\[1\]: expected a string"):
        build_config(Example, {"paths": ["a", 3]}, "x")
    with pytest.raises(ConfigError, match=r"x\.mode: expected one of \['a', 'b'\]"):
        build_config(Example, {"mode": "c"}, "x")
    with pytest.raises(ConfigError, match=r"x\.inner\.ratio: expected a number"):
        build_config(Example, {"inner": {"ratio": "high"}}, "x")


def test_bool_is_not_an_int_and_ints_become_floats():
    with pytest.raises(ConfigError):
        build_config(Example, {"workers": True}, "x")
    cfg = build_config(Example, {"ratios": {"HTML": 1}, "metadata": None, "inner": {"ratio": 1}}, "x")
    assert cfg.ratios == {"HTML": 1.0} and isinstance(cfg.ratios["HTML"], float)
    assert isinstance(cfg.inner, Inner) and cfg.inner.ratio == 1.0
    assert to_plain(cfg)["inner"] == {"ratio": 1.0}


def test_exponent_floats_that_yaml_reads_as_strings_are_numbers():
    import yaml

    values = yaml.safe_load("inner: {ratio: 3e-4}")
    assert values["inner"]["ratio"] == "3e-4"  # PyYAML's YAML 1.1 quirk, the reason for the rule
    assert build_config(Example, values, "x").inner.ratio == 3e-4
    with pytest.raises(ConfigError, match="expected a number"):
        build_config(Example, {"inner": {"ratio": "3e"}}, "x")
