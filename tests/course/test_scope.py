"""The map's verdicts in words (:mod:`htd_tutorial.course.scope`): the stored cells read with numbers written
here, every verdict worded, and the README's and the instructor page's sentences equal to the function's."""
import re

import pytest

from htd_tutorial.course.scope import cells_where, load_map, scope
from htd_tutorial.stats import VERDICTS
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def stored_map():
    payload = load_map()
    assert payload is not None, "results/evidence_map.json is committed"
    return payload


# (setting, protocol, dim, comparison) -> (verdict, mean, s.e., n): read off results/evidence_map.json by
# hand (cells complete at five paired seeds, CiteULike's at three; Recall@50, a − b)
STORED = {
    ("ml-100k", "fixed", 4, "htd-ftd"): ("positive", 0.0643, 0.0129, 5),
    ("ml-100k", "fixed", 4, "htd-student"): ("positive", 0.1012, 0.0261, 5),
    ("ml-100k", "fixed", 4, "ftd-student"): ("unclear", 0.0369, 0.0289, 5),
    ("ml-100k", "fixed", 2, "htd-ftd"): ("positive", 0.0969, 0.0315, 5),
    ("ml-100k", "tuned", 2, "htd-ftd"): ("unclear", -0.0119, 0.0096, 5),
    ("synthetic", "fixed", 4, "ftd-student"): ("negative", -0.0477, 0.0080, 5),
    ("synthetic", "tuned", 4, "htd-ftd"): ("positive", 0.0140, 0.0040, 5),
    ("synthetic", "tuned", 4, "ftd-student"): ("unclear", -0.0150, 0.0074, 5),
    # from the three seeds' test Recall@50 (Student 0.2792, 0.2755, 0.2759; FTD 0.2596, 0.2577, 0.2591;
    # HTD 0.2830, 0.2807, 0.2845): FTD - Student -0.0196, -0.0178, -0.0168; HTD - FTD 0.0234, 0.0230, 0.0254
    ("citeulike-lightgcn", "fixed", 20, "ftd-student"): ("negative", -0.0181, 0.0008, 3),
    ("citeulike-lightgcn", "fixed", 20, "htd-ftd"): ("positive", 0.02395, 0.00077, 3),
}


@pytest.mark.parametrize("key", sorted(STORED), ids=lambda k: "-".join(map(str, k)))
def test_the_stored_cells_read_with_their_numbers(stored_map, key):
    verdict, mean, se, n = STORED[key]
    read = scope(*key, payload=stored_map)
    assert (read.verdict, read.n) == (verdict, n)
    assert read.mean == pytest.approx(mean, abs=5e-5) and read.se == pytest.approx(se, abs=5e-5)


def test_the_phrases_of_the_stored_cells(stored_map):
    assert scope("ml-100k", "fixed", 4, "htd-ftd", payload=stored_map).phrase == \
        "HTD is clearly ahead of FTD (+0.064 ± 0.013 Recall@50, 5 paired seeds)"
    assert str(scope("synthetic", "fixed", 4, "ftd-student", payload=stored_map)) == \
        "FTD is clearly behind the plain student (−0.048 ± 0.008 Recall@50, 5 paired seeds)"
    assert scope("ml-100k", "tuned", 2, "htd-ftd", payload=stored_map, numbers=False).phrase == \
        "HTD and FTD are level within the noise"


def _payload(verdict, mean=0.01, se=0.002, n=3):
    return {"cells": [{"setting": "s", "protocol": "fixed", "dim": 4,
                       "verdicts": {"htd-student": {"verdict": verdict, "mean": mean, "se": se, "n": n}}}]}


@pytest.mark.parametrize("verdict, words", [("positive", "HTD is clearly ahead of the plain student"),
                                            ("negative", "HTD is clearly behind the plain student"),
                                            ("unclear", "HTD and the plain student are level within the noise"),
                                            ("not read", "HTD − the plain student is not read (no spread)")])
def test_every_verdict_of_the_rule_is_worded(verdict, words):
    assert verdict in VERDICTS
    read = scope("s", "fixed", 4, "htd-student", payload=_payload(verdict, -0.0125, 0.004, 4))
    assert read.phrase == f"{words} (−0.013 ± 0.004 Recall@50, 4 paired seeds)"


def test_a_missing_cell_or_comparison_or_verdict_is_an_error():
    with pytest.raises(KeyError, match="no cell"):
        scope("s", "tuned", 4, "htd-student", payload=_payload("positive"))
    with pytest.raises(KeyError, match="no comparison"):
        scope("s", "fixed", 4, "htd-ftd", payload=_payload("positive"))
    with pytest.raises(ValueError, match="unknown verdict"):
        scope("s", "fixed", 4, "htd-student", payload=_payload("clear"))


def test_cells_where(stored_map):
    hurt = cells_where(stored_map, {"ftd-student": "negative"})
    assert ("synthetic", "fixed", 4) in hurt and ("synthetic", "fixed", 2) in hurt
    assert all(p == "fixed" for _, p, _ in hurt)
    assert set(cells_where(stored_map, {"htd-student": "positive", "htd-ftd": "positive"})) >= \
        {("ml-100k", "fixed", 2), ("ml-100k", "fixed", 4)}


def test_a_missing_map_is_named_with_its_command(tmp_path, capsys):
    assert load_map(tmp_path / "evidence_map.json", verbose=True) is None
    out = capsys.readouterr().out
    assert "results/evidence_map.json is missing" in out and "python -m htd_tutorial" in out


# --- the sentences of the README and the instructor page that say which method wins in a map setting -----
# Each is written there as the phrase of `scope`, right after an HTML comment (invisible on the rendered
# page) that names its cell: `<!-- map ml-100k fixed d=4 htd-ftd -->HTD is clearly ahead of FTD (...)`.
MARKED = re.compile(r"<!-- map ([\w-]+) (fixed|tuned) d=(\d+) (\w+-\w+) -->\s*(.*?seeds\))")


def _marked(text: str) -> list[tuple]:
    flat = re.sub(r"\s*\n\s*", " ", text)
    return [(s, p, int(d), c, phrase) for s, p, d, c, phrase in MARKED.findall(flat)]


@pytest.mark.parametrize("page", ["README.md", "docs/instructor.md"])
def test_the_pages_say_what_the_map_says(stored_map, page):
    marked = _marked((REPO_ROOT / page).read_text(encoding="utf-8"))
    assert len(marked) >= 2, f"{page} names no map cell"
    for setting, protocol, dim, comparison, phrase in marked:
        said = scope(setting, protocol, dim, comparison, payload=stored_map)
        assert phrase == said.phrase, f"{page}: map {setting} {protocol} d={dim} {comparison} says {phrase!r}, " \
                                      f"the map {said.phrase!r}"


def test_the_marker_reader_catches_a_changed_sentence(stored_map):
    text = "On MovieLens <!-- map ml-100k fixed d=4 htd-ftd -->HTD is clearly ahead of FTD (+0.070 ±\n  0.013 " \
           "Recall@50, 5 paired seeds); more."
    [(s, p, d, c, phrase)] = _marked(text)
    assert phrase == "HTD is clearly ahead of FTD (+0.070 ± 0.013 Recall@50, 5 paired seeds)"
    assert phrase != scope(s, p, d, c, payload=stored_map).phrase
