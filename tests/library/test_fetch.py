"""`python -m htd_tutorial fetch citeulike` (data/fetch.py): verified download, safe reading, atomic writes.

The authors publish CiteULike as three pickles; the command checks their SHA-256, reads them with an
unpickler that names no global, and writes the TSVs the package reads. No test here touches the
network: "the network" is a ``file://`` address or a stand-in opener serving the authors' files
from ``../shared/data/citeulike-authors`` (tests that need that folder skip without it, or fail with
``HTD_REQUIRE_DATA=1``).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SPLIT_FILES, _missing
from htd_tutorial import __main__ as cli
from htd_tutorial.data import MissingDataError
from htd_tutorial.data import fetch as F

AUTHORS_DIR = REPO_ROOT.parent / "shared" / "data" / "citeulike-authors"
NAMES = tuple(f.name for f in F.CITEULIKE_FILES)


@pytest.fixture(scope="session")
def authors_dir() -> Path:
    """The authors' ``Train``, ``Valid`` and ``Test`` (skipped when absent, unless HTD_REQUIRE_DATA=1)."""
    missing = [name for name in NAMES if not (AUTHORS_DIR / name).is_file()]
    if missing:
        _missing(f"the authors' CiteULike files not found: {AUTHORS_DIR} lacks {', '.join(missing)}",
                 "HTD_REQUIRE_DATA")
    return AUTHORS_DIR


def _same_as_reference(dest: Path, reference: Path) -> None:
    assert sorted(p.name for p in dest.iterdir()) == sorted(SPLIT_FILES)  # no temporary file left
    for name in SPLIT_FILES:
        assert (dest / name).read_bytes() == (reference / name).read_bytes(), name


class _RunsCode:
    """Pickles as a call of os.system: building and dumping it runs nothing, loading it would."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _pin(monkeypatch, folder: Path) -> None:
    """Make the files in ``folder`` the pinned ones (their sizes and SHA-256), to reach the reader."""
    pinned = tuple(F.SourceFile(name, (folder / name).stat().st_size,
                                hashlib.sha256((folder / name).read_bytes()).hexdigest()) for name in NAMES)
    monkeypatch.setattr(F, "CITEULIKE_FILES", pinned)


def _plain_files(folder: Path, train=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    values = {"Train": {0: {1: 1, 0: 1}, 1: {2: 1}} if train is None else train, "Valid": {0: 2, 1: 0},
              "Test": {1: 1, 0: 3}}
    for name, value in values.items():
        (folder / name).write_bytes(pickle.dumps(value, protocol=2))
    return folder


# --- the conversion -------------------------------------------------------------------------------------------

def test_the_authors_files_convert_to_the_split(authors_dir, citeulike_dir, tmp_path, capsys):
    assert cli.main(["fetch", "citeulike", "--source", str(authors_dir), "--dest", str(tmp_path / "out")]) == 0
    _same_as_reference(tmp_path / "out", citeulike_dir)
    out = capsys.readouterr().out
    assert "wrote train.tsv, valid.tsv, test.tsv" in out and "5,219 users, 25,181 items, 115,142 training" in out
    assert "HTD_CITEULIKE_DIR=" in out  # not where the package reads from: it says how to point there
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "out").iterdir()} == {"0o644"}


def test_the_pinned_checksums_are_the_shared_files(authors_dir, citeulike_dir):
    for file in F.CITEULIKE_FILES:
        data = (authors_dir / file.name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (file.size, file.sha256)
    for name, digest in F.CITEULIKE_TSV_SHA256.items():
        assert hashlib.sha256((citeulike_dir / name).read_bytes()).hexdigest() == digest


def test_the_converter_sorts_and_checks_the_structure():
    tsvs = F.citeulike_tsvs({1: {2: 1}, 0: {1: 1, 0: 1}}, {1: 0, 0: 2}, {0: 3, 1: 1})
    assert tsvs == {"train.tsv": b"user\titem\n0\t0\n0\t1\n1\t2\n", "valid.tsv": b"user\titem\n0\t2\n1\t0\n",
                    "test.tsv": b"user\titem\n0\t3\n1\t1\n"}
    with pytest.raises(ValueError, match=r"Train: expected a dict"):
        F.citeulike_tsvs({0: [1, 2]}, {}, {})
    with pytest.raises(ValueError, match=r"Valid: item -1 is not a non-negative integer ID"):
        F.citeulike_tsvs({0: {1: 1}}, {0: -1}, {0: 1})
    with pytest.raises(ValueError, match=r"Test: user True is not"):
        F.citeulike_tsvs({0: {1: 1}}, {0: 1}, {True: 1})


# --- the restricted unpickler ---------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_values_are_read(protocol):
    value = {0: {1: 1}, "a": [1.5, None, True, (1, 2), ()], 2**70: "é"}
    if protocol >= 3:  # before these, bytes and sets are pickled as calls (of _codecs.encode, builtins.set)
        value["b"] = b"x"
    if protocol >= 4:
        value["sets"] = [{3}, frozenset({4})]
    assert F.read_pickle(pickle.dumps(value, protocol=protocol), "plain") == value


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_naming_a_global_is_refused_without_running_it(tmp_path, protocol):
    marker = tmp_path / "ran"
    payload = pickle.dumps(_RunsCode(marker), protocol=protocol)
    with pytest.raises(ValueError, match=r"plain: refused: the pickle uses opcode (STACK_)?GLOBAL"):
        F.read_pickle(payload, "plain")
    # the unpickler alone (without the opcode scan) refuses the global before anything is called
    with pytest.raises(pickle.UnpicklingError, match=r"names the global (posix|nt|os)\.system"):
        F.RestrictedUnpickler(io.BytesIO(payload)).load()
    # a class by name (no call) is refused too
    with pytest.raises(ValueError, match=r"refused"):
        F.read_pickle(pickle.dumps(Path, protocol=protocol), "plain")
    assert not marker.exists()


def test_a_malformed_pickle_is_refused():
    with pytest.raises(ValueError, match=r"Train: refused: not a pickle of plain values"):
        F.read_pickle(pickle.dumps({0: {1: 1}}, protocol=2)[:-5], "Train")


def test_a_global_in_the_authors_files_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "ran"
    source = _plain_files(tmp_path / "source")
    (source / "Train").write_bytes(pickle.dumps({0: {1: _RunsCode(marker)}}, protocol=2))
    _pin(monkeypatch, source)  # even with the right checksum, the reader refuses it
    assert cli.main(["fetch", "citeulike", "--source", str(source), "--dest", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "fetch: error: Train: refused: the pickle uses opcode GLOBAL" in err and err.count("\n") == 1
    assert not marker.exists() and not (tmp_path / "out").exists()


# --- checksums, destination, atomic writes -------------------------------------------------------------------

def test_a_checksum_mismatch_is_refused(tmp_path, capsys):
    source = _plain_files(tmp_path / "source")
    assert cli.main(["fetch", "citeulike", "--source", str(source), "--dest", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{source / 'Train'}: refused:" in err and F.CITEULIKE_FILES[0].sha256 in err
    assert "nothing was written" in err and not (tmp_path / "out").exists()


def test_a_download_with_another_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "download", lambda url, limit: b"not the file")
    with pytest.raises(ValueError, match=r"/Train: refused: 12 bytes with SHA-256 [0-9a-f]{64}, expected 627,788"):
        F.fetch("citeulike", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_error_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    source = _plain_files(tmp_path / "source")
    _pin(monkeypatch, source)
    tsvs = F.citeulike_tsvs(*(F.read_pickle((source / name).read_bytes(), name) for name in NAMES))
    monkeypatch.setattr(F, "CITEULIKE_TSV_SHA256", {name: hashlib.sha256(data).hexdigest()
                                                    for name, data in tsvs.items()})
    dest = tmp_path / "out"
    dest.mkdir()
    fsync = os.fsync
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # the last of the three files
            raise OSError(28, "No space left on device")
        fsync(fd)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ValueError, match=r"cannot write to .*No space left on device.*nothing was written"):
        F.fetch("citeulike", dest, source=source)
    assert list(dest.iterdir()) == []  # neither a finished file nor a temporary one
    monkeypatch.setattr(os, "fsync", fsync)
    assert F.fetch("citeulike", dest, source=source).written
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == tsvs


def test_other_files_in_the_destination_are_kept_unless_forced(authors_dir, citeulike_dir, tmp_path, capsys):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "valid.tsv").write_text("user\titem\n0\t1\n")
    argv = ["fetch", "citeulike", "--source", str(authors_dir), "--dest", str(dest)]
    assert cli.main(argv) == 2
    assert "already holds valid.tsv, which differ" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["valid.tsv"]
    assert cli.main(argv + ["--force"]) == 0
    _same_as_reference(dest, citeulike_dir)


def test_a_destination_with_the_split_needs_no_network(citeulike_dir, monkeypatch, capsys):
    def offline(url, limit):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(F, "download", offline)
    monkeypatch.setenv("HTD_CITEULIKE_DIR", str(citeulike_dir))
    assert cli.main(["fetch", "citeulike"]) == 0  # the default destination is where the package reads from
    out = capsys.readouterr().out
    assert "already in place" in out and str(citeulike_dir) in out and "HTD_CITEULIKE_DIR=" not in out


# --- downloading ------------------------------------------------------------------------------------------------

def test_offline_the_command_says_what_to_download_and_where(tmp_path, monkeypatch, capsys):
    def offline(url, limit):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(F, "download", offline)
    dest = tmp_path / "citeulike"
    assert cli.main(["fetch", "citeulike", "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m htd_tutorial fetch: error: could not download")
    for file in F.CITEULIKE_FILES:
        url = f"https://raw.githubusercontent.com/{F.REPOSITORY}/{F.COMMIT}/dataset/{file.name}"
        assert f"{url} (SHA-256 {file.sha256})" in err
    assert "Temporary failure in name resolution" in err
    assert (f"python -m htd_tutorial fetch citeulike --source {tmp_path / 'citeulike-authors'} --dest {dest}"
            in err)
    assert not dest.exists()
    with pytest.raises(MissingDataError):  # the library's error: a FileNotFoundError and a ValueError
        F.fetch("citeulike", dest)


def test_downloading_from_a_file_address(authors_dir, citeulike_dir, tmp_path):
    done = F.fetch("citeulike", tmp_path / "out", base_url=authors_dir.as_uri())
    assert done.written and (done.n_users, done.n_items, done.n_train) == (5219, 25181, 115142)
    _same_as_reference(tmp_path / "out", citeulike_dir)


def test_downloading_from_the_authors_repository(authors_dir, citeulike_dir, tmp_path, monkeypatch, capsys):
    """A stand-in opener answers the raw-file addresses at the pinned commit with the shared files."""
    asked = []

    def opener(url, timeout):
        asked.append(url)
        prefix = f"https://raw.githubusercontent.com/SeongKu-Kang/Topology_Distillation_KDD21/{F.COMMIT}/dataset/"
        assert url.startswith(prefix) and timeout > 0
        return io.BytesIO((authors_dir / url[len(prefix):]).read_bytes())
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    dest = tmp_path / "citeulike"
    monkeypatch.setenv("HTD_CITEULIKE_DIR", str(dest))  # the default destination
    assert cli.main(["fetch", "citeulike"]) == 0
    assert [url.rsplit("/", 1)[1] for url in asked] == ["Train", "Valid", "Test"]
    _same_as_reference(dest, citeulike_dir)
    assert "HTD_CITEULIKE_DIR=" not in capsys.readouterr().out


# --- the command line ----------------------------------------------------------------------------------------

def test_the_command_line_names_come_from_fetch_and_need_no_torch():
    assert cli.fetchable() == F.FETCHABLE == ("citeulike",)
    code = ("import sys; from htd_tutorial.__main__ import build_parser; "
            "args = build_parser().parse_args(['fetch', 'citeulike', '--dest', 'x']); "
            "assert args.dataset == 'citeulike' and 'torch' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_bad_arguments_fail_at_once(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["fetch", "movielens"])
    assert stop.value.code == 2 and "invalid choice: 'movielens'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(["fetch", "citeulike", "--source", str(tmp_path / "nowhere")])
    assert stop.value.code == 2 and "is not an existing folder" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stop:
        cli.main(["fetch", "citeulike", "--dest", str(tmp_path / "file")])
    assert stop.value.code == 2 and "cannot be the output folder" in capsys.readouterr().err
    with pytest.raises(MissingDataError, match=r"lacks Train, Valid, Test; --source needs"):
        F.fetch("citeulike", tmp_path / "out", source=tmp_path)
    with pytest.raises(ValueError, match=r"cannot fetch dataset 'nope'; choose one of citeulike"):
        F.fetch("nope", tmp_path / "out")
