"""Load interactions from files: one TSV/CSV with a header, or a folder with a ready-made split.

Two layouts are understood:

* a single file (``.tsv``, ``.csv`` or other delimited text) whose header names a ``user`` and an
  ``item`` column (other columns are ignored). It is split with :func:`leave_one_out`;
* a folder with ``train.tsv``, ``valid.tsv`` and ``test.tsv`` in that format, used as given (the
  paper's CiteULike split is this layout).

Raw IDs must be non-negative integers. They are remapped to contiguous indices in increasing
order of the raw ID, so IDs that already run ``0..n-1`` (like CiteULike's) map to themselves.
Bad input raises a ``ValueError`` naming the file, the line (1-based, the header is line 1) and the
problem; a missing file raises :class:`MissingDataError` (both a ``FileNotFoundError`` and a
``ValueError``).
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .interactions import Interactions
from .._checks import integer
from .split import leave_one_out, short_users

__all__ = ["MissingDataError", "load_interactions"]

SPLIT_FILES = ("train.tsv", "valid.tsv", "test.tsv")
_INT_RE = re.compile(r"\s*[+-]?\d+\s*")


class MissingDataError(FileNotFoundError, ValueError):
    """Data that is not there: a missing file or folder, or a dataset with no available source.

    It is a ``FileNotFoundError`` (what it is) and a ``ValueError`` (what the course promises for
    bad input), so either ``except`` catches it. :func:`htd_tutorial.data.load_dataset` with
    ``fallback=True`` catches exactly this to fall back to synthetic data.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """


# ---------------------------------------------------------------------------------------- reading
def _line_of(path: Path, rows: np.ndarray | list[int]) -> list[int]:
    """1-based line numbers of data rows ``rows`` (0-based, header excluded) of a delimited file.

    pandas skips blank lines, so data row ``r`` is the ``r``-th non-blank line after the header.
    Only called on the error and warning paths, where a slow Python scan is fine.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    wanted = {int(r): None for r in rows}
    row = -1
    with open(path, encoding="utf-8-sig", errors="replace", newline=None) as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno == 1 or not line.strip():
                continue
            row += 1
            if row in wanted:
                wanted[row] = lineno
                if all(v is not None for v in wanted.values()):
                    break
    return [wanted[int(r)] if wanted[int(r)] is not None else -1 for r in rows]


def _delimiter(path: Path, header: str) -> str:
    """Pick the delimiter: the one the header uses; the extension decides ties; else whitespace.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    by_ext = {".tsv": "\t", ".tab": "\t", ".csv": ","}.get(path.suffix.lower())
    present = [d for d in ("\t", ",", ";", "|") if d in header]
    if by_ext in present:
        return by_ext
    if present:
        return present[0]
    if len(header.split()) >= 2:
        return r"\s+"
    return by_ext or ","


def _read_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the ``user`` and ``item`` columns of one delimited file as raw int64 IDs.

    Returns ``(users, items)``, one entry per data row in file order. Raises ``ValueError``
    naming the file, line and problem for anything that is not a non-negative integer ID.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if not path.exists():
        raise MissingDataError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a file")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline().rstrip("\r\n")
    if not header.strip():
        raise ValueError(f"{path}, line 1: empty file (expected a header line naming the 'user' and 'item' "
                         "columns, then one interaction per line)")
    sep = _delimiter(path, header)
    names = [c.strip() for c in (re.split(sep, header.strip()) if sep == r"\s+" else header.split(sep))]
    lower = [c.lower() for c in names]
    missing = [c for c in ("user", "item") if c not in lower]
    if missing:
        raise ValueError(f"{path}, line 1: header has no {' and no '.join(repr(c) for c in missing)} column; "
                         f"found columns {names} (delimiter {sep!r}); the header must name a 'user' and an "
                         "'item' column")
    pos = {c: lower.index(c) for c in ("user", "item")}
    read_opts = dict(sep=sep, encoding="utf-8-sig", engine="c")
    try:
        df = pd.read_csv(path, **read_opts)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:  # pandas counts physical lines from 1, header included, like we do
            raise ValueError(f"{path}, line {found.group(2)}: {found.group(3)} fields, but the header has "
                             f"{found.group(1)} (delimiter {sep!r})") from exc
        raise ValueError(f"{path}: could not parse the file as {sep!r}-delimited text: {exc}") from exc
    if len(df) == 0:
        raise ValueError(f"{path}, line 2: no interactions after the header line (empty file)")
    if df.shape[1] != len(names):
        raise ValueError(f"{path}, line 1: expected the columns {names}, pandas read {list(df.columns)}")
    out = []
    for key in ("user", "item"):
        col = df.iloc[:, pos[key]]
        if pd.api.types.is_integer_dtype(col.dtype) and not (
                col.dtype == np.uint64 and int(col.max()) > np.iinfo(np.int64).max):
            vals = col.to_numpy(dtype=np.int64)
        else:
            vals = _parse_ids_slowly(path, read_opts, pos[key], key)
        if vals.min() < 0:
            row = int(np.argmax(vals < 0))
            line = _line_of(path, [row])[0]
            raise ValueError(f"{path}, line {line}: negative {key} ID {vals[row]}; IDs must be non-negative integers")
        out.append(vals)
    return out[0], out[1]


def _parse_ids_slowly(path: Path, read_opts: dict, column: int, key: str) -> np.ndarray:
    """Re-read one column as text to find and report the first value that is not an integer ID.

    Only reached when pandas did not read the column as integers, i.e. on bad input.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    text = pd.read_csv(path, **read_opts, dtype=str, keep_default_na=False).iloc[:, column]
    ok = text.str.fullmatch(_INT_RE).to_numpy(dtype=bool)
    if not ok.all():
        row = int(np.argmax(~ok))
        line = _line_of(path, [row])[0]
        value = text.iloc[row]
        problem = f"missing {key} ID" if not value.strip() else f"non-integer {key} ID {value!r}"
        raise ValueError(f"{path}, line {line}: {problem}; IDs must be non-negative integers")
    as_int = [int(v) for v in text]
    big = [i for i, v in enumerate(as_int) if v > np.iinfo(np.int64).max]
    if big:
        line = _line_of(path, [big[0]])[0]
        raise ValueError(f"{path}, line {line}: {key} ID {as_int[big[0]]} is too large (more than 2**63 - 1)")
    return np.asarray(as_int, dtype=np.int64)


def _dedupe(path: Path, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Row indices that keep the first occurrence of every ``(user, item)`` pair, in file order.

    Warns (``UserWarning``) with the number of dropped duplicates and the first one's line.
    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    pairs = np.stack([users, items], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    if len(first) == len(pairs):
        return np.arange(len(pairs))
    first = np.sort(first)
    dup = np.ones(len(pairs), dtype=bool)
    dup[first] = False
    row = int(np.argmax(dup))
    line = _line_of(path, [row])[0]
    warnings.warn(f"{path}: dropped {int(dup.sum())} duplicated interaction(s) (the first at line {line}: "
                  f"user {users[row]}, item {items[row]})", stacklevel=4)
    return first


def _remap(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map raw IDs to contiguous indices in increasing raw order: ``(ids, index_of_each_value)``.

    Raw IDs ``0..n-1`` map to themselves. Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    ids, index = np.unique(raw, return_inverse=True)
    return ids, index.reshape(-1).astype(np.int64)


def _isin(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` for int64 keys via one sort and a binary search (faster for a small ``values``).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(pool)
    pos = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[pos] == values


# ---------------------------------------------------------------------------------------- loading
def _load_file(path: Path, *, seed: int, name: str, drop_short_users: bool,
               min_interactions: int) -> Interactions:
    """Load one interaction file and split it with leave-one-out.

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    users, items = _read_pairs(path)
    keep = _dedupe(path, users, items)
    users, items = users[keep], items[keep]
    bad, counts = short_users(users, min_interactions)
    if len(bad):
        if not drop_short_users:
            row = int(keep[np.argmax(users == bad[0])])
            line = _line_of(path, [row])[0]
            raise ValueError(
                f"{path}, line {line}: user {bad[0]} has only {counts[0]} interaction(s), fewer than the "
                f"{min_interactions} leave-one-out needs (one validation, one test, at least one training item); "
                f"{len(bad)} user(s) in all. Remove them from the file or pass drop_short_users=True")
        warnings.warn(f"{path}: dropped {len(bad)} user(s) with fewer than {min_interactions} interactions "
                      f"({int(counts.sum())} interactions), e.g. user {bad[0]}", stacklevel=3)
        mask = ~np.isin(users, bad)
        users, items = users[mask], items[mask]
        if len(users) == 0:
            raise ValueError(f"{path}: no user has at least {min_interactions} interactions")
    user_ids, u = _remap(users)
    item_ids, i = _remap(items)
    train, valid, test = leave_one_out(np.stack([u, i], axis=1), seed=seed, min_interactions=min_interactions)
    return Interactions(name=name, n_users=len(user_ids), n_items=len(item_ids), train=train, valid=valid,
                        test=test, user_ids=user_ids, item_ids=item_ids)


def _load_folder(folder: Path, *, name: str) -> Interactions:
    """Load a folder holding ``train.tsv``, ``valid.tsv`` and ``test.tsv`` (a ready-made split).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    missing = [f for f in SPLIT_FILES if not (folder / f).is_file()]
    if missing:
        raise MissingDataError(f"{folder}: missing {', '.join(missing)}; a data folder must hold "
                               f"{', '.join(SPLIT_FILES)} (each with a 'user'/'item' header)")
    raw = {fname: _read_pairs(folder / fname) for fname in SPLIT_FILES}  # all parse errors before any warning
    parts = {}
    for fname, (users, items) in raw.items():
        rows = _dedupe(folder / fname, users, items)
        parts[fname] = (folder / fname, users[rows], items[rows], rows)
    user_ids, u_all = _remap(np.concatenate([p[1] for p in parts.values()]))
    item_ids, i_all = _remap(np.concatenate([p[2] for p in parts.values()]))
    n_items = len(item_ids)
    splits, start = {}, 0
    for fname, (_, users, _, _) in parts.items():
        stop = start + len(users)
        splits[fname] = np.stack([u_all[start:stop], i_all[start:stop]], axis=1)
        start = stop
    keys = {f: s[:, 0] * n_items + s[:, 1] for f, s in splits.items()}
    for held, other in (("valid.tsv", "train.tsv"), ("test.tsv", "train.tsv"), ("test.tsv", "valid.tsv")):
        clash = _isin(keys[held], keys[other])
        if clash.any():
            k = int(np.argmax(clash))
            k_other = int(np.argmax(keys[other] == keys[held][k]))
            path, users, items, rows = parts[held]
            o_path, _, _, o_rows = parts[other]
            line = _line_of(path, [rows[k]])[0]
            o_line = _line_of(o_path, [o_rows[k_other]])[0]
            what = "training" if other == "train.tsv" else "validation"
            raise ValueError(
                f"{path}, line {line}: user {users[k]}, item {items[k]} is held out but is also a {what} "
                f"interaction ({o_path}, line {o_line}); {int(clash.sum())} such pair(s) in {held}. Held-out items "
                "must not be training items (nor both validation and test items)")
    try:  # what is left to check (e.g. a user with every item in train.tsv) is the Interactions' job
        return Interactions(name=name, n_users=len(user_ids), n_items=n_items, train=splits["train.tsv"],
                            valid=splits["valid.tsv"], test=splits["test.tsv"], user_ids=user_ids,
                            item_ids=item_ids)
    except ValueError as exc:
        raise ValueError(f"{folder}: {exc}") from exc


def load_interactions(path: str | os.PathLike, *, seed: int = 0, name: str | None = None,
                      drop_short_users: bool = False, min_interactions: int = 3) -> Interactions:
    """Load implicit feedback from a delimited file (split leave-one-out) or a split folder.

    Parameters
    ----------
    path : str or os.PathLike
        A TSV/CSV file whose header names ``user`` and ``item`` columns (the delimiter is taken
        from the header, the extension breaking ties), or a folder with ``train.tsv``,
        ``valid.tsv`` and ``test.tsv`` in that format (used as given; ``seed`` is then unused).
    seed : int
        Seed of the leave-one-out split of a single file.
    name : str, optional
        Dataset name for plots and progress bars; defaults to the folder name or the file stem.
    drop_short_users : bool
        Single file only: drop users with fewer than ``min_interactions`` interactions (with a
        warning) instead of raising a ``ValueError``.
    min_interactions : int
        Single file only: the least number of interactions a user needs (at least 3).

    Returns
    -------
    Interactions
        Contiguous indices; ``user_ids`` / ``item_ids`` hold the raw IDs (for a folder the mapping
        covers all three files). Raw IDs ``0..n-1`` map to themselves.

    Raises
    ------
    MissingDataError
        The file or folder (or one of the three split files) does not exist.
    ValueError
        Naming file, line and problem: missing columns, non-integer or negative IDs, empty file,
        held-out items that are also training items, users with too few interactions, a user with
        every item in ``train.tsv`` (BPR could draw no negative for them).
        Duplicated interactions are dropped with a ``UserWarning`` saying how many. A user of a single
        file who has interacted with every item is kept: leave-one-out leaves their validation and test
        items outside training, so those are the negatives the sampler draws for them (see
        :class:`htd_tutorial.sampling.TripleSampler`).

    Introduced in ``notebooks/00_data_and_teacher.ipynb``.
    """
    seed = integer("seed", seed, low=0)
    min_interactions = integer("min_interactions", min_interactions, low=3)
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingDataError(f"{path}: no such file or folder")
    if path.is_dir():
        return _load_folder(path, name=name or path.resolve().name)
    return _load_file(path, seed=seed, name=name or path.stem, drop_short_users=drop_short_users,
                      min_interactions=min_interactions)
