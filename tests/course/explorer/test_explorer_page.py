"""The kernel-free explorer page (``htd_tutorial.course.explorer.page``, ``docs/explorer.html``).

``test_page_*``: the writer on a tiny grid (seconds, no browser): every setting is in the page, with the
explorer's own coordinates (to the quantisation's precision), groups and metrics, each distinct map
stored once, nothing fetched from anywhere.

``test_committed_page_in_chromium`` (``browser``): the committed ``docs/explorer.html`` opened from
disk in Debian's Chromium with every network request refused: the picture is drawn, and moving each
slider (with the keyboard, like a learner) and the method selector changes the picture and the numbers.
"""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from htd_tutorial.cache import get_teacher
from htd_tutorial.course.explorer import RAW_2D, SHIPPED, TopologyExplorer
from htd_tutorial.course.explorer import capacity_html
from htd_tutorial.course.explorer.page import (MAX_PAGE_BYTES, PAGE_DATASET, PAGE_NOTE, PAGE_PATH, collect_page_data,
                                               dequantise, render_page, write_page)
from htd_tutorial.data import make_synthetic

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def tiny_explorer(tmp_path_factory):
    """TopologyExplorer: 60 users x 90 items, a quick dimension-16 teacher, PCA maps (seconds)."""
    data = make_synthetic(n_users=60, n_items=90, n_super=2, n_sub=2, interactions_per_user=8, seed=0)
    folder = tmp_path_factory.mktemp("page")
    teacher, _ = get_teacher(data, dim=16, epochs=5, lr=1e-2, directory=folder / "teacher", progress=False,
                             verbose=False)
    settings = SHIPPED.replace(dims=(2, 4), dim=4, K=3, K_max=5, epochs=3, batch_size=256, n_users_shown=30,
                               n_items_shown=40, k_neighbours=5)
    return TopologyExplorer(data, teacher, settings, directory=folder / "runs", projection="pca")


@pytest.fixture(scope="module")
def page_data(tiny_explorer):
    return collect_page_data(tiny_explorer, Ks=(2, 3, 9))          # K = 9 is above K_max = 5: left out


def test_page_holds_every_setting_with_the_explorers_numbers(tiny_explorer, page_data):
    assert page_data["dims"] == [2, 4] and page_data["Ks"] == [2, 3]
    assert [m["value"] for m in page_data["methods"]] == ["student", "ftd", "htd"]
    assert len(page_data["settings"]) == 12
    # Student and FTD maps do not depend on K: per dimension 1 + 1 + 2 (HTD at each K) distinct maps
    assert len(page_data["maps"]) == 8
    # one grouping per (dimension, K), each distinct one stored once
    groupings = {tiny_explorer.compute("htd", d, k).groups.astype(np.uint8).tobytes() for d in (2, 4) for k in (2, 3)}
    assert len(page_data["groups"]) == len(groupings) >= 2
    assert page_data["n_users"] == 30 and page_data["n_items"] == 40
    assert page_data["start"] == {"method": "htd", "dim": 4, "K": 3}
    for entry in page_data["settings"]:
        result = tiny_explorer.compute(entry["method"], entry["dim"], entry["K"])
        xy = dequantise(page_data["maps"][entry["map"]])
        span = result.student_xy.max(axis=0) - result.student_xy.min(axis=0)
        np.testing.assert_allclose(xy, result.student_xy, atol=float(span.max()) / 65535)
        groups = np.frombuffer(base64.b64decode(page_data["groups"][entry["groups"]]), np.uint8)
        np.testing.assert_array_equal(groups, result.groups)
        assert f"{result.metrics['Recall@50']:.3f}" in entry["metrics"]
        assert " s</div>" not in entry["metrics"]                     # no timing line: nothing was "trained" here
        assert entry["axis"] == (RAW_2D if entry["dim"] == 2 else "PCA")
    assert sorted(page_data["capacity"]) == ["2|2", "2|3", "4|2", "4|3"]
    view = tiny_explorer.capacity(4, 3)
    assert page_data["capacity"]["4|3"] == capacity_html(view) and set(view.errors) == {"student", "ftd", "htd"}
    teacher = dequantise(page_data["teacher"]["map"])
    np.testing.assert_allclose(teacher, tiny_explorer.teacher_map().coords, atol=1e-3)
    assert len(page_data["palettes"]["3"]) == 3 and all(re.fullmatch(r"#[0-9a-f]{6}", c)
                                                        for c in page_data["palettes"]["3"])


def test_page_is_one_file_that_fetches_nothing(page_data, tmp_path):
    path = write_page(tmp_path / "sub" / "explorer.html", page_data)
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 200_000
    assert not re.search(r"<(script|img|link|iframe)[^>]*\b(src|href)=", text, re.I)   # nothing loaded
    assert "http://" not in text and "https://" not in text and "@import" not in text
    embedded = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', text, re.S)
    assert json.loads(embedded.group(1).replace("<\\/", "</")) == json.loads(json.dumps(page_data))
    assert [p.name for p in path.parent.iterdir()] == ["explorer.html"]             # no temporary file left


def test_page_writer_rejects_bad_grids_and_huge_pages(tiny_explorer, page_data, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="at least one"):
        collect_page_data(tiny_explorer, Ks=(50,))
    with pytest.raises(ValueError, match="unknown method"):
        collect_page_data(tiny_explorer, methods=("fitnet",))
    import htd_tutorial.course.explorer.page as page_module

    monkeypatch.setattr(page_module, "MAX_PAGE_BYTES", 1000)
    with pytest.raises(ValueError, match="limit"):
        write_page(tmp_path / "big.html", page_data)
    assert not (tmp_path / "big.html").exists()
    payload = render_page(page_data).split('id="explorer-data">')[1].split("</script>")[0]
    assert "<\\/td>" in payload and "</" not in payload          # the tables' closing tags cannot end the script
    json.loads(payload.replace("<\\/", "</"))


def test_committed_page_is_small_and_complete(repo_root):
    path = repo_root / PAGE_PATH
    if not path.is_file():
        pytest.fail(f"{PAGE_PATH} is missing: make explorer-page writes it")
    assert path.stat().st_size <= MAX_PAGE_BYTES
    text = path.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="explorer-data">(.*?)</script>', text, re.S).group(1).replace("<\\/", "</"))
    assert data["dims"] == list(SHIPPED.dims) and max(data["Ks"]) == SHIPPED.K_max
    assert len(data["settings"]) == len(data["dims"]) * len(data["Ks"]) * len(data["methods"])
    assert len(data["capacity"]) == len(data["dims"]) * len(data["Ks"])
    assert data["start"] == {"method": SHIPPED.method, "dim": SHIPPED.dim, "K": SHIPPED.K}
    assert data["about"]["dataset"] == PAGE_DATASET and data["about"]["note"] == PAGE_NOTE
    assert {s["axis"] for s in data["settings"] if s["dim"] == 2} == {RAW_2D}


@pytest.mark.browser
def test_committed_page_in_chromium(chromium_executable, artifacts_dir, repo_root):
    from playwright.sync_api import sync_playwright

    url = (repo_root / PAGE_PATH).resolve().as_uri()
    requested: list[str] = []
    errors: list[str] = []

    def refuse(route):
        requested.append(route.request.url)
        route.abort()

    def state(page):
        return page.evaluate("""() => ({picture: document.getElementById('maps').toDataURL(),
                                         metrics: document.getElementById('metrics').innerText,
                                         setting: document.getElementById('maps').getAttribute('data-setting')})""")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1300, "height": 900})
            context.route(re.compile(r"^(?!file:).*"), refuse)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(url)
            page.wait_for_function("document.getElementById('maps').getAttribute('data-setting') !== null")
            first = state(page)
            assert first["setting"] == f"{SHIPPED.method} d={SHIPPED.dim} K={SHIPPED.K}"
            assert "Recall@50" in first["metrics"] and first["picture"].startswith("data:image/png")
            page.screenshot(path=str(artifacts_dir / "explorer_page_first.png"))
            seen = [first]
            for control, key in (("#dim", "ArrowRight"), ("#K", "ArrowRight")):
                page.focus(control)
                page.keyboard.press(key)
                now = state(page)
                assert now["setting"] != seen[-1]["setting"], f"moving {control} changed no setting"
                assert now["picture"] != seen[-1]["picture"], f"moving {control} changed no picture"
                assert now["metrics"] != seen[-1]["metrics"], f"moving {control} changed no number"
                seen.append(now)
            page.select_option("#method", "student")
            now = state(page)
            assert now["setting"].startswith("student") and now["picture"] != seen[-1]["picture"]
            assert now["metrics"] != seen[-1]["metrics"]
            page.screenshot(path=str(artifacts_dir / "explorer_page_moved.png"))
        finally:
            browser.close()
    assert requested == [], f"the page asked the network for {requested}"
    assert errors == [], f"the page reported errors: {errors}"


# ------------------------------------------------------------------------------------------- warm-up and command line
def test_warm_up_runs_its_steps_in_order(monkeypatch):
    """The steps without their cost: data, teachers and the explorer replaced by stand-ins that log calls."""
    import htd_tutorial.course.common as common
    import htd_tutorial.course.explorer as explorer_module
    from htd_tutorial.course.warm_up import WARM_UP_STEPS, warm_up

    calls = []
    monkeypatch.setattr(common, "load_course_data", lambda name, verbose=True: calls.append(("data", name)) or name)
    monkeypatch.setattr(common, "course_teacher",
                        lambda data, progress=True, verbose=True: calls.append(("teacher", data)) or ("T", None))

    class Explorer:
        def __init__(self, data, teacher, settings, projection):
            calls.append(("explorer", data, teacher, projection))

        def prepare_umap(self, background):
            calls.append(("umap", background))

        def compute(self, method, dim, K):
            calls.append(("compute", method, dim, K))

    monkeypatch.setattr(explorer_module, "TopologyExplorer", Explorer)
    seconds = warm_up(progress=False)
    assert list(seconds) == list(WARM_UP_STEPS)
    assert calls == [("data", "movielens-100k"), ("teacher", "movielens-100k"),
                     ("explorer", "movielens-100k", "T", "auto"), ("umap", False),
                     ("compute", SHIPPED.method, SHIPPED.dim, SHIPPED.K)]


def test_explorer_page_command_rejects_a_folder_as_output(tmp_path, capsys):
    from htd_tutorial.course.explorer.page import main

    with pytest.raises(SystemExit) as stop:
        main(["--out", str(tmp_path)])
    assert stop.value.code == 2 and "is a folder" in capsys.readouterr().err
