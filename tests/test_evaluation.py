"""Full-ranking evaluation against a brute-force per-user implementation."""
import math

import numpy as np
import pytest
import torch

from htd_tutorial.data import Interactions
from htd_tutorial.evaluation import evaluate_embeddings


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
