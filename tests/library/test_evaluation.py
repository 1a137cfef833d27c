"""Full-ranking evaluation against a brute-force per-user implementation."""
import math

import numpy as np
import pytest
import torch

from htd_tutorial.data import Interactions
from htd_tutorial.evaluation import evaluate_embeddings
from htd_tutorial.stats import mean_and_se


def brute_force(user_emb, item_emb, data, split, ks):
    """Per-user loops: rank every item, drop training and other-split items, score the held-out ones."""
    other = "test" if split == "valid" else "valid"
    scores = (user_emb @ item_emb.T).numpy()
    train = {(u, i) for u, i in data.train}
    excluded = {(u, i) for u, i in getattr(data, other)}
    held = {}
    for u, i in getattr(data, split):
        held.setdefault(u, set()).add(i)
    out = {f"{m}@{k}": [] for k in ks for m in ("Recall", "NDCG")}
    for u, targets in held.items():
        candidates = [i for i in range(data.n_items) if (u, i) not in train and (u, i) not in excluded]
        ranking = sorted(candidates, key=lambda i: -scores[u, i])
        for k in ks:
            top = ranking[:k]
            hits = [1.0 if i in targets else 0.0 for i in top]
            out[f"Recall@{k}"].append(sum(hits) / len(targets))
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(targets), k)))
            out[f"NDCG@{k}"].append(dcg / idcg)
    return {name: float(np.mean(v)) for name, v in out.items()}


def random_data(seed, n_users=40, n_items=60, multi=False):
    rng = np.random.default_rng(seed)
    train, valid, test = [], [], []
    for u in range(n_users):
        items = rng.permutation(n_items)
        n_train = rng.integers(1, 15)
        train += [(u, i) for i in items[:n_train]]
        n_valid = rng.integers(1, 3) if multi else 1
        valid += [(u, i) for i in items[n_train:n_train + n_valid]]
        if u % 7:  # some users have no test item
            n_test = rng.integers(1, 4) if multi else 1
            test += [(u, i) for i in items[n_train + n_valid:n_train + n_valid + n_test]]
    return Interactions("random", n_users, n_items, np.array(train), np.array(valid), np.array(test))


@pytest.mark.parametrize("seed,multi,chunk_bytes", [(0, False, 2**20), (1, False, 700), (2, True, 2**20),
                                                    (3, True, 1000)])
def test_matches_brute_force(seed, multi, chunk_bytes):
    data = random_data(seed, multi=multi)
    gen = torch.Generator().manual_seed(seed)
    user_emb = torch.randn(data.n_users, 8, generator=gen)
    item_emb = torch.randn(data.n_items, 8, generator=gen)
    ks = (1, 5, 10)
    fast = evaluate_embeddings(user_emb, item_emb, data, ks=ks, max_chunk_bytes=chunk_bytes)
    for split in ("valid", "test"):
        slow = brute_force(user_emb, item_emb, data, split, ks)
        for name, value in slow.items():
            assert fast[split][name] == pytest.approx(value, abs=1e-12), (split, name)


def test_perfect_and_worst_scores():
    data = random_data(4)
    n = data.n_items
    # every held-out test item gets the top score -> Recall@1 = NDCG@1 = 1 on test
    item_emb = torch.eye(n)
    user_emb = torch.zeros(data.n_users, n)
    user_emb[torch.tensor(data.test[:, 0]), torch.tensor(data.test[:, 1])] = 1.0
    result = evaluate_embeddings(user_emb, item_emb, data, ks=(1,))
    assert result["test"]["Recall@1"] == 1.0 and result["test"]["NDCG@1"] == 1.0
    result = evaluate_embeddings(-user_emb, item_emb, data, ks=(1,))
    assert result["test"]["Recall@1"] == 0.0


def test_bad_arguments():
    data = random_data(5)
    u, i = torch.zeros(data.n_users, 4), torch.zeros(data.n_items, 4)
    with pytest.raises(ValueError, match="split"):
        evaluate_embeddings(u, i, data, splits=("train",))
    with pytest.raises(ValueError, match="cut-offs"):
        evaluate_embeddings(u, i, data, ks=(0,))
    with pytest.raises(ValueError, match="do not match"):
        evaluate_embeddings(u[:-1], i, data)


# ----------------------------------------------------------------------------------------------
# Ties: the held-out item's rank is the expected rank under uniform random tie-breaking
# ----------------------------------------------------------------------------------------------

def test_hand_worked_example_with_ties():
    # one user, six items scored [9, 3, 5, 3, 3, 1]; item 0 is a training item, item 5 the validation
    # item, item 1 the test item. Test candidates: items 1, 2, 3, 4. One (item 2) scores above the test
    # item, two (items 3, 4) tie with it, so its 0-based rank is 1, 2 or 3, each with probability 1/3:
    # Recall@1 = 0, Recall@2 = 1/3, Recall@3 = 2/3, NDCG@3 = (1/log2(3) + 1/log2(4)) / 3.
    data = Interactions("ties", n_users=1, n_items=6, train=[[0, 0]], valid=[[0, 5]], test=[[0, 1]])
    scores = torch.tensor([9.0, 3.0, 5.0, 3.0, 3.0, 1.0])
    result = evaluate_embeddings(torch.ones(1, 1), scores[:, None], data, ks=(1, 2, 3))["test"]
    assert result["Recall@1"] == 0.0
    assert result["Recall@2"] == pytest.approx(0.3333333333, abs=1e-9)
    assert result["Recall@3"] == pytest.approx(0.6666666667, abs=1e-9)
    assert result["NDCG@3"] == pytest.approx(0.3769765845, abs=1e-9)


def test_collapsed_model_scores_chance_not_perfection():
    # The old evaluator (strict '>') gave all-zero embeddings Recall@1 = NDCG@1 = 1.0.
    data = random_data(6)
    zeros_u, zeros_i = torch.zeros(data.n_users, 4), torch.zeros(data.n_items, 4)
    result = evaluate_embeddings(zeros_u, zeros_i, data, ks=(1, 5))
    n_train = np.bincount(data.train[:, 0], minlength=data.n_users)
    for split, other in (("valid", "test"), ("test", "valid")):
        users = getattr(data, split)[:, 0]
        n_other = np.bincount(getattr(data, other)[:, 0], minlength=data.n_users)
        candidates = data.n_items - n_train[users] - n_other[users]   # the other split's item is excluded
        for k in (1, 5):
            chance = float(np.mean(np.minimum(k, candidates) / candidates))
            assert result[split][f"Recall@{k}"] == pytest.approx(chance, abs=1e-12), (split, k)
    assert result["test"]["Recall@1"] < 0.05 and result["test"]["NDCG@1"] < 0.05


def monte_carlo_with_ties(user_emb, item_emb, data, split, ks, n_draws, seed):
    """The brute-force evaluator with random tie-breaking: per draw, each item gets a random secondary
    key, the per-user ranking sorts by (score, key); returns the mean and standard error over draws."""
    rng = np.random.default_rng(seed)
    scores = (user_emb @ item_emb.T).numpy()
    other = "test" if split == "valid" else "valid"
    train = {(u, i) for u, i in data.train}
    excluded = {(u, i) for u, i in getattr(data, other)}
    held = {}
    for u, i in getattr(data, split):
        held.setdefault(u, set()).add(i)
    draws = []
    for _ in range(n_draws):
        key = rng.random(scores.shape)
        out = {f"{m}@{k}": [] for k in ks for m in ("Recall", "NDCG")}
        for u, targets in held.items():
            candidates = [i for i in range(data.n_items) if (u, i) not in train and (u, i) not in excluded]
            ranking = sorted(candidates, key=lambda i: (-scores[u, i], key[u, i]))
            for k in ks:
                hits = [1.0 if i in targets else 0.0 for i in ranking[:k]]
                out[f"Recall@{k}"].append(sum(hits) / len(targets))
                dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
                out[f"NDCG@{k}"].append(dcg / sum(1 / math.log2(r + 2) for r in range(min(len(targets), k))))
        draws.append({name: float(np.mean(v)) for name, v in out.items()})
    over_draws = {name: mean_and_se([d[name] for d in draws]) for name in draws[0]}
    return ({name: m for name, (m, _) in over_draws.items()}, {name: se for name, (_, se) in over_draws.items()})


@pytest.mark.parametrize("seed,multi", [(7, False), (8, True)])
def test_ties_match_random_tie_breaking(seed, multi):
    # integer scores from a handful of values: many ties, among the rest and among a user's held-out items
    data = random_data(seed, n_users=25, n_items=30, multi=multi)
    gen = torch.Generator().manual_seed(seed)
    user_emb = torch.randint(0, 2, (data.n_users, 3), generator=gen).double()
    item_emb = torch.randint(0, 2, (data.n_items, 3), generator=gen).double()
    ks = (1, 3, 10)
    fast = evaluate_embeddings(user_emb, item_emb, data, ks=ks, max_chunk_bytes=500)
    for split in ("valid", "test"):
        mean, se = monte_carlo_with_ties(user_emb, item_emb, data, split, ks, n_draws=300, seed=seed)
        for name in mean:
            assert abs(fast[split][name] - mean[name]) <= 4 * se[name] + 1e-9, (split, name, mean[name], se[name])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_infinite_embeddings_raise(bad):
    data = random_data(9)
    user_emb, item_emb = torch.randn(data.n_users, 4), torch.randn(data.n_items, 4)
    item_emb[3, 1] = bad
    with pytest.raises(ValueError, match="item embeddings contain NaN or infinite"):
        evaluate_embeddings(user_emb, item_emb, data)
    with pytest.raises(ValueError, match="user embeddings contain NaN or infinite"):
        evaluate_embeddings(user_emb * bad, torch.randn(data.n_items, 4), data)


@pytest.mark.parametrize("ks, message", [((), "non-empty"), ((10.5,), "integer cut-offs"), ((True,), "integer cut-offs"),
                                         ((0, 5), "1..n_items"), ((61,), "1..n_items")])
def test_bad_cutoffs_raise(ks, message):
    data = random_data(10)
    with pytest.raises(ValueError, match=message):
        evaluate_embeddings(torch.randn(data.n_users, 4), torch.randn(data.n_items, 4), data, ks=ks)
