"""Mutation testing: do the fast unit tests notice wrong code where the course's numbers come from?

A curated list of small, deliberate bugs (:data:`MUTANTS`: an operator swapped, a cut-off off by one, a term
dropped, two keyword arguments swapped, a field left out of a key, a condition negated) in the code every
number of the course rests on: the full-ranking evaluation (ranks, ties, Recall/NDCG), the losses (BPR, FTD,
HTD, DE, FitNet and their fast paths), the cache keys (``cache.config_key``, ``get_teacher``'s key,
``run_method``'s key and the teacher digest), the data fingerprint (``Interactions.fingerprint``), the rule
that calls a difference clear (``stats.py``) and the notebooks' ``claim()``. Each mutant is applied to a
*copy* of the package in a temporary folder (the working tree is never written: other people may be editing
it), and the unit tests of that module (:data:`TESTS`, a few seconds to half a minute) run against it with
``pytest -x``. A mutant some test fails on is *killed* (so is one whose tests run past their timeout, five
times the unmutated run and at least two minutes, twice); one every test passes is a *survivor*, and each
survivor must be explained in :data:`SURVIVORS`: ``"equivalent: ..."`` (no input can tell it from the
original) or ``"accepted: ..."`` (a real change no test sees, and why that is tolerated). The score is
``killed / (total - equivalent)``; the run fails below :data:`MIN_SCORE`, on an unexplained survivor, or on an
explanation of a mutant that is killed (it went stale).

Why curated and not generated: every mutant here is a bug someone could plausibly write, so a survivor is a
finding, not noise, and the list runs in minutes on two cores (a generator such as mutmut mutates every
operator and constant of a file, its error messages included), with no extra dependency. A mutant names its function and the exact text it
replaces; when that text no longer occurs there once, the list is out of date and the run stops before any
test (``tests/project/test_mutation_list.py`` checks that in ``make test``).

Usage::

    python benchmarks/mutation.py                    # every mutant; writes benchmarks/results/mutation.json
    python benchmarks/mutation.py --jobs 1           # one mutant at a time (default: one per core, at most 2)
    python benchmarks/mutation.py --only eval. htd.  # mutants whose id starts so; no report unless --out
    python benchmarks/mutation.py --list             # the mutants and their tests, nothing run

``make mutation`` runs the first form (``MUTATION_ARGS`` are passed on).
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "benchmarks" / "results" / "mutation.json"
#: At least this share of the non-equivalent mutants must be killed.
MIN_SCORE = 0.90
#: What is copied into each worker's folder (``__pycache__`` left out).
COPIED = ("htd_tutorial", "tests")

EVAL = "htd_tutorial/evaluation.py"
STATS = "htd_tutorial/stats.py"
CACHE = "htd_tutorial/cache.py"
EXPERIMENTS = "htd_tutorial/experiments.py"
CONFIG = "htd_tutorial/config.py"
INTERACTIONS = "htd_tutorial/data/interactions.py"
COMMON = "htd_tutorial/course/common.py"
BPR = "htd_tutorial/losses/bpr.py"
FTD = "htd_tutorial/losses/ftd.py"
HTD = "htd_tutorial/losses/htd.py"
FAST = "htd_tutorial/losses/_fast.py"
POINTWISE = "htd_tutorial/losses/pointwise.py"

#: The fast unit tests run against the mutants of each file (pytest arguments), unless a mutant names its own.
TESTS = {
    EVAL: ("tests/library/test_evaluation.py",),
    STATS: ("tests/library/test_stats.py",),
    CACHE: ("tests/library/test_cache.py",),
    EXPERIMENTS: ("tests/library/test_cache.py",),
    CONFIG: ("tests/library/test_cache.py", "tests/library/test_losses.py"),
    INTERACTIONS: ("tests/library/test_cache.py",),
    COMMON: ("tests/course/test_course.py", "-k", "claim"),
    BPR: ("tests/library/test_training.py::test_bpr_loss_is_summed",
          "tests/course/test_by_hand.py::test_student_loss_by_hand"),
    FTD: ("tests/library/test_losses.py",),
    HTD: ("tests/library/test_losses.py",),
    FAST: ("tests/library/test_losses.py",),
    POINTWISE: ("tests/library/test_losses.py",),
}
#: The tests of the Gumbel-softmax pieces: the reference HTD of test_losses draws through the module's own
#: ``alpha`` and ``sample_z``, the by-hand notebook pieces write them out.
BY_HAND_Z = ("tests/course/test_by_hand.py::test_alpha_z_and_hard_groups", "tests/library/test_losses.py")


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` by ``new`` where it occurs (exactly once) in ``function`` of ``path``.

    ``function`` is a qualified name (``"HTDLoss.forward"``) or ``None`` for module level (then ``old`` must
    occur once in the whole file). ``tests``: pytest arguments, default ``TESTS[path]``.
    """

    id: str
    path: str
    function: str | None
    old: str
    new: str
    description: str
    tests: tuple[str, ...] | None = None

    def test_args(self) -> tuple[str, ...]:
        return self.tests if self.tests is not None else TESTS[self.path]


M = Mutant
MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- evaluation: ranks, ties, Recall/NDCG
    M("eval.index-by-item", EVAL, "_user_index", "np.argsort(pairs[:, 0]", "np.argsort(pairs[:, 1]",
      "pairs sorted by item instead of user"),
    M("eval.indptr-shifted", EVAL, "_user_index", "out=indptr[1:]", "out=indptr[:-1]",
      "CSR offsets written one user early"),
    M("eval.chunk-last-user", EVAL, "_chunk_pairs", "int(indptr[stop])", "int(indptr[stop - 1])",
      "a chunk's pairs stop before its last user"),
    M("eval.within-ascending", EVAL, "_within_user_ranks", "np.lexsort((-scores, rows))",
      "np.lexsort((scores, rows))", "a user's held-out items ranked lowest score first"),
    M("eval.within-runs-cross-users", EVAL, "_within_user_ranks",
      "new_score = new_user | np.r_[True, s[1:] != s[:-1]]", "new_score = np.r_[True, s[1:] != s[:-1]]",
      "a run of equal scores may continue into the next user"),
    M("eval.within-tied-self", EVAL, "_within_user_ranks", "np.bincount(run_id)[run_id] - 1",
      "np.bincount(run_id)[run_id]", "an item counted as tied with itself"),
    M("eval.within-above-plus-one", EVAL, "_within_user_ranks", "run_start - user_start",
      "run_start - user_start + 1", "one extra held-out item counted above"),
    M("eval.first-rank-off-by-one", EVAL, "_expected_hits_and_gains", "above.clamp(max=k)",
      "above.clamp(max=k - 1)", "first rank clamped at k - 1"),
    M("eval.last-rank-off-by-one", EVAL, "_expected_hits_and_gains", "(above + tied + 1).clamp(max=k)",
      "(above + tied).clamp(max=k)", "the last tied rank left out"),
    M("eval.tie-ranks-count", EVAL, "_expected_hits_and_gains", "n_ranks = (tied + 1).double()",
      "n_ranks = tied.double().clamp(min=1)", "a tie of t + 1 items averaged over t ranks"),
    M("eval.tie-not-averaged", EVAL, "_expected_hits_and_gains", "(last - first).double() / n_ranks",
      "(last - first).double()", "the hit of a tied item not averaged over its ranks"),
    M("eval.discount-log-base", EVAL, "evaluate_embeddings", "torch.arange(2, max_k + 2, dtype=torch.float64)",
      "torch.arange(3, max_k + 3, dtype=torch.float64)", "discount 1/log2(rank + 3)"),
    M("eval.ideal-starts-at-one", EVAL, "evaluate_embeddings", "torch.cat([torch.zeros(1, dtype=torch.float64)",
      "torch.cat([torch.ones(1, dtype=torch.float64)", "cumulative discount of zero ranks is 1"),
    M("eval.train-not-excluded", EVAL, "evaluate_embeddings",
      "scores[rows.to(device), items.to(device)] = -torch.inf", "pass", "training items stay in the ranking"),
    M("eval.heldout-not-excluded", EVAL, "evaluate_embeddings", "scores[h_rows, h_items] = -torch.inf", "pass",
      "the other split's held-out item stays in the ranking"),
    M("eval.ties-count-above", EVAL, "evaluate_embeddings", "(top > h_scores[:, None])",
      "(top >= h_scores[:, None])", "tied items counted as scored higher"),
    M("eval.row-ties-need-two", EVAL, "evaluate_embeddings", "needs_row = (tied > 0)", "needs_row = (tied > 1)",
      "ties counted over the whole row only when the top-k shows two"),
    M("eval.row-ties-never", EVAL, "evaluate_embeddings", "if len(needs_row):", "if False:",
      "ties counted within the top-k only"),
    M("eval.users-without-heldout", EVAL, "evaluate_embeddings", "has = h_counts > 0", "has = h_counts >= 0",
      "users without a held-out item averaged in"),
    M("eval.ndcg-ideal-unclamped", EVAL, "evaluate_embeddings", "ideal[n_held.clamp(max=k).long()]",
      "ideal[n_held.long()]", "ideal DCG not capped at k"),
    M("eval.recall-not-per-user", EVAL, "evaluate_embeddings", "(recall[has] / n_held).sum()",
      "recall[has].sum()", "Recall@K not divided by the user's held-out count"),
    M("eval.n-eval-all-users", EVAL, "evaluate_embeddings", "n_eval[split] += int(has.sum())",
      "n_eval[split] += len(has)", "the average taken over every user of the chunk"),
    M("eval.chunk-size", EVAL, "evaluate_embeddings", "int(max_chunk_bytes // (4 * data.n_items))",
      "int(max_chunk_bytes // (8 * data.n_items))", "chunks half as large"),
    M("eval.last-user-skipped", EVAL, "evaluate_embeddings", "stop = min(start + chunk, data.n_users)",
      "stop = min(start + chunk, data.n_users - 1)", "the last user never evaluated"),
    M("eval.topk-one-short", EVAL, "evaluate_embeddings", "torch.topk(scores, max_k, dim=1)",
      "torch.topk(scores, max_k - 1, dim=1)", "the top-k holds one item too few"),
    M("eval.shape-check-and", EVAL, "evaluate_embeddings",
      "user_emb.shape[0] != data.n_users or item_emb.shape[0] != data.n_items",
      "user_emb.shape[0] != data.n_users and item_emb.shape[0] != data.n_items",
      "a table of the wrong size accepted when the other is right"),
    M("eval.nan-embeddings-accepted", EVAL, "evaluate_embeddings", "if not bool(torch.isfinite(table).all()):",
      "if False:", "NaN embeddings not rejected (only their scores)"),

    # ---------------------------------------------------------------- stats: mean ± s.e. and the verdict rule
    M("stats.population-sd", STATS, "mean_and_se", "statistics.stdev(values)", "statistics.pstdev(values)",
      "population instead of sample standard deviation"),
    M("stats.se-root-n-minus-one", STATS, "mean_and_se", "math.sqrt(len(values))", "math.sqrt(len(values) - 1)",
      "s.e. divided by sqrt(n - 1)"),
    M("stats.one-value-se", STATS, "mean_and_se", "if len(values) < 2:", "if len(values) < 1:",
      "one value given a standard error"),
    M("stats.zero-step-accepted", STATS, "_step", "not (0 < float(step) <= 1)", "not (0 <= float(step) <= 1)",
      "a step of 0 accepted"),
    M("stats.step-off-by-one", STATS, "metric_step", "return 1.0 / int(n_users)",
      "return 1.0 / (int(n_users) + 1)", "the step of n users taken as 1 / (n + 1)"),
    M("stats.step-for-ndcg", STATS, "metric_step", 'metric.startswith("Recall@")', 'metric.startswith("NDCG@")',
      "NDCG given the step, Recall none"),
    M("stats.spread-strict", STATS, "read_paired", "<= (step / 2 if step is not None else NO_SPREAD)",
      "< (step / 2 if step is not None else NO_SPREAD)", "a spread of exactly the tolerance is a spread"),
    M("stats.spread-whole-step", STATS, "read_paired", "(step / 2 if", "(step if",
      "no spread up to a whole step"),
    M("stats.no-se-floor", STATS, "read_paired", "se_used = max(se, step) if step is not None else se",
      "se_used = se", "the s.e. not floored at the step"),
    M("stats.positive-at-boundary", STATS, "read_paired", "if mean - CLEAR_SE * se_used > 0",
      "if mean - CLEAR_SE * se_used >= 0", "positive at exactly 2 s.e."),
    M("stats.positive-any-sign", STATS, "read_paired", "> 0 and array.min() > 0", "> 0",
      "positive although a seed is below zero"),
    M("stats.positive-zero-seed", STATS, "read_paired", "array.min() > 0:", "array.min() >= 0:",
      "positive with a seed at exactly zero"),
    M("stats.negative-wrong-side", STATS, "read_paired", "mean + CLEAR_SE * se_used < 0",
      "mean - CLEAR_SE * se_used < 0", "negative tested on the wrong side of the mean"),
    M("stats.negative-zero-seed", STATS, "read_paired", "array.max() < 0:", "array.max() <= 0:",
      "negative with a seed at exactly zero"),
    M("stats.why-swapped", STATS, "read_paired", "if array.min() <= 0 <= array.max()",
      "if not array.min() <= 0 <= array.max()", "the two reasons of 'unclear' swapped"),
    M("stats.one-se", STATS, None, "CLEAR_SE = 2.0", "CLEAR_SE = 1.0", "clear at one s.e."),
    M("stats.no-rounding-tolerance", STATS, None, "NO_SPREAD = 1e-12", "NO_SPREAD = 0.0",
      "differences equal up to rounding read as a spread"),
    M("stats.verdict-ignores-step", STATS, "verdict", "read_paired(values, step=step)",
      "read_paired(values, step=None)", "verdict() drops the caller's step"),

    # ---------------------------------------------------------------- cache keys and the data fingerprint
    M("key.no-data", CACHE, "config_key", '"data": data.fingerprint(), ', "", "the data left out of every key"),
    M("key.no-config", CACHE, "config_key", '"config": config, ', "", "the settings left out of every key"),
    M("key.no-format", CACHE, "config_key", '"format": FORMAT_VERSION,\n                          ', "",
      "the file format left out of every key"),
    M("key.no-code-version", CACHE, "config_key", ', "format": FORMAT_VERSION,\n                          "code": CACHE_VERSION',
      ', "format": FORMAT_VERSION', "the code version left out of every key"),
    M("key.unsorted", CACHE, "config_key", "sort_keys=True", "sort_keys=False",
      "the key depends on the order of the settings"),
    M("key.teacher-no-kind", CONFIG, "TeacherConfig.key", '"kind": self.kind, ', "",
      "teacher key without the model kind"),
    M("key.teacher-no-dim", CONFIG, "TeacherConfig.key", '"dim": self.dim, ', "", "teacher key without the dimension"),
    M("key.teacher-no-epochs", CONFIG, "TeacherConfig.key", '"epochs": self.epochs, ', "",
      "teacher key without the epochs"),
    M("key.teacher-no-seed", CONFIG, "TeacherConfig.key", '"seed": self.seed,', "", "teacher key without the seed"),
    M("key.teacher-no-lr", CONFIG, "TeacherConfig.key", '"lr": self.lr, ', "", "teacher key without the learning rate"),
    M("key.teacher-no-weight-decay", CONFIG, "TeacherConfig.key", '"weight_decay": self.weight_decay, ', "",
      "teacher key without the weight decay"),
    M("key.teacher-no-batch-size", CONFIG, "TeacherConfig.key", '"batch_size": self.batch_size,', "",
      "teacher key without the batch size"),
    M("key.teacher-no-optimizer", CONFIG, "TeacherConfig.key", '"optimizer": self.optimizer, ', "",
      "teacher key without the optimiser"),
    M("key.teacher-no-eval-every", CONFIG, "TeacherConfig.key", ' "eval_every": self.eval_every,', "",
      "teacher key without eval_every"),
    M("key.teacher-no-depth", CONFIG, "TeacherConfig.key", '**({"depth": self.depth} if self.depth is not None else {})',
      "", "teacher key without LightGCN's depth"),
    M("key.depth-default-kept", CONFIG, "_check_depth", "None if depth == LIGHTGCN_DEPTH else depth", "depth",
      "the default depth written out: a second key for the same LightGCN (every stored one orphaned)"),
    M("key.teacher-role", CONFIG, "TeacherConfig.key", '"role": "teacher"', '"role": "run"',
      "another role in the teacher's key (every stored teacher orphaned)"),
    M("recipe.lightgcn-teacher-default-decay", CONFIG, "TeacherConfig.paper",
      '"weight_decay": RECIPE_WEIGHT_DECAY[kind],', "",
      "the paper commands' teacher trained at the default weight decay, not the model's recipe (LightGCN's 1e-4)",
      tests=("tests/library/test_experiments.py::test_reproduce_trains_lightgcn_with_its_recipe_weight_decay",
             "tests/library/test_cache.py::test_the_paper_commands_and_the_map_share_one_teacher_per_base_model")),
    M("recipe.lightgcn-decay-is-bprs", "htd_tutorial/choices.py", None,
      '"lightgcn": 1e-4}', '"lightgcn": DEFAULT_WEIGHT_DECAY}',
      "LightGCN's recipe weight decay put back to BPR's",
      tests=("tests/library/test_experiments.py::test_reproduce_trains_lightgcn_with_its_recipe_weight_decay",)),
    M("key.teacher-short-hash", CACHE, "get_teacher", "{key[:16]}.pt", "{key[:12]}.pt",
      "a shorter hash in the teacher's file name (every stored teacher orphaned)"),
    M("key.digest-no-names", CACHE, "tensor_digest", "h.update(name.encode())", "None",
      "the tensor digest ignores the tables' names"),
    M("key.digest-no-shapes", CACHE, "tensor_digest", "h.update(str(tuple(tensor.shape)).encode())", "None",
      "the tensor digest ignores the tables' shapes"),
    M("key.run-no-teacher", EXPERIMENTS, "run_method", '{"run": run, "teacher": digest}', '{"run": run}',
      "run key without the teacher"),
    M("key.run-teacher-users-only", EXPERIMENTS, "_tables_digest", '{"users": t_users, "items": t_items}',
      '{"users": t_users, "items": t_users}', "the teacher digest reads only the user table"),
    M("key.run-keeps-none-options", EXPERIMENTS, "run_method", "del run[name]", "pass",
      "options=None and depth=None kept in the run key (every stored run orphaned)"),
    M("key.run-preset-options-kept", CONFIG, "RunConfig.__post_init__", '_set(self, "options", None)', "pass",
      "options equal to the mode's preset stored (one run, two keys)"),
    M("key.run-short-hash", EXPERIMENTS, "run_method", "{key[:16]}.pt", "{key[:12]}.pt",
      "a shorter hash in the run's file name (every stored run orphaned)"),
    M("fingerprint.no-sizes", INTERACTIONS, "Interactions.fingerprint",
      'hashlib.sha256(f"{self.n_users}:{self.n_items}".encode())', "hashlib.sha256()",
      "the fingerprint ignores n_users and n_items"),
    M("fingerprint.no-test", INTERACTIONS, "Interactions.fingerprint", "(self.train, self.valid, self.test)",
      "(self.train, self.valid)", "the fingerprint ignores the test split"),
    M("fingerprint.train-only", INTERACTIONS, "Interactions.fingerprint", "(self.train, self.valid, self.test)",
      "(self.train,)", "the fingerprint hashes only the training split"),
    M("fingerprint.order", INTERACTIONS, "Interactions.fingerprint", "(self.train, self.valid, self.test)",
      "(self.train, self.test, self.valid)", "splits hashed in another order (every cache file orphaned)"),
    M("fingerprint.no-lengths", INTERACTIONS, "Interactions.fingerprint",
      "h.update(np.int64(len(split)).tobytes())", "None", "split lengths not hashed"),
    M("fingerprint.not-memoised", INTERACTIONS, "Interactions.fingerprint", "if not self._fingerprint:",
      "if True:", "the fingerprint recomputed on every call"),

    # ---------------------------------------------------------------- claim()
    M("claim.strict-negated", COMMON, "claim", "    if strict:", "    if not strict:",
      "a failed claim raises only outside strict runs"),
    M("claim.strict-flag-name", COMMON, "_strict_claims", 'env_flag("HTD_STRICT_CLAIMS")',
      'env_flag("HTD_STRICT_CLAIM")', "the strict flag read under another name"),
    M("claim.strict-only-with-data", COMMON, "claim", "strict = _strict_claims()",
      "strict = _strict_claims() and data is not None", "strict only when called with data"),
    M("claim.strict-only-applies", COMMON, "claim", "strict = _strict_claims()",
      "strict = _strict_claims() and applies", "strict only when the settings apply"),
    M("claim.data-or", COMMON, "claim", "if data is not None and data.name != expected:",
      "if data is not None or data.name != expected:", "'checked on other data' also without data"),
    M("claim.applies-negated", COMMON, "claim", "elif not applies:", "elif applies:",
      "'settings differ' when they do not"),
    M("claim.fail-holds", COMMON, "claim", "return Verdict(False)", "return Verdict(True)",
      "a failed claim reported as holding"),
    M("claim.where-ignores-note", COMMON, "claim", 'where = note or " with the shipped settings"',
      'where = " with the shipped settings"', "the error does not say the claim was on other data"),
    M("claim.alias-not-resolved", COMMON, "claim", "expected = DATASETS.get(reference, reference)",
      "expected = reference", "the reference dataset's alias not resolved"),
    M("claim.verdict-truthy", COMMON, "Verdict.__bool__", "return self.holds", "return True",
      "every verdict truthy"),
    M("claim.holds-not-bool", COMMON, "claim", "holds = bool(holds)", "holds = holds",
      "holds used as given, not as a bool"),

    # ---------------------------------------------------------------- BPR
    M("bpr.negative-swapped", BPR, "bpr_loss", "(pos_emb - neg_emb)", "(neg_emb - pos_emb)",
      "positive and negative item swapped"),
    M("bpr.mean", BPR, "bpr_loss", "-F.logsigmoid(diff).sum()", "-F.logsigmoid(diff).mean()",
      "averaged over the batch, not summed"),
    M("bpr.sign", BPR, "bpr_loss", "-F.logsigmoid(diff).sum()", "F.logsigmoid(diff).sum()",
      "the loss's sign flipped"),

    # ---------------------------------------------------------------- FTD
    M("ftd.guard-at-zero", FTD, "cosine_normalize", "if eps > 0:", "if eps >= 0:",
      "the cosine guard applied at eps = 0"),
    M("ftd.normalise-multiplies", FTD, "cosine_normalize", "return x / norm", "return x * norm",
      "rows multiplied by their norm"),
    M("ftd.cross-term-once", FTD, "gram_topology_distance",
      "    value = student_term - 2.0 * cross_term + teacher_term\n    if",
      "    value = student_term - 1.0 * cross_term + teacher_term\n    if", "the cross term counted once"),
    M("ftd.no-float64-recompute", FTD, "gram_topology_distance", "if s_hat.dtype != torch.float64 and",
      "if False and", "a nearly matching student never recomputed in float64"),
    M("ftd.guard-inverted", FTD, "gram_topology_distance", "float(value.detach()) < cancellation_guard",
      "float(value.detach()) > cancellation_guard", "recomputed in float64 exactly when it is not needed"),
    M("ftd.zero-rows-eps", FTD, "ftd_loss", "reject_zero_rows=eps == 0", "reject_zero_rows=eps != 0",
      "all-zero rows rejected only with the guard"),
    M("ftd.naive-mean", FTD, "ftd_loss_naive", "(t_sim - s_sim).square().sum()", "(t_sim - s_sim).square().mean()",
      "the reference averaged"),
    M("ftd.pair-check-columns", FTD, "_check_pair", "if student.shape[0] != teacher.shape[0]:",
      "if student.shape[1] != teacher.shape[1]:", "rows not checked (and widths must match)"),
    M("ftd.nan-rows-any", FTD, "_check_rows", "~torch.isfinite(x).all(dim=-1)", "~torch.isfinite(x).any(dim=-1)",
      "a row with one NaN not reported"),
    M("ftd.module-drops-eps", FTD, "FTDLoss.forward", "eps=self.eps", "eps=0.0", "FTDLoss ignores its eps"),

    # ---------------------------------------------------------------- fast paths (_fast.py)
    M("fast.relu-leaks", FAST, "DenseMixture.forward", ".clamp_min_(0)", ".clamp_min_(-1)",
      "the experts' ReLU lets -1..0 through"),
    M("fast.bias-unweighted", FAST, "DenseMixture.forward", "torch.addmm(z @ b2, weighted, w2)",
      "torch.addmm(b2.sum(0), weighted, w2)", "output biases added unweighted"),
    M("fast.grad-z-no-bias", FAST, "DenseMixture.backward", ' + grad_out @ b2.T', "",
      "dL/dz misses the bias term"),
    M("fast.grad-no-relu", FAST, "DenseMixture.backward",
      "torch.ops.aten.threshold_backward.grad_input(grad_hidden, weighted, 0, grad_input=grad_hidden)", "pass",
      "the ReLU's derivative dropped"),
    M("fast.grad-b1-mean", FAST, "DenseMixture.backward", "grad_w1b1[:-1], grad_w1b1[-1]",
      "grad_w1b1[:-1], grad_w1b1[-1] / len(grad_hidden)", "the hidden bias's gradient averaged"),
    M("fast.grad-z-unscaled", FAST, "DenseMixture.backward", "torch.where(z > 0, scaled / z, 0.0)",
      "torch.where(z > 0, scaled, 0.0)", "dL/dz read from the weighted activations without dividing z out"),
    M("fast.bias-row-dropped", FAST, "DenseMixture.forward", "student.new_ones(n, 1)", "student.new_zeros(n, 1)",
      "the hidden bias's column of ones is zeros"),
    M("fast.padding-weighted", FAST, "SparseMixture.forward", "z[members, rows.unsqueeze(1)] * valid",
      "z[members, rows.unsqueeze(1)]", "padded slots keep their weight"),
    M("fast.sparse-grad-unweighted", FAST, "SparseMixture.backward", "grad_f = grad_b.mul_(weight.unsqueeze(-1))",
      "grad_f = grad_b", "the experts' gradients not weighted by z (padded slots count too)"),
    M("fast.sparse-grad-no-relu", FAST, "SparseMixture.backward",
      "grad_h = torch.ops.aten.threshold_backward(grad_h, hidden, 0)", "pass", "the sparse path drops the ReLU's derivative"),
    M("fast.split-width-short", FAST, "bucket_split", "(end - first) * area[:end]", "(end - first - 1) * area[:end]",
      "a bucket's cost counts one group too few"),
    M("fast.split-dearest", FAST, "bucket_split", "start[end] = int(np.argmin(cost))",
      "start[end] = int(np.argmax(cost))", "the dearest cut taken"),
    M("fast.bucket-extra-slot", FAST, "group_buckets", "slots.unsqueeze(0) < counts[chosen].unsqueeze(1)",
      "slots.unsqueeze(0) <= counts[chosen].unsqueeze(1)", "one slot past each group counted as a member"),
    M("fast.bucket-starts", FAST, "group_buckets", "starts = torch.cumsum(counts, 0) - counts",
      "starts = torch.cumsum(counts, 0) - counts + 1", "each group read from one entity too late"),
    M("fast.gram-threshold", FAST, "same_group_distance", "gram_from = 2 * (s_hat.shape[1] + t_hat.shape[1])",
      "gram_from = 1 * (s_hat.shape[1] + t_hat.shape[1])", "the Gram identity from narrower groups on"),
    M("fast.gram-with-teacher-mask", FAST, "same_group_distance",
      'method == "auto" and not positive_teacher_pairs_only and', 'method == "auto" and',
      "the Gram identity also where the teacher mask applies"),
    M("fast.teacher-mask-at-zero", FAST, "same_group_distance", "pairs &= t_sim > 0", "pairs &= t_sim >= 0",
      "pairs of zero teacher similarity kept"),
    M("fast.difference-reversed", FAST, "same_group_distance", "(t_sim - s_sim).square()",
      "(s_sim - t_sim).square()", "student minus teacher, squared"),

    # ---------------------------------------------------------------- HTD
    M("htd.negligible-too-wide", HTD, "GroupAssignment.mixture", "z >= z.amax(1, keepdim=True) * NEGLIGIBLE_WEIGHT",
      "z >= z.amax(1, keepdim=True) * 2.0 ** -10", "weights up to a thousandth of the largest left out"),
    M("htd.default-proto-grad", CONFIG, "HTDOptions", "proto_grad: bool = False", "proto_grad: bool = True",
      "HTDOptions() is no longer the authors' preset"),
    M("htd.ablation-sign", CONFIG, "HTDOptions.ablation", 'sign = "+" if base == "authors" else "-"',
      'sign = "-" if base == "authors" else "+"', "ablation names with the wrong sign"),
    M("htd.ablation-no-flip", CONFIG, "HTDOptions.ablation", "start.replace(**{name: target})", "start",
      "ablation variants equal to the base"),
    M("htd.differences-same", CONFIG, "HTDOptions.differences", "if getattr(self, f.name) != getattr(other, f.name)",
      "if getattr(self, f.name) == getattr(other, f.name)", "differences() lists the equal switches"),
    M("htd.tau-lag-negative", HTD, "gumbel_temperature", "max(epoch - 1, 0) if lag", "epoch - 1 if lag",
      "lagged epoch 0 runs at tau > 1"),
    M("htd.tau-lag-ignored", HTD, "gumbel_temperature", "step = max(epoch - 1, 0) if lag else epoch",
      "step = epoch", "the authors' lag ignored"),
    M("htd.tau-min", HTD, "gumbel_temperature", "return max(end ** (step / max_epoch), end)",
      "return min(end ** (step / max_epoch), end)", "temperature always the end value"),
    M("htd.tau-end-zero", HTD, "gumbel_temperature", "if not 0 < end <= 1:", "if not 0 <= end <= 1:",
      "an end temperature of 0 accepted"),
    M("htd.hidden-width", HTD, "GroupAssignment.__init__", "(self.student_dim + self.teacher_dim) // 2",
      "(self.student_dim + self.teacher_dim) // 3", "experts' hidden width (d_s + d_t) // 3"),
    M("htd.alpha-over-entities", HTD, "GroupAssignment.alpha", "dim=-1)", "dim=0)",
      "group probabilities normalised over the batch", BY_HAND_Z),
    M("htd.hard-groups-argmin", HTD, "GroupAssignment.hard_groups", ".argmax(dim=-1)", ".argmin(dim=-1)",
      "each entity put in its least likely group", BY_HAND_Z),
    M("htd.gumbel-sign", HTD, "GroupAssignment.sample_z", "gumbel = -torch.empty_like", "gumbel = torch.empty_like",
      "noise log(E) instead of -log(E): not Gumbel", BY_HAND_Z),
    M("htd.gumbel-times-tau", HTD, "GroupAssignment.sample_z", "+ gumbel) / tau", "+ gumbel) * tau",
      "logits multiplied by the temperature", BY_HAND_Z),
    M("htd.gumbel-zero-tau", HTD, "GroupAssignment.sample_z", "if not tau > 0:", "if not tau >= 0:",
      "a temperature of 0 accepted"),
    M("htd.mixture-threshold", HTD, "GroupAssignment.mixture", "2 * pairs < n * self.K", "pairs < n * self.K",
      "the sparse path only below all pairs, not half"),
    M("htd.ga-mean", HTD, "GroupAssignment.reconstruction_loss", "self.mixture(student, z, path=path)).square().sum()",
      "self.mixture(student, z, path=path)).square().mean()", "L_GA averaged"),
    M("htd.ga-no-noise", HTD, "GroupAssignment.reconstruction_loss", "z = self.sample_z(alpha, tau, generator)",
      "z = alpha", "experts mixed by alpha, without the Gumbel sample"),
    M("htd.item-groups-overlap", HTD, "joint_groups", "item_groups + K", "item_groups + K - 1",
      "item group 0 numbered as the last user group"),
    M("htd.is-item-strict", HTD, "is_item_group", "groups >= K", "groups > K", "item group 0 taken for a user group"),
    M("htd.gram-mask-allowed", HTD, "entity_topology", 'if method == "gram" and positive_teacher_pairs_only:',
      "if False:", "the Gram identity accepted with the teacher mask"),
    M("htd.naive-mask-form", HTD, "entity_topology_naive", "mask & (t_sim * mask > 0)", "mask & (t_sim > 0)",
      "the reference's teacher mask without the product"),
    M("htd.prototypes-sums", HTD, "group_prototypes", "return present, sums / counts.unsqueeze(1).to(embeddings.dtype)",
      "return present, sums", "prototypes are group sums"),
    M("htd.group-types-flipped", HTD, "group_level_topology", "group_is_item[torch.searchsorted(present, groups)] = is_item",
      "group_is_item[torch.searchsorted(present, groups)] = ~is_item", "user groups taken for item groups"),
    M("htd.proto-grad-negated", HTD, "group_level_topology", "if proto_grad:", "if not proto_grad:",
      "prototypes carry gradients exactly when they should not"),
    M("htd.pe-mask-members", HTD, "group_level_topology", "present.unsqueeze(1) != groups.unsqueeze(0)",
      "present.unsqueeze(1) == groups.unsqueeze(0)", "Pe keeps only each prototype's own members"),
    M("htd.pe-masks-replace", HTD, "group_level_topology", "mask = same if mask is None else mask & same",
      "mask = same", "same_type_only drops the mask_pe mask"),
    M("htd.pe-masks-or", HTD, "group_level_topology", "mask & same", "mask | same",
      "the two Pe masks joined with or"),
    M("htd.pp-reads-mask-pe", HTD, "group_level_topology", "            if same_type_only:\n                mask = group_is_item.unsqueeze(1) == group_is_item.unsqueeze(0)",
      "            if mask_pe:\n                mask = group_is_item.unsqueeze(1) == group_is_item.unsqueeze(0)",
      "PP's type mask switched by mask_pe"),
    M("htd.pe-mask-reads-type", HTD, "group_level_topology", "            if mask_pe:\n",
      "            if same_type_only:\n", "Pe's member mask switched by same_type_only"),
    M("htd.group-level-abs", HTD, "group_level_topology", "diff = (t_sim - s_sim).square()",
      "diff = (t_sim - s_sim).abs()", "absolute, not squared, differences"),
    M("htd.loss-switches-swapped", HTD, "HTDLoss.group_level_topology",
      "mask_pe=opts.mask_pe, same_type_only=opts.same_type_only",
      "mask_pe=opts.same_type_only, same_type_only=opts.mask_pe", "mask_pe and same_type_only handed over swapped"),
    M("htd.loss-positive-always", HTD, "HTDLoss.entity_topology",
      "positive_teacher_pairs_only=self.options.positive_teacher_pairs_only", "positive_teacher_pairs_only=True",
      "the entity level always keeps only positive teacher pairs"),
    M("htd.loss-eps-dropped", HTD, "HTDLoss.group_level_topology", "eps=opts.eps)", "eps=0.0)",
      "the group level ignores the cosine guard"),
    M("htd.loss-proto-grad-dropped", HTD, "HTDLoss.group_level_topology", "proto_grad=opts.proto_grad",
      "proto_grad=False", "the group level ignores proto_grad"),
    M("htd.ga-at-gamma-one", HTD, "HTDLoss.forward", "if self.gamma < 1:", "if self.gamma <= 1:",
      "L_GA computed (and noise drawn) at gamma = 1"),
    M("htd.topology-at-gamma-zero", HTD, "HTDLoss.forward", "if self.gamma > 0:", "if self.gamma >= 0:",
      "topology terms computed at gamma = 0"),
    M("htd.balance", HTD, "HTDLoss.forward", "+ (1 - self.gamma) * ga", "+ self.gamma * ga",
      "L_GA weighted by gamma"),
    M("htd.groups-recompute-alpha", HTD, "HTDLoss.forward", "groups = self.assignment(t_users, t_items, alphas=alphas)",
      "groups = self.assignment(t_users, t_items)", "hard groups from a recomputed alpha"),
    M("htd.groups-from-users", HTD, "HTDLoss.assignment", "self.items.hard_groups(t_items, alpha=item_alpha)",
      "self.users.hard_groups(t_items, alpha=item_alpha)", "items grouped by the users' assignment layer"),

    # ---------------------------------------------------------------- DE and FitNet (pointwise.py)
    M("de.items-as-users", POINTWISE, "DELoss.forward", "self.items.reconstruction_loss(s_items, t_items, tau)",
      "self.users.reconstruction_loss(s_items, t_items, tau)", "items reconstructed by the users' experts"),
    M("de.difference", POINTWISE, "DELoss.forward", "\n                 + self.items", "\n                 - self.items",
      "the items' L_GA subtracted"),
    M("fitnet.mean", POINTWISE, "fitnet_loss", ".square().sum()", ".square().mean()", "FitNet averaged"),
    M("fitnet.no-bias", POINTWISE, "fitnet_loss", "F.linear(student, weight, bias)", "F.linear(student, weight)",
      "the projector's bias dropped"),
    M("fitnet.init-bound", POINTWISE, "FitNetLoss.__init__", "bound = 1.0 / math.sqrt(student_dim)",
      "bound = 1.0 / math.sqrt(teacher_dim)", "projector initialised from the teacher's width"),
)

#: Why each survivor survives. ``"equivalent: ..."``: no input tells it from the original (left out of the
#: score). ``"accepted: ..."``: a real change no fast test sees, tolerated for the reason given (counted as
#: not killed). A survivor missing here fails the run, and so does an entry whose mutant is killed.
SURVIVORS: dict[str, str] = {
    "fingerprint.not-memoised": "equivalent: the memo only saves time; every call hashes the same bytes and "
                                "returns the first digest it stored",
    "claim.holds-not-bool": "equivalent: claim() only branches on `if holds` and returns the literals "
                            "Verdict(True) / Verdict(False), so bool(holds) adds nothing (both call __bool__ once)",
    "ftd.guard-at-zero": "equivalent: a norm is never below 0, so clamp_min(0) returns it unchanged, and its "
                         "gradient is 1 wherever the norm is >= 0 (a NaN norm raises either way)",
    "fast.difference-reversed": "equivalent: s - t is exactly -(t - s) in IEEE arithmetic, and the square of a "
                                "number and of its negation are the same float",
    "htd.naive-mask-form": "equivalent: mask is boolean, so t_sim * mask > 0 is mask & (t_sim > 0) for every "
                           "float, NaN and infinity included (0 * inf is NaN, and NaN > 0 is False)",
    "htd.groups-recompute-alpha": "equivalent: alpha is recomputed from the same teacher rows with the same "
                                  "deterministic CPU operations (no noise), so the hard groups are bit for bit "
                                  "the same; only the time changes",
    "eval.chunk-size": "accepted: the chunk size is a memory bound; every user's row is scored and ranked the "
                       "same way in any chunk, only the float64 sums of the per-user metrics are added in "
                       "another grouping (last bits); test_matches_brute_force runs chunks of 700 B to 1 MiB",
    "fast.gram-threshold": "accepted: which of two exact methods (blocks or the Gram identity) a group of a given "
                           "width takes is a speed setting; both are checked against the naive term "
                           "(test_entity_topology_fast_equals_naive with method blocks, gram and auto), the "
                           "results differ by rounding only",
    "htd.mixture-threshold": "accepted: where the sparse path takes over is a speed setting (the measured "
                             "crossover); both paths are exact for the value and every gradient upstream of "
                             "the softmax and are each checked against the loop (test_expert_mixture_equals_loop"
                             "), the results differ by rounding only",
}


# ------------------------------------------------------------------------------------------------------------
# Applying a mutant
# ------------------------------------------------------------------------------------------------------------

def _function_span(tree: ast.Module, qualname: str) -> tuple[int, int]:
    """First and last line (1-based) of the function or class ``qualname`` (``"Class.method"``)."""
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise LookupError(f"no {qualname} (missing: {part})")
        body = node.body
    return node.lineno, node.end_lineno


def locate(mutant: Mutant, source: str) -> tuple[int, int]:
    """``(offset, line)`` of ``mutant.old`` in ``source``; ``LookupError`` unless it occurs exactly once in its
    function (or, for ``function=None``, in the file)."""
    if mutant.function is None:
        start, stop = 0, len(source)
    else:
        first, last = _function_span(ast.parse(source), mutant.function)
        lines = source.splitlines(keepends=True)
        start = sum(len(line) for line in lines[:first - 1])
        stop = start + sum(len(line) for line in lines[first - 1:last])
    where = f"{mutant.path}:{mutant.function or '<module>'}"
    count = source.count(mutant.old, start, stop)
    if count != 1:
        raise LookupError(f"mutant {mutant.id}: {mutant.old!r} occurs {count} times in {where}, not once; "
                          "update the mutant list")
    offset = source.index(mutant.old, start, stop)
    return offset, source.count("\n", 0, offset) + 1


def mutate(mutant: Mutant, source: str) -> tuple[str, int]:
    """The mutated source and the line of the change; ``LookupError``/``SyntaxError`` for a broken mutant."""
    offset, line = locate(mutant, source)
    mutated = source[:offset] + mutant.new + source[offset + len(mutant.old):]
    if mutated == source:
        raise LookupError(f"mutant {mutant.id} changes nothing")
    try:
        ast.parse(mutated)
    except SyntaxError as error:
        raise SyntaxError(f"mutant {mutant.id} does not parse: {error}") from None
    return mutated, line


def check_list(mutants=MUTANTS, survivors=SURVIVORS, repo: Path = REPO) -> list[str]:
    """Problems of the list itself (nothing run): duplicate ids, mutants that do not apply to today's source,
    tests that do not exist, explanations that name no mutant or give no kind."""
    problems, seen = [], set()
    sources: dict[str, str] = {}
    for mutant in mutants:
        if mutant.id in seen:
            problems.append(f"duplicate id {mutant.id}")
        seen.add(mutant.id)
        if mutant.path not in sources:
            sources[mutant.path] = (repo / mutant.path).read_text()
        try:
            mutate(mutant, sources[mutant.path])
        except (LookupError, SyntaxError) as error:
            problems.append(str(error))
        for arg in mutant.test_args():
            if arg.startswith("tests/") and not (repo / arg.split("::")[0]).is_file():
                problems.append(f"mutant {mutant.id}: no test file {arg}")
    for key, reason in survivors.items():
        if key not in seen:
            problems.append(f"SURVIVORS names no mutant: {key}")
        if not re.match(r"(equivalent|accepted): \S", reason):
            problems.append(f"SURVIVORS[{key!r}] must start with 'equivalent: ' or 'accepted: '")
    return problems


# ------------------------------------------------------------------------------------------------------------
# Running the tests against a mutant
# ------------------------------------------------------------------------------------------------------------

def _pytest_ini(repo: Path) -> str:
    """The project's markers, without the notebook options (nbval is not loaded: only unit tests run)."""
    options = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    markers = "".join(f"\n    {marker}" for marker in options.get("markers", ()))
    return f"[pytest]\naddopts = -p no:cacheprovider --strict-markers\nmarkers ={markers}\n"


class Worker:
    """A private copy of the package and the tests in a temporary folder, where one mutant at a time runs."""

    def __init__(self, root: Path, index: int, repo: Path = REPO):
        self.dir = root / f"worker-{index}"
        for name in COPIED:
            shutil.copytree(repo / name, self.dir / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (self.dir / "pytest.ini").write_text(_pytest_ini(repo))
        (self.dir / "cache").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HTD_", "PYTEST_", "OMP_", "MKL_"))}
        env.update(PYTHONPATH=str(self.dir), PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
                   HTD_CACHE_DIR=str(self.dir / "cache"), NUMBA_CACHE_DIR=str(self.dir / "cache" / "numba"),
                   MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.env = env

    def check_imports(self) -> None:
        """The tests must import the copy, not the checkout (an editable install also points there)."""
        out = subprocess.run([sys.executable, "-c", "import htd_tutorial; print(htd_tutorial.__file__)"],
                             cwd=self.dir, env=self.env, capture_output=True, text=True, check=True).stdout
        if not Path(out.strip()).resolve().is_relative_to(self.dir.resolve()):
            raise RuntimeError(f"the tests would import {out.strip()}, not the copy in {self.dir}")

    def pytest(self, args: tuple[str, ...], timeout: float) -> tuple[str, str, float]:
        """Run pytest; ``(outcome, detail, seconds)`` with outcome ``passed``, ``failed`` or ``timeout``."""
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "--no-header", *args]
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return "timeout", f"timeout after {timeout:.0f} s", time.perf_counter() - began
        seconds = time.perf_counter() - began
        if process.returncode == 0:
            return "passed", "", seconds
        if process.returncode == 5:
            raise RuntimeError(f"no tests collected by {' '.join(args)}")
        failed = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, re.M)   # a test id may hold spaces
        detail = failed.group(1) if failed else f"pytest exit {process.returncode}: {output.strip()[-300:]}"
        return "failed", detail, seconds

    def run(self, mutant: Mutant, original: str, timeout: float) -> tuple[str, str, float]:
        """Run ``mutant``'s tests against it. A run past the timeout is tried once more before it counts as
        killed: on a loaded machine a stalled process must not pass for a mutant that hangs the tests."""
        target = self.dir / mutant.path
        mutated, _ = mutate(mutant, original)
        target.write_text(mutated)
        try:
            outcome, detail, seconds = self.pytest(mutant.test_args(), timeout)
            if outcome == "timeout":
                outcome, detail, again = self.pytest(mutant.test_args(), timeout)
                seconds += again
                detail = "timeout, twice" if outcome == "timeout" else detail
            return outcome, detail, seconds
        finally:
            target.write_text(original)


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def run(mutants: list[Mutant], *, jobs: int, timeout_factor: float, min_timeout: float,
        log=print) -> dict:
    """Run every mutant in ``mutants``; the report (see the module docstring)."""
    began = time.perf_counter()
    # what the copies hold: the working tree, which may differ from the commit
    test_files = {arg.split("::")[0] for m in mutants for arg in m.test_args() if arg.startswith("tests/")}
    changed = git("status", "--porcelain", "--", *sorted({m.path for m in mutants} | test_files))
    uncommitted = [line[3:] for line in changed.splitlines()]
    originals = {m.path: (REPO / m.path).read_text() for m in mutants}
    lines = {m.id: mutate(m, originals[m.path])[1] for m in mutants}
    selections = sorted({m.test_args() for m in mutants})
    with tempfile.TemporaryDirectory(prefix="htd-mutation-") as root:
        workers = [Worker(Path(root), i) for i in range(jobs)]
        for worker in workers:
            worker.check_imports()
        # the unmutated code must pass every selection, and its time sets the selection's timeout
        baseline = {}
        with ThreadPoolExecutor(jobs) as pool:
            free = list(workers)
            lock = threading.Lock()

            def with_worker(fn, *args):
                with lock:
                    worker = free.pop()
                try:
                    return fn(worker, *args)
                finally:
                    with lock:
                        free.append(worker)

            def base(worker, args):
                return worker.pytest(args, timeout=1800)

            for args, (outcome, detail, seconds) in zip(selections, pool.map(lambda a: with_worker(base, a),
                                                                            selections)):
                log(f"baseline {' '.join(args)}: {outcome} in {seconds:.1f} s")
                if outcome != "passed":
                    raise RuntimeError(f"the unmutated code fails {' '.join(args)}: {detail}")
                baseline[args] = seconds

            def one(worker, mutant):
                timeout = max(min_timeout, timeout_factor * baseline[mutant.test_args()])
                return worker.run(mutant, originals[mutant.path], timeout)

            results = []
            for index, (mutant, (outcome, detail, seconds)) in enumerate(
                    zip(mutants, pool.map(lambda m: with_worker(one, m), mutants)), 1):
                killed = outcome != "passed"
                log(f"[{index}/{len(mutants)}] {mutant.id}: "
                    f"{'killed by ' + detail if killed else 'SURVIVED'} ({seconds:.1f} s)")
                row = {"id": mutant.id, "file": mutant.path, "line": lines[mutant.id],
                       "function": mutant.function, "description": mutant.description,
                       "original": mutant.old, "mutated": mutant.new, "tests": " ".join(mutant.test_args())}
                if killed:
                    row["killed_by"] = detail
                else:
                    row["survived"] = SURVIVORS.get(mutant.id, "")
                results.append(row)
    return summarise(results, seconds=time.perf_counter() - began, jobs=jobs, uncommitted=uncommitted)


def summarise(rows: list[dict], *, seconds: float, jobs: int, uncommitted: list[str] = ()) -> dict:
    survivors = [r for r in rows if "survived" in r]
    equivalent = sum(r["survived"].startswith("equivalent:") for r in survivors)
    accepted = sum(r["survived"].startswith("accepted:") for r in survivors)
    killed = len(rows) - len(survivors)
    scored = len(rows) - equivalent
    problems = [f"{r['id']} survived with no reason in SURVIVORS" for r in survivors if not r["survived"]]
    problems += [f"{r['id']} is killed (by {r['killed_by']}) but SURVIVORS explains it: remove the entry"
                 for r in rows if "killed_by" in r and r["id"] in SURVIVORS]
    score = killed / scored if scored else 1.0
    if score < MIN_SCORE:
        problems.append(f"score {score:.1%} is below {MIN_SCORE:.0%}: add tests that kill the survivors")
    return {
        "what": "mutation testing of the code the course's numbers rest on (benchmarks/mutation.py)",
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes_at_start": list(uncommitted),   # mutated sources and test files that differed
        "date": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "jobs": jobs},
        "summary": {"mutants": len(rows), "killed": killed, "survived": len(survivors), "equivalent": equivalent,
                    "accepted": accepted, "score": round(score, 4), "min_score": MIN_SCORE,
                    "score_rule": "killed / (mutants - equivalent)", "seconds": round(seconds, 1)},
        "problems": problems,
        "mutants": rows,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="mutants run side by side, each in its own copy (default: cores, at most 2)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX", help="only mutants whose id starts with one of these")
    parser.add_argument("--out", type=Path, help=f"report file (default {REPORT.relative_to(REPO)} for a full run, "
                                                 "none with --only)")
    parser.add_argument("--timeout-factor", type=float, default=5.0,
                        help="a mutant's tests may take this many times the unmutated run (default 5)")
    parser.add_argument("--min-timeout", type=float, default=120.0, help="but at least this many seconds")
    parser.add_argument("--list", action="store_true", help="print the mutants and their tests; run nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = check_list()
    if problems:
        print("the mutant list does not fit the source:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    mutants = [m for m in MUTANTS if not args.only or m.id.startswith(tuple(args.only))]
    if not mutants:
        print(f"no mutant id starts with {args.only}", file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            print(f"{m.id:32} {m.path}:{mutate(m, (REPO / m.path).read_text())[1]:<4} {m.description}  "
                  f"[{' '.join(m.test_args())}]")
        return 0
    if args.jobs < 1:
        print("--jobs must be at least 1", file=sys.stderr)
        return 2
    report = run(mutants, jobs=args.jobs, timeout_factor=args.timeout_factor, min_timeout=args.min_timeout)
    out = args.out if args.out else (None if args.only else REPORT)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        print(f"report written to {out}")
    s = report["summary"]
    print(f"{s['mutants']} mutants: {s['killed']} killed, {s['survived']} survived ({s['equivalent']} equivalent, "
          f"{s['accepted']} accepted); score {s['score']:.1%} (at least {MIN_SCORE:.0%}); {s['seconds']:.0f} s")
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
