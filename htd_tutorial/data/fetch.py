"""Fetch a dataset the package reads, from where its authors publish it: ``python -m htd_tutorial fetch``.

One dataset so far, **CiteULike** as split by the paper's authors: the three files ``dataset/Train``,
``dataset/Valid`` and ``dataset/Test`` of their public repository
(:data:`REPOSITORY` at the pinned commit :data:`COMMIT`). They are Python pickles of plain
dictionaries (protocol 2, 0-based integer IDs): ``Train`` is ``{user: {item: 1, ...}, ...}``, ``Valid``
and ``Test`` are ``{user: item, ...}``. :func:`fetch` turns them into the ``train.tsv``, ``valid.tsv``
and ``test.tsv`` that :func:`htd_tutorial.data.load_interactions` reads (header ``user<TAB>item``,
rows sorted by user, then item).

Safety, in order:

1. every file's size and SHA-256 must equal the constants below before it is read at all;
2. the pickle is read by :class:`RestrictedUnpickler`: every opcode is checked first against a list
   of opcodes that only build plain values (numbers, strings, bytes, lists, tuples, dicts, sets), and
   :meth:`RestrictedUnpickler.find_class` refuses every global, so no class or function can be named,
   let alone called (``pickle.load`` of a file from the network could run any code);
3. the structure is checked (``{int: {int: ...}}``, ``{int: int}``) and the TSVs' own SHA-256 must
   equal the split's, so what is written is the split the course's numbers were measured on;
4. the three TSVs are written to temporary files in the destination folder and only then renamed
   into place (:func:`os.replace`), so an error leaves no half-written file behind.

Downloads use the standard library only (:mod:`urllib.request`); the SHA-256 check above is what
makes them verified. Offline, :class:`~htd_tutorial.data.MissingDataError` says which three files
to download by hand and how to convert them (``--source``).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import pickletools
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import citeulike_dir
from .files import MissingDataError

__all__ = ["FETCHABLE", "REPOSITORY", "COMMIT", "CITEULIKE_FILES", "Fetched", "RestrictedUnpickler",
           "fetch", "download", "read_pickle", "citeulike_tsvs", "source_url"]

#: The datasets :func:`fetch` knows (the command line's choices, read by ``htd_tutorial/__main__.py``
#: from this file's text so that parsing the command line imports no torch: keep it a literal tuple).
FETCHABLE = ("citeulike",)

#: The authors' repository and the commit whose files the SHA-256 constants below pin.
REPOSITORY = "SeongKu-Kang/Topology_Distillation_KDD21"
COMMIT = "44a694a724d9a483249a77874980ea05450b35fa"
BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/dataset"


@dataclass(frozen=True)
class SourceFile:
    """One file as the authors publish it: its name, size in bytes and SHA-256."""

    name: str
    size: int
    sha256: str


#: The authors' three files (``dataset/<name>`` in :data:`REPOSITORY` at :data:`COMMIT`).
CITEULIKE_FILES = (
    SourceFile("Train", 627_788, "4ff316eb275346131c38b218f281d944552c1de61d7bf7008134ba82262bf16b"),
    SourceFile("Valid", 30_872, "9f7920c83158f69c69e5887b1a01f7346087f3690fb54e8930861ba0765b93b9"),
    SourceFile("Test", 30_879, "b1375faa9e1fcccf7f8e481d9e350c11604be41f330b3fd4c663576ce71175c5"),
)

#: SHA-256 of the TSVs converted from them (the split the course's CiteULike numbers were measured on).
CITEULIKE_TSV_SHA256 = {
    "train.tsv": "f901af94197cab9a4d1b64d1b97e6c1e92ce258b3653558cfc17ebdf9a16d4b9",
    "valid.tsv": "568b8abbd95ef40e99b78b54e44f7f973b4374666f3d1d0798f669a551706b30",
    "test.tsv": "338639dcbc9a2afba54da93ade853ed2d6b4cdc352ebfebaa41aa69774642b93",
}

#: Opcodes that only build plain values. Everything else (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST,
#: OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, BYTEARRAY8, NEXT_BUFFER, ...) is refused.
SAFE_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
    "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE",
    "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
    "EMPTY_LIST", "LIST", "APPEND", "APPENDS", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS", "EMPTY_SET", "ADDITEMS", "FROZENSET",
    "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
})

_DOWNLOAD_TIMEOUT_S = 60


def source_url(name: str, base_url: str = BASE_URL) -> str:
    """The address of the authors' file ``name`` (``Train``, ``Valid`` or ``Test``) under ``base_url``."""
    return f"{base_url.rstrip('/')}/{name}"


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that names no global: only plain values (numbers, strings, lists, dicts ...) load.

    :meth:`find_class` is what the ``GLOBAL``/``STACK_GLOBAL`` (and extension-code) opcodes call to
    fetch a class or function, the first step of any code a pickle runs; here it always refuses.
    :func:`read_pickle` also refuses every opcode outside :data:`SAFE_OPCODES` before this runs.
    """

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"the pickle names the global {module}.{name}; only plain values "
                                     "(numbers, strings, lists, tuples, dicts) are accepted")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("the pickle holds a persistent ID; only plain values are accepted")


def read_pickle(data: bytes, label: str) -> object:
    """The plain value pickled in ``data``, read without naming any global (ValueError otherwise).

    Every opcode is checked against :data:`SAFE_OPCODES` before anything is built, then the bytes
    are read by :class:`RestrictedUnpickler`; ``label`` names the data in error messages.
    """
    unsafe = None
    try:
        for opcode, _arg, position in pickletools.genops(data):
            if opcode.name not in SAFE_OPCODES:
                unsafe = (opcode.name, position)
                break
        else:
            return RestrictedUnpickler(io.BytesIO(data)).load()
    except Exception as exc:  # a truncated or malformed pickle raises several types
        raise ValueError(f"{label}: refused: not a pickle of plain values ({type(exc).__name__}: {exc}); "
                         "nothing was written") from exc
    raise ValueError(f"{label}: refused: the pickle uses opcode {unsafe[0]} at byte {unsafe[1]}, which can name "
                     "or call code; only plain values are accepted; nothing was written")


def download(url: str, *, limit: int, timeout: float = _DOWNLOAD_TIMEOUT_S) -> bytes:
    """The bytes at ``url`` (at most ``limit`` + 1 of them are read); urllib's errors (OSErrors) pass through."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (the caller pins SHA-256)
        return response.read(limit + 1)


def _verified(data: bytes, file: SourceFile, label: str) -> bytes:
    """``data`` if its size and SHA-256 are ``file``'s, else ValueError naming both."""
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != file.size or digest != file.sha256:
        raise ValueError(f"{label}: refused: {len(data):,} bytes with SHA-256 {digest}, expected {file.size:,} "
                         f"bytes with SHA-256 {file.sha256} (the file is corrupt, another one, or changed "
                         "upstream); nothing was written")
    return data


def _int_id(value: object, what: str, label: str) -> int:
    if type(value) is not int or value < 0:  # bool is an int subclass: refused too
        raise ValueError(f"{label}: {what} {value!r} is not a non-negative integer ID")
    return value


def citeulike_tsvs(train: object, valid: object, test: object) -> dict[str, bytes]:
    """The TSV files (name -> bytes) for the authors' three dictionaries, checked for their structure.

    ``train`` is ``{user: {item: ...}}``, ``valid`` and ``test`` are ``{user: item}``. Rows are sorted
    by user, then item; each file starts with the header ``user<TAB>item``; IDs are kept as given.
    """
    if not isinstance(train, dict) or not all(isinstance(items, dict) for items in train.values()):
        raise ValueError("Train: expected a dict {user: {item: 1, ...}}, got another structure")
    rows = ["user\titem\n"]
    for user in sorted(train, key=lambda u: _int_id(u, "user", "Train")):
        rows.extend(f"{user}\t{item}\n" for item in sorted(train[user], key=lambda i: _int_id(i, "item", "Train")))
    out = {"train.tsv": "".join(rows).encode("ascii")}
    for label, held_out in (("Valid", valid), ("Test", test)):
        if not isinstance(held_out, dict):
            raise ValueError(f"{label}: expected a dict {{user: item}}, got {type(held_out).__name__}")
        rows = ["user\titem\n"]
        for user in sorted(held_out, key=lambda u: _int_id(u, "user", label)):
            rows.append(f"{user}\t{_int_id(held_out[user], 'item', label)}\n")
        out[f"{label.lower()}.tsv"] = "".join(rows).encode("ascii")
    return out


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch` did: the destination folder, whether it wrote the files, and the split's size."""

    dataset: str
    dest: Path
    files: tuple[Path, ...]
    written: bool
    n_users: int
    n_items: int
    n_train: int


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_atomically(dest: Path, files: dict[str, bytes]) -> None:
    """Write every file to a temporary file in ``dest``, then rename them all into place.

    Nothing is renamed until every temporary file is complete and flushed to disk, and the
    temporary files are removed on any error, so no half-written file is left under a real name.
    """
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder {dest} ({exc}); choose another one with --dest") from exc
    temporary: dict[str, Path] = {}
    try:
        for name, data in files.items():
            fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
            temporary[name] = Path(tmp_name)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary[name], 0o644)  # mkstemp makes it owner-only; data files are for everyone
        for name, tmp in temporary.items():
            os.replace(tmp, dest / name)
    except OSError as exc:
        raise ValueError(f"cannot write to {dest} ({exc}); nothing was written there; "
                         "choose another folder with --dest") from exc
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)


def _how_to_get(dest: Path, dest_given: bool, reason: str) -> str:
    """The offline message: the three addresses, their SHA-256, where to put them and what to run then."""
    folder = dest.parent / "citeulike-authors"
    files = "; ".join(f"{source_url(f.name)} (SHA-256 {f.sha256})" for f in CITEULIKE_FILES)
    dest_option = f" --dest {dest}" if dest_given else ""
    return (f"could not download the CiteULike split ({reason}). Download these three files by hand: {files}; "
            f"save them, named {', '.join(f.name for f in CITEULIKE_FILES)}, in one folder, e.g. {folder}; then run: "
            f"python -m htd_tutorial fetch citeulike --source {folder}{dest_option} "
            f"(the TSVs go to {dest})")


def fetch(dataset: str = "citeulike", dest: str | os.PathLike | None = None, *,
          source: str | os.PathLike | None = None, force: bool = False, base_url: str = BASE_URL) -> Fetched:
    """Put ``dataset``'s ``train.tsv``, ``valid.tsv`` and ``test.tsv`` into ``dest``, verified.

    Parameters
    ----------
    dataset : str
        One of :data:`FETCHABLE`.
    dest : str or os.PathLike, optional
        Folder for the TSVs. Default: the folder the package reads CiteULike from
        (:func:`htd_tutorial.data.citeulike_dir`: ``HTD_CITEULIKE_DIR``, else ``../shared/data/citeulike``
        beside a checkout, else ``~/.cache/htd-tutorial/citeulike`` when pip-installed).
    source : str or os.PathLike, optional
        A folder holding the authors' ``Train``, ``Valid`` and ``Test``, downloaded by hand: convert
        those instead of downloading (the offline path). Their SHA-256 is checked all the same.
    force : bool
        Replace TSVs already in ``dest`` that differ from the split's (without it that is an error).
    base_url : str
        Where the authors' files are (default: :data:`BASE_URL`, the raw-file address at :data:`COMMIT`).

    Returns
    -------
    Fetched
        ``written`` is false when ``dest`` already held the exact split (nothing downloaded).

    Raises
    ------
    MissingDataError
        (a ``ValueError``) the download failed, or ``source`` lacks a file; the message names the
        three addresses, their SHA-256 and the command that converts files downloaded by hand.
    ValueError
        Unknown dataset, a file whose size or SHA-256 is not the pinned one, a pickle that is not
        plain values, or a destination that cannot be written. Nothing is written then.
    """
    key = str(dataset).strip().lower()
    if key not in FETCHABLE:
        raise ValueError(f"cannot fetch dataset {dataset!r}; choose one of {', '.join(FETCHABLE)}")
    dest_given = dest is not None
    dest = Path(dest).expanduser() if dest_given else citeulike_dir()
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file, so it cannot be the destination folder")
    targets = tuple(dest / name for name in CITEULIKE_TSV_SHA256)
    present = [p for p in targets if p.is_file()]
    differing = [p for p in present if _sha256_file(p) != CITEULIKE_TSV_SHA256[p.name]]
    if len(present) == len(targets) and not differing:
        return _summary(key, dest, targets, written=False, tsvs={p.name: p.read_bytes() for p in targets})
    if differing and not force:
        raise ValueError(f"{dest} already holds {', '.join(p.name for p in differing)}, which differ from the "
                         "CiteULike split; move them away, choose another folder with --dest, or replace them "
                         "with --force")

    raw: dict[str, bytes] = {}
    if source is not None:
        folder = Path(source).expanduser()
        missing = [f.name for f in CITEULIKE_FILES if not (folder / f.name).is_file()]
        if missing:
            raise MissingDataError(f"{folder} lacks {', '.join(missing)}; --source needs the authors' files "
                                   f"{', '.join(f.name for f in CITEULIKE_FILES)} there, from "
                                   + "; ".join(f"{source_url(f.name)} (SHA-256 {f.sha256})" for f in CITEULIKE_FILES))
        for file in CITEULIKE_FILES:
            path = folder / file.name
            raw[file.name] = _verified(path.read_bytes(), file, str(path))
    else:
        for file in CITEULIKE_FILES:
            url = source_url(file.name, base_url)
            try:
                data = download(url, limit=file.size)
            except OSError as exc:  # no network, DNS failure, HTTP error, timeout: urllib's errors are OSErrors
                raise MissingDataError(_how_to_get(dest, dest_given, f"{url}: {exc}")) from exc
            raw[file.name] = _verified(data, file, url)

    values = {name: read_pickle(data, name) for name, data in raw.items()}
    tsvs = citeulike_tsvs(values["Train"], values["Valid"], values["Test"])
    for name, data in tsvs.items():  # the pinned inputs give exactly these; a check of this converter
        if hashlib.sha256(data).hexdigest() != CITEULIKE_TSV_SHA256[name]:
            raise ValueError(f"{name}: the converted file is not the CiteULike split the course expects "
                             "(SHA-256 differs); nothing was written")
    _write_atomically(dest, tsvs)
    return _summary(key, dest, targets, written=True, tsvs=tsvs)


def _summary(dataset: str, dest: Path, targets: tuple[Path, ...], *, written: bool,
             tsvs: dict[str, bytes]) -> Fetched:
    users: set[int] = set()
    items: set[int] = set()
    n_train = 0
    for name, data in tsvs.items():
        lines = data.decode("ascii").splitlines()[1:]
        n_train += len(lines) if name == "train.tsv" else 0
        for line in lines:
            user, item = line.split("\t")
            users.add(int(user))
            items.add(int(item))
    return Fetched(dataset=dataset, dest=dest, files=targets, written=written, n_users=len(users),
                   n_items=len(items), n_train=n_train)
