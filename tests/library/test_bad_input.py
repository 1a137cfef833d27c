"""The bad-input table (issue 9): what each kind of bad input gets, in one place.

Every row names a bad input, the public call that receives it, the exception it must raise there (at
the boundary: the loader, the constructor or config object, the entry point; before any training)
and a regular expression the message must match, naming the problem. Warnings are rows too: a
row whose "exception" is a ``Warning`` subclass expects that warning instead (documented behaviour
that is not an error, e.g. duplicated rows are dropped with a warning).

Adding a row: append a ``pytest.param(call, Expected, r"regex", id="area-what")`` to ``TABLE``, where
``call(tmp_path)`` makes the bad call (``tmp_path`` is a fresh folder for files it needs). Command-line
rows (run in a subprocess) go to ``CLI_TABLE``, failed writes of results and figures to ``WRITE_TABLE``.
The data the rows share is built once by the small cached helpers below. Tests after the tables check
the documented behaviours that are not errors (a user with all items but one in training, the cosine
of a zero vector with an epsilon, the model after a NaN loss) and that seeded runs are bit-identical.
"""
from __future__ import annotations

import errno
import functools
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from htd_tutorial import __main__ as cli
from htd_tutorial import losses
from htd_tutorial.cache import CACHE_VERSION, get_teacher, load_checkpoint, save_checkpoint
from htd_tutorial.course import popularity_baseline
from htd_tutorial.data import Interactions, MissingDataError, load_dataset, load_interactions, make_synthetic
from htd_tutorial.distill import make_distiller
from htd_tutorial.evaluation import evaluate_embeddings
from htd_tutorial.config import RunConfig
from htd_tutorial.experiments import METHODS
from htd_tutorial.losses.htd import HTD_MODES
from htd_tutorial.models import MODEL_KINDS, make_model
from htd_tutorial.paper.reproduce import reproduce, save_figure_atomic, write_json_atomic
from htd_tutorial.training import train
from tests.conftest import REPO_ROOT


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


def teacher_tables(*, nan: bool = False, zero_row: bool = False):
    """An (untrained) dimension-8 teacher's tables for :func:`tiny`, optionally with a NaN or an all-zero row."""
    gen = torch.Generator().manual_seed(0)
    users, items = torch.randn(tiny().n_users, 8, generator=gen), torch.randn(tiny().n_items, 8, generator=gen)
    if nan:
        items[3, 1] = math.nan
    if zero_row:
        users[5] = 0
    return users, items


def batch(n: int, dim: int, *, nan: bool = False, zero_row: bool = False, inf: bool = False):
    """``n`` random embeddings of dimension ``dim`` (seeded), optionally with a NaN, an inf or an all-zero row."""
    x = torch.randn(n, dim, generator=torch.Generator().manual_seed(n * 100 + dim))
    if nan:
        x[1, 0] = math.nan
    if inf:
        x[2, 1] = math.inf
    if zero_row:
        x[0] = 0
    return x


class NaNFromCall(torch.nn.Module):
    """A distiller (see htd_tutorial.distill) whose loss turns NaN from its ``call``-th call on (1-based)."""

    def __init__(self, call: int):
        super().__init__()
        self.call, self.calls = call, 0

    def forward(self, s_users, s_items, users, items, epoch, max_epoch):
        self.calls += 1
        value = s_users.sum() * (math.nan if self.calls >= self.call else 0.0)
        return {"loss": value, "broken": value.detach()}


def train_tiny(*, model=None, **settings):
    """Train a dimension-4 BPR model on :func:`tiny` quietly (``settings`` override the defaults)."""
    model = model if model is not None else make_model("bpr", tiny(), 4)
    return train(model, tiny(), **{"epochs": 1, "batch_size": 64, "progress": False, **settings})


def with_zero_user_row(model):
    """``model`` with user 0's embedding set to zero (a vector whose plain cosine is undefined)."""
    with torch.no_grad():
        model.user_emb.weight[0] = 0
    return model


def with_nan(model):
    """``model`` with one NaN in its item table."""
    with torch.no_grad():
        model.item_emb.weight[2, 1] = math.nan
    return model


@functools.lru_cache(maxsize=None)
def explorer():
    """A TopologyExplorer on :func:`tiny` with an untrained teacher (the rows fail before anything trains)."""
    from htd_tutorial.course.explorer import SHIPPED, TopologyExplorer

    settings = SHIPPED.replace(dims=(2, 4), dim=2, K=3, K_max=10, n_users_shown=20, n_items_shown=30,
                               k_neighbours=5)
    return TopologyExplorer(tiny(), make_model("bpr", tiny(), 8, seed=1), settings, projection="pca",
                            disk_cache=False)


def explorer_settings(**changes):
    from htd_tutorial.course.explorer import SHIPPED

    return SHIPPED.replace(**changes)


def tiny_teacher(folder) -> dict:
    """get_teacher's settings for a quick dimension-4 teacher of :func:`tiny` cached in ``folder``."""
    return dict(dim=4, epochs=1, batch_size=64, directory=folder, progress=False, verbose=False)


def damaged_teacher_cache(tmp, damage):
    """Cache a teacher in ``tmp``, ``damage(path)`` its file, then ask for the same teacher again."""
    get_teacher(tiny(), **tiny_teacher(tmp))
    (path,) = tmp.glob("teacher-*.pt")
    damage(path)
    return get_teacher(tiny(), **tiny_teacher(tmp))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def wrong_shapes(path):
    state, meta = load_checkpoint(path)
    save_checkpoint(path, {name: torch.zeros(t.shape[0] + 1, *t.shape[1:]) for name, t in state.items()}, meta)


def older_code(path):
    blob = torch.load(path, weights_only=True)
    blob["code"] = CACHE_VERSION - 1
    torch.save(blob, path)


def below_a_file(tmp):
    """A cache folder that cannot be made: its parent is a file (fails for root too, unlike chmod)."""
    (tmp / "a-file").write_text("not a folder")
    return tmp / "a-file" / "cache"


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
    pytest.param(lambda tmp: load_interactions(split_folder(
                     tmp, train="".join(f"0\t{i}\n" for i in range(6)) + "1\t1\n", valid="1\t2\n", test="1\t3\n")),
                 ValueError, r"split: .*user 0 has every one of the 6 items in training.*no item left to draw",
                 id="data-user-with-every-item-in-train.tsv"),
    pytest.param(lambda tmp: Interactions("mine", 2, 3, train=[[0, 0], [0, 1], [0, 2], [1, 0]], valid=no_pairs(),
                                          test=no_pairs()),
                 ValueError, r"mine: user 0 has every one of the 3 items in training", id="interactions-every-item"),
    pytest.param(lambda tmp: Interactions("mine", 2, 3, train=[[0, 0], [1, 2], [0, 0]], valid=no_pairs(),
                                          test=no_pairs()),
                 ValueError, r"mine train: 1 repeated pair\(s\), e\.g\. user 0, item 0",
                 id="interactions-repeated-pair"),
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

    # --- losses, models and distillers (htd_tutorial/losses/*.py, models.py, distill.py) ---
    pytest.param(lambda tmp: make_model("bpr", tiny(), 0),
                 ValueError, r"embedding dimension must be a positive integer, got 0", id="model-dim-zero"),
    pytest.param(lambda tmp: make_model("lightgcn", tiny(), -4),
                 ValueError, r"embedding dimension must be a positive integer, got -4", id="model-dim-negative"),
    pytest.param(lambda tmp: make_model("mf", tiny(), 4),
                 ValueError, r"unknown model kind 'mf'; choose one of \('bpr', 'lightgcn'\)", id="model-unknown-kind"),
    pytest.param(lambda tmp: make_distiller("kd", *teacher_tables(), 4),
                 ValueError, r"unknown method 'kd'; choose one of", id="distiller-unknown-method"),
    pytest.param(lambda tmp: make_distiller("htd", *teacher_tables(), 4, mode="paper"),
                 ValueError, r"mode must be one of \('authors', 'clean'\), got 'paper'", id="distiller-unknown-mode"),
    pytest.param(lambda tmp: make_distiller("htd", *teacher_tables(), 4, K=0),
                 ValueError, r"K must be a positive integer, got 0", id="distiller-K-zero"),
    pytest.param(lambda tmp: make_distiller("de", *teacher_tables(), 0),
                 ValueError, r"student dimension must be a positive integer, got 0", id="distiller-student-dim-zero"),
    pytest.param(lambda tmp: make_distiller("ftd", *teacher_tables(nan=True), 4),
                 ValueError, r"teacher_items contains NaN or infinite values .*first row 3",
                 id="distiller-nan-teacher"),
    pytest.param(lambda tmp: make_distiller("ftd", *teacher_tables(zero_row=True), 4, mode="authors"),
                 ValueError, r"teacher_users has 1 all-zero rows \(first: 5\).*mode='clean'",
                 id="distiller-zero-teacher-row-plain-cosine"),
    pytest.param(lambda tmp: losses.FitNetLoss(0, 8),
                 ValueError, r"student_dim must be a positive integer, got 0", id="fitnet-dim-zero"),
    pytest.param(lambda tmp: losses.ftd_loss(batch(6, 4, nan=True), batch(6, 8)),
                 ValueError, r"student embeddings contain NaN or infinite values \(1 rows, first row 1\)",
                 id="ftd-nan-student"),
    pytest.param(lambda tmp: losses.ftd_loss(batch(6, 4), batch(6, 8, inf=True)),
                 ValueError, r"teacher embeddings contain NaN or infinite values", id="ftd-inf-teacher"),
    pytest.param(lambda tmp: losses.ftd_loss(batch(6, 4, zero_row=True), batch(6, 8)),
                 ValueError, r"student embeddings have 1 all-zero rows \(first row 0\).*cosine.*0/0.*eps > 0",
                 id="ftd-zero-vector-plain-cosine"),
    pytest.param(lambda tmp: losses.ftd_loss_naive(batch(6, 4), batch(6, 8, zero_row=True)),
                 ValueError, r"teacher embeddings have 1 all-zero rows", id="ftd-naive-zero-vector-plain-cosine"),
    pytest.param(lambda tmp: losses.ftd_loss(batch(5, 4), batch(6, 8)),
                 ValueError, r"student has 5 rows but teacher has 6", id="ftd-batch-sizes-differ"),
    pytest.param(lambda tmp: losses.HTDLoss(8, 4, K=2)(batch(5, 4), batch(3, 4), batch(6, 8), batch(3, 8), 1.0),
                 ValueError, r"users: student has 5 rows but teacher has 6", id="htd-batch-sizes-differ"),
    pytest.param(lambda tmp: losses.HTDLoss(8, 4, K=2)(batch(5, 3), batch(3, 3), batch(5, 8), batch(3, 8), 1.0),
                 ValueError, r"users: student embeddings have dimension 3, but this module was built for student_dim=4",
                 id="htd-student-dim-differs"),
    pytest.param(lambda tmp: losses.HTDLoss(8, 4, K=2)(batch(5, 4, nan=True), batch(3, 4), batch(5, 8), batch(3, 8),
                                                         1.0),
                 ValueError, r"users: student embeddings contain NaN", id="htd-nan-student"),
    pytest.param(lambda tmp: losses.DELoss(8, 4, K=2)(batch(5, 4), batch(3, 4), batch(5, 8), batch(2, 8), 1.0),
                 ValueError, r"items: student has 3 rows but teacher has 2", id="de-batch-sizes-differ"),
    pytest.param(lambda tmp: losses.entity_topology(batch(5, 4), batch(5, 8), torch.zeros(4, dtype=torch.long)),
                 ValueError, r"groups must hold one group per entity, shape \(5,\), got \(4,\)",
                 id="entity-topology-groups-length"),

    # --- training (htd_tutorial/training.py, experiments.py: settings are checked before anything trains) ---
    pytest.param(lambda tmp: train_tiny(ks=()),
                 ValueError, r"ks must be a non-empty sequence of integer cut-offs in 1\.\.n_items=60, got \(\)",
                 id="train-ks-empty"),
    pytest.param(lambda tmp: train_tiny(ks=(10.5, 20)),
                 ValueError, r"ks must be integer cut-offs in 1\.\.n_items=60, got 10\.5", id="train-ks-float"),
    pytest.param(lambda tmp: train_tiny(ks=(10, 61)),
                 ValueError, r"ks must be integer cut-offs in 1\.\.n_items=60, got 61", id="train-ks-above-n-items"),
    pytest.param(lambda tmp: popularity_baseline(tiny(), ks=(10.5,)),
                 ValueError, r"ks must be integer cut-offs in 1\.\.n_items=60, got 10\.5", id="popularity-ks-float"),
    pytest.param(lambda tmp: popularity_baseline(tiny(), ks=()),
                 ValueError, r"ks must be a non-empty sequence", id="popularity-ks-empty"),
    pytest.param(lambda tmp: train_tiny(epochs=1.5),
                 ValueError, r"epochs must be an integer >= 0, got 1\.5", id="train-epochs-float"),
    pytest.param(lambda tmp: train_tiny(eval_every=-1),
                 ValueError, r"eval_every must be an integer >= 0, got -1", id="train-eval-every-negative"),
    pytest.param(lambda tmp: train_tiny(epochs=2, distiller=NaNFromCall(6)),
                 FloatingPointError, r"training diverged at epoch 2 of 2, step 2 of 4: the loss is nan \(bpr [0-9.]+, "
                                     r"broken nan\)", id="train-nan-loss"),
    pytest.param(lambda tmp: train_tiny(model=with_nan(make_model("bpr", tiny(), 4))),
                 FloatingPointError, r"training diverged at epoch 1 of 1, step 1 of 4: the loss is nan",
                 id="train-nan-model"),
    pytest.param(lambda tmp: train_tiny(model=with_zero_user_row(make_model("bpr", tiny(), 4)), batch_size=4096,
                                        distiller=make_distiller("ftd", *teacher_tables(), 4, mode="authors")),
                 ValueError, r"epoch 1 of 1, step 1 of 1: student embeddings have 1 all-zero rows",
                 id="train-ftd-zero-student-row-plain-cosine"),
    pytest.param(lambda tmp: reproduce("synthetic", dims=(), out=tmp / "out", progress=False),
                 ValueError, r"nothing to run: dims=\(\) and methods=", id="reproduce-no-dims"),
    pytest.param(lambda tmp: reproduce("synthetic", dims=(10.5,), out=tmp / "out", progress=False),
                 ValueError, r"student dimension must be a positive integer, got 10\.5", id="reproduce-float-dim"),
    pytest.param(lambda tmp: RunConfig(method="kd", dim=4),
                 ValueError, r"unknown method 'kd'; choose one of", id="runconfig-unknown-method"),
    pytest.param(lambda tmp: RunConfig(method="htd", dim=0),
                 ValueError, r"student dimension must be a positive integer, got 0", id="runconfig-dim-zero"),
    pytest.param(lambda tmp: RunConfig(method="htd", dim=4, kind="mf"),
                 ValueError, r"unknown model kind 'mf'; choose one of \('bpr', 'lightgcn'\)",
                 id="runconfig-unknown-kind"),
    pytest.param(lambda tmp: RunConfig(method="htd", dim=4, K=0),
                 ValueError, r"K must be a positive integer, got 0", id="runconfig-K-zero"),
    pytest.param(lambda tmp: RunConfig(method="htd", dim=4, mode="paper"),
                 ValueError, r"mode must be one of \('authors', 'clean'\), got 'paper'", id="runconfig-unknown-mode"),
    pytest.param(lambda tmp: RunConfig(method="ftd", dim=4, optimizer="sgd"),
                 ValueError, r"unknown optimizer 'sgd'; choose one of", id="runconfig-unknown-optimizer"),
    pytest.param(lambda tmp: RunConfig(method="ftd", dim=4, eval_every=2.5),
                 ValueError, r"eval_every must be an integer >= 0, got 2\.5", id="runconfig-eval-every-float"),
    pytest.param(lambda tmp: RunConfig(method="ftd", dim=4, lr=math.nan),
                 ValueError, r"lr must be > 0, got nan", id="runconfig-lr-nan"),

    # --- the explorer (htd_tutorial/course/explorer/settings.py: a setting outside the controls' range fails before training) ---
    pytest.param(lambda tmp: explorer().compute("fitnet", 2, 3),
                 ValueError, r"unknown method 'fitnet'; choose one of student, ftd, htd", id="explorer-unknown-method"),
    pytest.param(lambda tmp: explorer().compute("htd", 0, 3),
                 ValueError, r"the student dimension must be a whole number >= 1, got 0", id="explorer-dim-zero"),
    pytest.param(lambda tmp: explorer().compute("ftd", 64, 3),
                 ValueError, r"the student dimension 64 is not on the dimension slider, which offers 2, 4",
                 id="explorer-dim-not-on-the-slider"),
    pytest.param(lambda tmp: explorer().compute("htd", 2, 0),
                 ValueError, r"the number of groups K must be a whole number >= 1, got 0", id="explorer-K-zero"),
    pytest.param(lambda tmp: explorer().compute("htd", 2, 41),
                 ValueError, r"K = 41 groups is more than the 40 users of this dataset", id="explorer-K-above-users"),
    pytest.param(lambda tmp: explorer().compute("htd", 2, 11),
                 ValueError, r"K = 11 groups is more than the group slider's largest value, K_max = 10",
                 id="explorer-K-above-K_max"),
    pytest.param(lambda tmp: explorer_settings(method="fitnet"),
                 ValueError, r"method must be one of \('student', 'ftd', 'htd'\), got 'fitnet'",
                 id="explorer-settings-unknown-method"),
    pytest.param(lambda tmp: explorer_settings(dim=3),
                 ValueError, r"dim=3, must be one of dims=\(2, 4, 8, 16, 32\)", id="explorer-settings-dim-not-in-dims"),

    # --- cache (htd_tutorial/cache.py): one warning naming the file and the reason, then a rebuild ---
    pytest.param(lambda tmp: damaged_teacher_cache(tmp, truncate),
                 RuntimeWarning, r"ignoring the cached teacher .*cannot be read", id="cache-truncated-file"),
    pytest.param(lambda tmp: damaged_teacher_cache(tmp, wrong_shapes),
                 RuntimeWarning, r"ignoring the cached teacher .*size mismatch", id="cache-wrong-shapes"),
    pytest.param(lambda tmp: damaged_teacher_cache(tmp, older_code),
                 RuntimeWarning, r"ignoring the cached teacher .*stale, written by cache version",
                 id="cache-stale-code-version"),
    pytest.param(lambda tmp: get_teacher(tiny(), **tiny_teacher(below_a_file(tmp))),
                 RuntimeWarning, r"could not cache the teacher", id="cache-folder-not-writable"),

    # --- evaluation (htd_tutorial/evaluation.py) ---
    pytest.param(lambda tmp: evaluate_embeddings(*teacher_tables(nan=True), tiny()),
                 ValueError, r"the item embeddings contain NaN or infinite values", id="evaluation-nan-scores"),
    pytest.param(lambda tmp: evaluate_embeddings(*teacher_tables(), tiny(), ks=()),
                 ValueError, r"ks must be a non-empty sequence", id="evaluation-ks-empty"),
    pytest.param(lambda tmp: evaluate_embeddings(*teacher_tables(), tiny(), ks=(10.5,)),
                 ValueError, r"integer cut-offs .* got 10\.5", id="evaluation-ks-float"),
]


@pytest.mark.parametrize("call, expected, pattern", TABLE)
def test_bad_input(call, expected, pattern, tmp_path):
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=pattern):
            call(tmp_path)
    else:
        with pytest.raises(expected, match=pattern):
            call(tmp_path)


# ------------------------------------------------------------------------------------------ the command line
# Each row runs ``python -m htd_tutorial <argv>`` in a subprocess (``{tmp}`` becomes the test's folder).
# Expected: exit status 2, nothing on stdout, one line on stderr matching the regex (it names the bad
# argument), within seconds, and nothing written (no output folder, no cache).
CLI_TABLE = [
    pytest.param(["reproduce", "--epochs", "-1"],
                 r"argument --epochs: expected a whole number >= 1, got -1", id="cli-epochs-negative"),
    pytest.param(["reproduce", "--dims", "10", "0"],
                 r"argument --dims: expected a whole number >= 1, got 0", id="cli-dims-zero"),
    pytest.param(["reproduce", "--dims", "x"],
                 r"argument --dims: expected a whole number >= 1, got 'x'", id="cli-dims-not-a-number"),
    pytest.param(["reproduce", "--methods", "student", "kd"],
                 r"argument --methods: invalid choice: 'kd'", id="cli-unknown-method"),
    pytest.param(["reproduce", "--data", "{tmp}/no-such-folder"],
                 r"argument --data: no dataset named '.*no-such-folder' and no file or folder", id="cli-missing-data"),
    pytest.param(["ablation", "--model", "mf"],
                 r"argument --model: invalid choice: 'mf' \(choose from 'bpr', 'lightgcn'\)", id="cli-unknown-model"),
    pytest.param(["reproduce", "--lr", "0"], r"argument --lr: expected a number > 0, got '0'", id="cli-lr-zero"),
    pytest.param(["reproduce", "--lr", "inf"], r"argument --lr: expected a number > 0, got 'inf'", id="cli-lr-inf"),
    pytest.param(["reproduce", "--lr", "fast"], r"argument --lr: expected a number > 0, got 'fast'", id="cli-lr-text"),
    pytest.param(["ablation", "--seeds", "0", "-1"],
                 r"argument --seeds: expected a whole number >= 0, got -1", id="cli-ablation-seed-negative"),
    pytest.param(["reproduce", "--seeds", "0", "-1"],
                 r"argument --seeds: expected a whole number >= 0, got -1", id="cli-reproduce-seed-negative"),
    pytest.param(["reproduce", "--seeds", "1", "1"],
                 r"reproduce: error: seeds must not repeat, got \(1, 1\)", id="cli-reproduce-seed-twice"),
    pytest.param(["reproduce", "--threads", "0"],
                 r"argument --threads: expected a whole number >= 1, got 0", id="cli-reproduce-threads-zero"),
    pytest.param(["reproduce", "--out", "{tmp}/a-file/results"],
                 r"argument --out: .*a-file is a file", id="cli-out-below-a-file"),
    pytest.param(["reproduce", "--data", "{tmp}/split-without-valid"],
                 r"reproduce: error: .*split-without-valid: missing valid\.tsv", id="cli-data-folder-lacks-valid"),
]


@pytest.mark.parametrize("argv, pattern", CLI_TABLE)
def test_bad_command_line(argv, pattern, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    split_folder(tmp_path, omit=("valid.tsv",)).rename(tmp_path / "split-without-valid")
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if "--out" not in argv:
        argv += ["--out", str(out)]
    env = dict(os.environ, HTD_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "htd_tutorial", *argv, "--no-progress"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    seconds = time.perf_counter() - started
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert seconds < 30  # fails fast (well under a second for argparse's errors, a torch import for the last row)
    assert not out.exists() and not cache.exists()


def test_cli_names_match_the_package():
    """The command line spells out its choices (importing them would import torch); they must stay the same."""
    assert cli.METHODS == METHODS and cli.MODEL_KINDS == MODEL_KINDS and cli.HTD_MODES == HTD_MODES


# ------------------------------------------------------------------------------------------ writing results
# A failed write of a results JSON or a figure (htd_tutorial/paper/reproduce.py's atomic writers, used by the
# reproduce and ablation commands) must leave the previous file as it was and no temporary file behind.
# Tests run as root, so a read-only folder would not stop them: failures are injected instead.
# Row: (writer, payload, failure, expected exception, regex); failure None = the payload itself is bad.
GOOD = {"runs": [{"method": "htd", "dim": 10, "Recall@50": 0.23}]}
WRITE_TABLE = [
    pytest.param("json", {"runs": [object()]}, None, TypeError,
                 r"results\.json not written: Object of type object is not JSON serializable",
                 id="json-unserialisable"),
    pytest.param("json", {"Recall@50": math.nan}, None, ValueError,
                 r"results\.json not written: NaN and infinite numbers are not valid JSON", id="json-nan"),
    pytest.param("json", GOOD, "disk-full", OSError, r"No space left on device", id="json-disk-full-mid-write"),
    pytest.param("json", GOOD, "rename", OSError, r"rename refused", id="json-rename-fails"),
    pytest.param("json", GOOD, "parent-is-a-file", OSError, r"a-file", id="json-parent-is-a-file"),
    pytest.param("figure", None, "disk-full", OSError, r"No space left on device", id="figure-disk-full-mid-write"),
    pytest.param("figure", None, "rename", OSError, r"rename refused", id="figure-rename-fails"),
    pytest.param("figure", None, "parent-is-a-file", OSError, r"a-file", id="figure-parent-is-a-file"),
]


def files_under(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("writer, payload, failure, expected, pattern", WRITE_TABLE)
def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(writer, payload, failure, expected, pattern,
                                                                   tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    (tmp_path / "a-file").write_text("a file, not a folder")
    name = "results.json" if writer == "json" else "figure.png"
    target = tmp_path / "out" / name
    target.parent.mkdir()
    target.write_bytes(b'{"old": true}\n' if writer == "json" else b"\x89PNG the previous figure")
    if failure == "parent-is-a-file":
        target = tmp_path / "a-file" / name
    before = files_under(tmp_path)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "rename refused")

    fig = plt.figure()
    fig.add_subplot().plot([1, 2, 3])
    if failure == "rename":
        monkeypatch.setattr(os, "replace", refuse)
    if failure == "disk-full" and writer == "json":
        def half_a_dump(obj, handle, **kwargs):
            handle.write('{"runs": [')
            no_space()
        monkeypatch.setattr(json, "dump", half_a_dump)
    if failure == "disk-full" and writer == "figure":
        def half_a_figure(fname, **kwargs):
            Path(fname).write_bytes(b"\x89PNG half")
            no_space()
        fig.savefig = half_a_figure
    with pytest.raises(expected, match=pattern):
        if writer == "json":
            write_json_atomic(target, payload)
        else:
            save_figure_atomic(fig, target)
    assert files_under(tmp_path) == before  # the old file as it was, nothing else (no temporary file)
    if writer == "figure":
        assert not plt.fignum_exists(fig.number)  # closed even when the save failed
    plt.close(fig)


def test_the_atomic_writers_still_write(tmp_path):
    """The counterpart of the rows above: with nothing failing, both writers replace the old file."""
    import matplotlib.pyplot as plt

    target = tmp_path / "deep" / "results.json"
    write_json_atomic(target, {"old": True})
    write_json_atomic(target, GOOD)
    assert json.loads(target.read_text()) == GOOD and (target.stat().st_mode & 0o777) == 0o644
    fig = plt.figure()
    figure = save_figure_atomic(fig, tmp_path / "deep" / "figure.png")
    assert figure.read_bytes().startswith(b"\x89PNG") and not plt.fignum_exists(fig.number)
    assert sorted(p.name for p in target.parent.iterdir()) == ["figure.png", "results.json"]


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
    """Leave-one-out holds out two of their items, so those are this user's negatives.

    (Documented in load_interactions; only a user with every item in *training* is an error.)
    """
    from htd_tutorial.sampling import TripleSampler

    rows = [(0, i) for i in range(6)] + [(u, i) for u in (1, 2, 3) for i in (u, u + 1, u + 2)]
    data = load_interactions(write(tmp_path, "full.tsv", "user\titem\n" + "".join(f"{u}\t{i}\n" for u, i in rows)))
    held = {int(data.valid[0, 1]), int(data.test[0, 1])}
    sampler = TripleSampler(data, batch_size=8, seed=0)
    for users, _, negatives in sampler:
        assert set(negatives[users == 0].tolist()) <= held


def test_cosine_of_a_zero_vector_is_zero_with_an_epsilon():
    """The decision for all-zero rows: eps = 0 (the authors' plain cosine) raises (see the rows), eps > 0: cosine 0."""
    student, teacher = batch(6, 4, zero_row=True), batch(6, 8)
    sim = losses.cosine_similarity_matrix(student, eps=1e-8)
    assert torch.equal(sim[0], torch.zeros(6)) and torch.isfinite(sim).all()
    assert torch.isfinite(losses.ftd_loss(student, teacher, eps=1e-8))
    fast, naive = losses.ftd_loss(student, teacher, eps=1e-8), losses.ftd_loss_naive(student, teacher, eps=1e-8)
    assert torch.allclose(fast, naive)
    htd = losses.HTDLoss(8, 4, K=2, options=losses.HTDOptions.preset("clean"))
    assert torch.isfinite(htd(student[:4], student[4:], teacher[:4], teacher[4:], 1.0)["htd"])


def test_a_nan_loss_stops_training_before_the_model_is_touched():
    """Not a silent NaN model: the step whose loss is NaN raises before it updates anything."""
    model = make_model("bpr", tiny(), 4)
    with pytest.raises(FloatingPointError, match="epoch 1 of 1, step 3 of 4"):
        train_tiny(model=model, distiller=NaNFromCall(3))
    assert all(torch.isfinite(table).all() for table in model.all_embeddings())


@pytest.mark.parametrize("method", ["ftd", "htd"])
def test_two_identical_seeded_distillation_runs_are_bit_identical(method):
    """Same data, teacher, settings and seed: the same student and distiller, bit for bit.

    On the CPU (a GPU's atomic index_add, which HTD's prototypes and experts use, need not be).
    """
    with torch.no_grad():
        t_users, t_items = make_model("bpr", tiny(), 8, seed=1).all_embeddings()
    runs = []
    for _ in range(2):
        student = make_model("bpr", tiny(), 4, seed=7)
        distiller = make_distiller(method, t_users, t_items, 4, K=3, seed=7, n_users=tiny().n_users,
                                   n_items=tiny().n_items)
        history = train_tiny(model=student, distiller=distiller, epochs=3, lr=1e-2, seed=7, eval_every=1,
                             device="cpu")
        runs.append((student, distiller, history))
    (first, first_distiller, first_history), (second, second_distiller, second_history) = runs
    assert not torch.equal(first.all_embeddings()[0], make_model("bpr", tiny(), 4, seed=7).all_embeddings()[0])
    for a, b in zip(first.all_embeddings(), second.all_embeddings()):
        assert torch.equal(a, b)
    state_a, state_b = first_distiller.state_dict(), second_distiller.state_dict()
    assert state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    timeless = [[{k: v for k, v in record.items() if k != "seconds"} for record in history.losses]
                for history in (first_history, second_history)]
    assert timeless[0] == timeless[1] and first_history.metrics == second_history.metrics
