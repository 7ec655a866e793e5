"""Selection strategies, per-shard selection and the coverage gauge (``head/selection.py``,
``head/active_set.py``, ``head/coverage.py``, ``head/centres.py``, ``graph/incremental.py``)."""

import math

import pytest
import torch
import torch.nn.functional as F

from opencook.xc.graph import GraphConfig, exact_knn
from opencook.xc.graph.incremental import update_graph
from opencook.xc.head.active_set import global_active_classes
from opencook.xc.head.selection import SelectionConfig
from opencook.xc.head.softmax import ShardedSoftmax
from opencook.xc.sharding import shard_range
from xc_launch import torchrun

C, D, B = 300, 8, 32
LABEL = {"anchor": "label", "centres": "weights"}  # the original KNN softmax: labels' graph neighbours over W
W_ANCHORS = {"anchor": "feature", "centres": "weights"}  # feature anchors over W's rows, no imprinting


def _batch(seed=0, b=B, c=C, d=D):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g, requires_grad=True), torch.randint(c, (b,), generator=g)


def _probs(head, emb):
    w = head.weight.detach()
    if head.config.logits.kind == "cosine":
        return (head.config.logits.scale * F.normalize(emb, dim=1) @ F.normalize(w, dim=1).t()).softmax(1)
    return (emb @ w.t()).softmax(1)


# -- the coverage gauge --------------------------------------------------------------------------
@pytest.mark.parametrize("logits", [{"kind": "linear"}, {"kind": "cosine", "scale": 10.0, "margin": 0.2}])
def test_gauge_is_the_full_softmax_mass_and_top10_recall_of_the_active_set(logits):
    head = ShardedSoftmax(D, C, "knn", active_budget=90, graph_k=3, coverage_every=2, coverage_rows=8,
                          init_std=1.0, logits=logits, selection=LABEL)
    emb, labels = _batch()
    head(emb, labels)
    gauge = head.last_coverage
    assert gauge["step"] == 0 and gauge["rows"] == 8 and gauge["active_classes"] == 90
    rows = torch.arange(8) * B // 8
    p = _probs(head, emb.detach()[rows])  # no margin: the model's distribution
    active = head.last.local_rows
    assert gauge["selected_mass"] == pytest.approx(float(p[:, active].sum(1).mean()), abs=1e-5)
    top = p.topk(10, dim=1).indices
    assert gauge["selected_top10_recall"] == pytest.approx(float(torch.isin(top, active).float().mean()))
    uniform = global_active_classes(labels, "random", C, graph=None, budget=90, seed=104_729, step=0)
    assert gauge["uniform_mass"] == pytest.approx(float(p[:, uniform].sum(1).mean()), abs=1e-5)
    head(*_batch(1))
    assert head.last_coverage["step"] == 0  # gauged every 2 steps only
    head(*_batch(2))
    assert head.last_coverage["step"] == 2


def test_gauge_of_an_all_class_selection_is_one():
    head = ShardedSoftmax(D, C, "random", sample_rate=1.0, coverage_every=1, init_std=1.0)
    head(*_batch())
    g = head.last_coverage
    assert g["selected_mass"] == pytest.approx(1.0, abs=1e-6) and g["selected_top10_recall"] == 1.0


# -- strategies ----------------------------------------------------------------------------------
def test_feature_anchors_add_each_samples_nearest_class_centres():
    head = ShardedSoftmax(D, C, "knn", graph_k=4, init_std=1.0, selection=W_ANCHORS)
    emb, labels = _batch()
    head(emb, labels)
    near = (emb.detach() @ head.weight.detach().t()).topk(4, dim=1).indices  # linear logits: by dot product
    expected = set(labels.tolist()) | set(near.flatten().tolist())
    assert set(head.last.local_rows.tolist()) == expected
    assert head.graph is None  # feature anchors need no class graph


def test_mix_takes_label_neighbours_and_feature_neighbours():
    emb, labels = _batch()
    sets = {}
    for anchor in ("label", "feature", "mix"):
        head = ShardedSoftmax(D, C, "knn", graph_k=3, init_std=1.0, selection={"anchor": anchor, "centres": "weights"})
        head(emb, labels)
        sets[anchor] = set(head.last.local_rows.tolist())
    assert sets["mix"] == sets["label"] | sets["feature"] and sets["mix"] != sets["label"]


def test_uniform_share_cuts_anchors_by_depth_fills_from_the_next_depth_and_keeps_uniform_classes():
    g = torch.Generator().manual_seed(0)
    c, labels, graph = 10_000, torch.randint(10_000, (64,), generator=g), torch.randint(10_000, (10_000, 8), generator=g)
    uniform_counts = {}
    for share in (0.0, 0.5):
        got = global_active_classes(labels, "knn", c, graph=graph, budget=400, seed=0, step=0, uniform_share=share)
        assert got.numel() == 400
        cap = 400 - round(share * 400)
        depth = next(d for d in range(8, -1, -1)
                     if len(set(labels.tolist()) | set(graph[labels, :d].flatten().tolist())) <= cap)
        kept = set(labels.tolist()) | set(graph[labels, :depth].flatten().tolist())
        assert kept <= set(got.tolist())  # the nearest neighbours of every label, to the depth that fits
        # the rest of the anchored budget goes to the next depth's neighbours, not to uniform classes
        next_depth = set(graph[labels, depth].tolist()) - kept
        partial = (set(got.tolist()) - kept) & next_depth
        topped_up = min(cap - len(kept), len(next_depth))
        # exactly that many with no uniform share; uniform classes may land on next-depth ones as well
        assert len(partial) == topped_up if share == 0 else len(partial) >= topped_up
        uniform_counts[share] = 400 - len(kept) - topped_up
    assert uniform_counts[0.5] >= 200 and uniform_counts[0.0] == 0


def test_logq_adds_minus_log_inclusion_probability_to_uniform_columns():
    emb, labels = _batch()
    head = ShardedSoftmax(D, C, "knn", active_budget=100, graph_k=2, init_std=1.0, selection={**LABEL, "logq": True})
    loss = head(emb, labels)
    act = head.last
    fixed = set(labels.tolist()) | set(head.graph[labels].flatten().tolist())
    is_fill = torch.tensor([r not in fixed for r in act.local_rows.tolist()])
    q = (100 - len(fixed)) / (C - len(fixed))
    torch.testing.assert_close(act.logit_bias[is_fill], torch.full((int(is_fill.sum()),), -math.log(q)))
    assert bool((act.logit_bias[~is_fill] == 0).all())
    logits = emb.detach() @ head.weight.detach()[act.local_rows].t() + act.logit_bias
    ref = F.cross_entropy(logits, torch.searchsorted(act.local_rows, labels))
    assert abs(loss.item() - ref.item()) < 1e-5


@pytest.mark.parametrize("sel", [{**LABEL, "logq": True}, {**W_ANCHORS, "feature_k": C}, {"anchor": "mix"},
                                 {**LABEL, "uniform_share": 0.5, "logq": True}, {}, {"feature_k": C}])
def test_every_strategy_with_all_classes_active_equals_full(sel):
    """With imprinting (the default's ``{}``) the reference is full softmax imprinting the same rows."""
    emb, labels = _batch(3)
    head = ShardedSoftmax(D, C, "knn", sample_rate=1.0, graph_k=4, selection=sel)
    imprint = head.config.selection.imprint
    full = ShardedSoftmax(D, C, "full", selection={"centres": "features"} if imprint else {})(emb, labels).item()
    assert abs(head(emb, labels).item() - full) < 1e-6
    assert head.last.global_size == C


def test_default_selection_is_feature_anchors_with_imprinting_in_knn_mode_only():
    knn, full, rnd = (ShardedSoftmax(D, C, m, active_budget=50).config.selection for m in ("knn", "full", "random"))
    assert (knn.anchor, knn.centres, knn.imprint) == ("feature", "features", True)
    assert (full.centres, full.imprint) == (rnd.centres, rnd.imprint) == ("weights", False)
    emb, labels = _batch()
    plain = ShardedSoftmax(D, C, "full")
    assert plain.centres is None
    w0 = plain.weight.detach().clone()
    plain(emb, labels)
    assert torch.equal(plain.weight.detach(), w0)  # full mode stays plain softmax: nothing imprinted


@pytest.mark.parametrize("warmup", ["full", "uniform"])
def test_warmup_selects_without_a_graph_then_switches_to_knn(warmup):
    head = ShardedSoftmax(D, C, "knn", active_budget=200, graph_k=3,
                          selection={**LABEL, "warmup_steps": 2, "warmup": warmup})
    emb, labels = _batch()
    for _ in range(2):
        head(emb, labels)
        assert head.graph is None
        assert head.last.global_size == (C if warmup == "full" else 200)
    head(emb, labels)
    assert head.graph_step == 2 and head.last.global_size == 200
    assert set(head.graph[labels].flatten().tolist()) <= set(head.last.local_rows.tolist())


def test_feature_centres_are_momentum_means_of_normalised_embeddings_and_build_the_graph():
    head = ShardedSoftmax(D, C, "knn", graph_k=3, refresh_every=1,
                          selection={"anchor": "label", "centres": "features", "centre_momentum": 0.5,
                                     "imprint": False})
    e1, y = _batch(0)
    e2 = torch.randn(B, D)
    head(e1, y)
    head(e2, y)
    for cls in y.unique()[:5].tolist():
        m1 = F.normalize(e1.detach()[y == cls], dim=1).mean(0)
        m2 = F.normalize(e2[y == cls], dim=1).mean(0)
        torch.testing.assert_close(head.centres.values[cls], 0.5 * m1 + 0.5 * m2)
    assert int(head.centres.seen.sum()) == y.unique().numel()
    centres = head.centres.for_graph()
    head(e2, y)  # the graph of step 2 is built from the centres after steps 0 and 1
    assert torch.equal(head.graph, exact_knn(centres, centres, 3).ids)


def test_incremental_upkeep_requeries_only_moved_rows_and_keeps_lists_near_exact():
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(2000, 16, generator=gen)
    shard, cfg = shard_range(2000, 0, 1), GraphConfig(k=8)
    first, state = update_graph(centres, shard, cfg, step=0, previous=None, state=None)
    assert torch.equal(first.graph, exact_knn(centres, centres, 8).ids) and first.updated is None
    same, state = update_graph(centres, shard, cfg, step=1, previous=first, state=state)
    assert same.updated == 0 and torch.equal(same.graph, first.graph)
    moved = torch.randperm(2000, generator=gen)[:100]
    centres = centres.clone()
    centres[moved] += 0.5 * torch.randn(100, 16, generator=gen)
    inc, state = update_graph(centres, shard, cfg, step=2, previous=same, state=state)
    exact = exact_knn(centres, centres, 8).ids
    assert inc.updated == 100 and torch.equal(inc.graph[moved], exact[moved])
    def recall(graph):
        return float((graph[:, :, None] == exact[:, None, :]).any(2).float().mean())

    assert 1 - recall(inc.graph) < (1 - recall(same.graph)) / 2  # moved rows found their way into old lists
    sims = (F.normalize(centres, dim=1)[torch.arange(2000)[:, None]] * F.normalize(centres, dim=1)[inc.graph]).sum(2)
    torch.testing.assert_close(state.sims, sims, atol=1e-5, rtol=0)


def test_bad_selection_settings_are_refused():
    with pytest.raises(ValueError, match="anchor"):
        SelectionConfig(anchor="labels")
    with pytest.raises(ValueError, match="uniform_share"):
        SelectionConfig(uniform_share=1.0)
    with pytest.raises(ValueError, match="graph_lag=0"):
        ShardedSoftmax(D, C, "knn", graph_lag=1, selection={"upkeep": "incremental"})
    with pytest.raises(ValueError, match="imprint=false"):
        SelectionConfig(centres="weights", imprint=True)


def test_default_selection_over_micro_batches_equals_the_whole_batch():
    """Feature anchors and imprinting read the whole batch: given micro-batches, the head gathers them all
    and selects once, so the set, the imprinted rows and the loss are those of the whole batch."""
    emb, labels = _batch(5)
    runs = []
    for chunks in (None, 3):
        head = ShardedSoftmax(D, C, "knn", active_budget=120, graph_k=4, init_std=1.0)
        loss = head(emb if chunks is None else list(emb.chunk(chunks)), labels)
        runs.append((loss.item(), head.last.local_rows, head.weight.detach().clone()))
    (l0, rows0, w0), (l1, rows1, w1) = runs
    assert torch.equal(rows0, rows1) and torch.equal(w0, w1)
    assert l1 == pytest.approx(l0, rel=1e-6)


# -- per-shard selection and the gauge on a real 2-rank group ------------------------------------
STRATEGIES = {"label": {"anchor": "label", "centres": "weights"}, "default": {},
              "feature": {"anchor": "feature", "centres": "weights"},
              "mix_share_logq": {"anchor": "mix", "uniform_share": 0.25, "logq": True},
              "centres_incremental": {"anchor": "label", "centres": "features", "upkeep": "incremental"},
              "warmup_full": {"warmup_steps": 1, "warmup": "full"},
              "feature_ivf": {"anchor": "feature", "feature_index": "ivf", "feature_nlist": 8, "feature_nprobe": 2},
              "centres_imprint_ivf": {"anchor": "feature", "centres": "features", "imprint": True,
                                      "feature_index": "ivf", "feature_nlist": 8, "feature_nprobe": 3}}


def _one_process(classes=500, batch=48, dim=8) -> dict:
    """What ``workers/selection_checks.py`` part 2 runs on two ranks, on the whole batch in one process."""
    out = {}
    for name, sel in STRATEGIES.items():
        head = ShardedSoftmax(dim, classes, "knn", active_budget=120, graph_k=4, refresh_every=2, coverage_every=1,
                              coverage_rows=16, selection=sel, init_std=1.0)
        steps = []
        for step in range(3):
            g = torch.Generator().manual_seed(100 + step)
            emb_all = torch.randn(batch, dim, generator=g)
            y_all = torch.randint(classes, (batch,), generator=g)
            loss = head(emb_all.clone().requires_grad_(), y_all)
            steps.append({"loss": loss.item(), "active": head.last.global_size, "coverage": head.last_coverage})
        out[name] = steps
    return out


def test_per_shard_selection_and_strategies_on_two_ranks_equal_one_process(tmp_path):
    ranks = torchrun("selection_checks.py", 2, tmp_path)
    for name in ranks[0]["part1"]:
        parts = [r["part1"][name] for r in ranks]
        for r, p in zip(ranks, parts, strict=True):
            lo, hi = r["shard"]
            assert p["rows"] == p["counted_here"], name  # the all-reduced counts = counting every candidate
            assert p["rows"] == [c for c in p["whole"] if lo <= c < hi], name  # = one process's selection
        assert parts[0]["size"] == len(parts[0]["whole"]) == sum(len(p["rows"]) for p in parts), name
    ref = _one_process()
    for name, steps in ref.items():
        for step, (want, got0, got1) in enumerate(zip(steps, ranks[0]["part2"][name], ranks[1]["part2"][name],
                                                      strict=True)):
            for got in (got0, got1):
                assert abs(got["loss"] - want["loss"]) < 1e-5, (name, step)
                assert got["active"] == want["active"], (name, step)
                for key in ("selected_mass", "uniform_mass", "selected_top10_recall", "uniform_top10_recall"):
                    assert abs(got["coverage"][key] - want["coverage"][key]) < 1e-5, (name, step, key)


def test_with_feature_centres_only_seen_classes_move_between_incremental_updates():
    from opencook.xc.train.optim import RowSparseSGD

    head = ShardedSoftmax(D, C, "knn", active_budget=150, graph_k=3, refresh_every=1,
                          selection={"anchor": "label", "centres": "features", "upkeep": "incremental"})
    opt = RowSparseSGD(head.parameters(), lr=1.0)
    emb, labels = _batch()
    for _ in range(2):  # the optimizer moves all 150 active rows of W; only the labels' centres move
        opt.zero_grad()
        head(emb, labels).backward()
        opt.step()
    assert head.graph_build.updated == labels.unique().numel() < 150
