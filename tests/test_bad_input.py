"""The bad-input table (issue 9): what each kind of bad input gets, in one place.

Every row names a bad input, the public call that receives it, the exception it must raise there (at
the boundary: the loader, the constructor or config object, the entry point; before any training)
and a regular expression the message must match, naming the problem. Warnings are rows too: a
row whose "exception" is a ``Warning`` subclass expects that warning instead (documented behaviour
that is not an error, e.g. duplicated rows are dropped with a warning).

Adding a row: append a ``pytest.param(call, Expected, r"regex", id="area-what")`` to ``TABLE``, where
``call(tmp_path)`` makes the bad call (``tmp_path`` is a fresh folder for files it needs). Rows that
need a subprocess (the command line) go to ``CLI_TABLE``, rows about writing files to the write-failure
tests at the end. Data the rows share is built once by the small cached helpers below.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from htd_tutorial.data import Interactions, MissingDataError, load_dataset, load_interactions, make_synthetic


# ------------------------------------------------------------------------------------------ helpers
def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``folder / name`` and return the path."""
    path = folder / name
    path.write_text(text)
    return path


def split_folder(folder: Path, *, omit: tuple[str, ...] = (), **bodies: str) -> Path:
    """A valid train/valid/test folder (4 users, 6 items) under ``folder / "split"``, minus the files in ``omit``.

    Keyword arguments ``train``, ``valid``, ``test`` replace a file's rows (the header is added).
    """
    root = folder / "split"
    root.mkdir()
    bodies = {"train.tsv": bodies.get("train", "0\t0\n0\t1\n1\t1\n1\t2\n2\t2\n2\t3\n3\t3\n3\t4\n"),
              "valid.tsv": bodies.get("valid", "0\t2\n1\t3\n2\t4\n3\t5\n"),
              "test.tsv": bodies.get("test", "0\t3\n1\t4\n2\t5\n3\t0\n")}
    for name, body in bodies.items():
        if name not in omit:
            write(root, name, "user\titem\n" + body)
    return root


def no_pairs() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int64)


@functools.lru_cache(maxsize=None)
def tiny() -> Interactions:
    """Small synthetic data shared by the rows (built once)."""
    return make_synthetic(n_users=40, n_items=60, interactions_per_user=8, seed=0)


# ------------------------------------------------------------------------------------------ the table
TABLE = [
    # --- data files (htd_tutorial/data/files.py, interactions.py, split.py) ---
    pytest.param(lambda tmp: load_interactions(write(tmp, "empty.tsv", "")),
                 ValueError, r"empty\.tsv, line 1: empty file", id="data-empty-file"),
    pytest.param(lambda tmp: load_interactions(write(tmp, "header.tsv", "user\titem\n")),
                 ValueError, r"header\.tsv, line 2: no interactions after the header", id="data-header-only"),
    pytest.param(lambda tmp: load_interactions(write(tmp, "x.tsv", "user\titem\n1\t2\n1\tabc\n")),
                 ValueError, r"x\.tsv, line 3: non-integer item ID 'abc'", id="data-non-integer-id"),
    pytest.param(lambda tmp: load_interactions(write(tmp, "x.csv", "user,item\n1,2\n-3,4\n")),
                 ValueError, r"x\.csv, line 3: negative user ID -3", id="data-negative-id"),
    pytest.param(lambda tmp: load_interactions(write(tmp, "x.tsv", "user\titem\n" + "".join(
                     f"{u}\t{i}\n" for u in range(3) for i in range(4)) + "1\t2\n")),
                 UserWarning, r"x\.tsv: dropped 1 duplicated interaction\(s\) \(the first at line 14: user 1, item 2\)",
                 id="data-duplicate-rows-warn"),
    pytest.param(lambda tmp: load_interactions(split_folder(tmp, train="".join(f"0\t{i}\n" for i in range(6)) + "1\t1\n",
                                                            valid="1\t2\n", test="1\t3\n")),
                 ValueError, r"split: .*user 0 has every one of the 6 items in training.*no item left to draw",
                 id="data-user-with-every-item-in-train.tsv"),
    pytest.param(lambda tmp: Interactions("mine", 2, 3, train=[[0, 0], [0, 1], [0, 2], [1, 0]], valid=no_pairs(),
                                          test=no_pairs()),
                 ValueError, r"mine: user 0 has every one of the 3 items in training", id="interactions-every-item"),
    pytest.param(lambda tmp: Interactions("mine", 2, 3, train=[[0, 0], [1, 2], [0, 0]], valid=no_pairs(),
                                          test=no_pairs()),
                 ValueError, r"mine train: 1 repeated pair\(s\), e\.g\. user 0, item 0", id="interactions-repeated-pair"),
    pytest.param(lambda tmp: Interactions("mine", 2, 3, train=[[0, 0], [1, 0]], valid=[[0, 1]], test=[[0, 1]]),
                 ValueError, r"mine: 1 test pair\(s\) are also validation pairs", id="interactions-valid-equals-test"),
    pytest.param(lambda tmp: load_interactions(split_folder(tmp, omit=("valid.tsv",))),
                 MissingDataError, r"split: missing valid\.tsv;", id="data-missing-valid-file"),
    pytest.param(lambda tmp: load_interactions(split_folder(tmp, omit=("test.tsv",))),
                 MissingDataError, r"split: missing test\.tsv;", id="data-missing-test-file"),
    pytest.param(lambda tmp: load_interactions(tmp / "nowhere.tsv"),
                 MissingDataError, r"nowhere\.tsv: no such file or folder", id="data-missing-path"),
    pytest.param(lambda tmp: load_dataset("movielens-1m"),
                 ValueError, r"unknown dataset 'movielens-1m'; choose one of", id="data-unknown-name"),

    # --- losses, models and distillers ---

    # --- training ---

    # --- the explorer ---

    # --- cache (htd_tutorial/cache.py): rows to be added here by the cache's owner ---
    # truncated checkpoint file, tensors of the wrong shapes, read-only cache folder

    # --- evaluation (htd_tutorial/evaluation.py): rows to be added here by the evaluation's owner ---
    # NaN scores, ks=(), float ks (e.g. 10.5)
]


@pytest.mark.parametrize("call, expected, pattern", TABLE)
def test_bad_input(call, expected, pattern, tmp_path):
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=pattern):
            call(tmp_path)
    else:
        with pytest.raises(expected, match=pattern):
            call(tmp_path)


# ------------------------------------------------------------------------------------------ behaviour rows
def test_sampler_never_returns_a_training_item_for_a_user_with_one_negative_left():
    """A user with all items but one in training: every negative drawn for them is that one item.

    (The documented alternative to an error: the sampler redraws until no negative is a training item,
    and Interactions guarantees every user has at least one item outside training, so it ends.)
    """
    from htd_tutorial.sampling import TripleSampler

    train = [[0, i] for i in range(5)] + [[1, 0], [1, 1]]
    data = Interactions("almost-full", 2, 6, train=train, valid=[[1, 2]], test=[[1, 3]])
    sampler = TripleSampler(data, batch_size=4, seed=0)
    for _ in range(20):
        for users, positives, negatives in sampler:
            assert (negatives[users == 0] == 5).all()
            assert not sampler.is_train_pair(users, negatives).any()


def test_a_user_with_every_item_in_a_single_file_keeps_the_held_out_items_as_negatives(tmp_path):
    """Leave-one-out holds out two of their items, so those are this user's negatives (documented in load_interactions)."""
    from htd_tutorial.sampling import TripleSampler

    rows = [(0, i) for i in range(6)] + [(u, i) for u in (1, 2, 3) for i in (u, u + 1, u + 2)]
    data = load_interactions(write(tmp_path, "full.tsv", "user\titem\n" + "".join(f"{u}\t{i}\n" for u, i in rows)))
    held = {int(data.valid[0, 1]), int(data.test[0, 1])}
    sampler = TripleSampler(data, batch_size=8, seed=0)
    for users, _, negatives in sampler:
        assert set(negatives[users == 0].tolist()) <= held
