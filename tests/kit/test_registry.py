"""The registry: lazy lookups, did-you-mean errors, one idiom for stages, executors, datasets, optimizers."""

import subprocess
import sys

import pytest

from opencook.kit.config import ConfigError
from opencook.kit.registry import Registry


class Alpha:
    pass


def test_register_decorator_and_lookup():
    reg = Registry("widget")

    @reg.register("alpha")
    class A:
        pass

    assert reg.get("alpha") is A
    assert reg.names() == ["alpha"]
    assert "alpha" in reg and "beta" not in reg and None not in reg


def test_unknown_name_says_where_closest_and_known():
    reg = Registry("widget", {"alpha": Alpha, "beta": Alpha})
    with pytest.raises(ConfigError, match=r"^cfg\.yaml: unknown widget 'alpah'; did you mean 'alpha'\? "
                                          r"\(known: alpha, beta\)$"):
        reg.get("alpah", "cfg.yaml")
    with pytest.raises(ConfigError, match=r"unknown widget None \(known: alpha, beta\)"):
        reg.get(None)
    with pytest.raises(ConfigError, match="unknown widget"):
        reg.get(["not", "hashable"])


def test_lazy_target_is_imported_on_first_lookup_only():
    reg = Registry("widget", {"alpha": "tests_registry_lazy_target_missing:Thing"})
    assert reg.names() == ["alpha"]  # listing imports nothing
    with pytest.raises(ModuleNotFoundError):
        reg.get("alpha")
    reg2 = Registry("widget", {"od": "collections:OrderedDict"})
    from collections import OrderedDict

    assert reg2.get("od") is OrderedDict


def test_bad_entries_are_refused():
    reg = Registry("widget", {"alpha": Alpha})
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("alpha", int)
    with pytest.raises(ValueError, match="module:attr"):
        reg.add("beta", "collections.OrderedDict")


def test_every_registry_uses_the_idiom():
    from opencook.data.stages import STAGES
    from opencook.kit.executors import EXECUTORS
    from opencook.xc.data.factory import DATASETS

    assert {"ingest", "filter", "exact_dedup", "write"} <= set(STAGES.names())
    assert EXECUTORS.names() == ["inprocess", "local", "ray"]
    assert set(DATASETS.names()) == {"synthetic", "funcnames"}
    for reg in (STAGES, EXECUTORS, DATASETS):
        assert isinstance(reg, Registry)


def test_xc_optimizer_by_name():
    torch = pytest.importorskip("torch")
    from opencook.xc.train.config import OptimConfig
    from opencook.xc.train.large_batch import LAMB, LARS
    from opencook.xc.train.optim import RowSparseAdamW, RowSparseSGD
    from opencook.xc.train.trainer import OPTIMIZERS, make_optimizer

    params = [torch.nn.Parameter(torch.zeros(4, 3))]
    expect = {"sgd": (RowSparseSGD, RowSparseSGD), "adamw": (RowSparseAdamW, RowSparseAdamW),
              "lars": (LARS, RowSparseSGD), "lamb": (LAMB, RowSparseAdamW)}
    for name, (backbone, head) in expect.items():
        cfg = OptimConfig(name=name)
        assert type(make_optimizer(params, cfg, 0.1)) is backbone
        assert type(make_optimizer(params, cfg, 0.1, head=True)) is head
    with pytest.raises(ConfigError, match="optim.name: unknown optimizer 'lasr'; did you mean 'lars'"):
        OPTIMIZERS.get("lasr", "optim.name")


def test_help_imports_no_heavy_stage_module():
    code = ("import sys; from opencook.data.stages import STAGES; from opencook.kit.executors import EXECUTORS; "
            "STAGES.names(); EXECUTORS.names(); "
            "print(any(m in sys.modules for m in ('torch', 'ray', 'opencook.data.dedup.minhash.stage')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
