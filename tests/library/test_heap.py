"""htd_tutorial._heap: glibc's allocator keeps large blocks while training, and is restored afterwards."""
import platform

import pytest
import torch

from htd_tutorial import _heap
from htd_tutorial.models import make_model
from htd_tutorial.training import train


class FakeLibc:
    """Records the allocator calls instead of making them."""

    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("trim", pad))
        return 1


@pytest.fixture
def fake(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(_heap, "_glibc", lambda: libc)
    for name in [n for n in __import__("os").environ if n.startswith("MALLOC_")] + ["GLIBC_TUNABLES"]:
        monkeypatch.delenv(name, raising=False)
    return libc


KEEP = [("mallopt", -4, 0), ("mallopt", -1, 2 ** 31 - 1)]          # M_MMAP_MAX 0, M_TRIM_THRESHOLD "never"
RESTORE = [("mallopt", -4, 65536), ("mallopt", -1, 128 * 1024), ("trim", 0)]   # glibc's defaults, then trim


def test_kept_inside_restored_after(fake):
    with _heap.kept_heap():
        assert fake.calls == KEEP and _heap.heap_is_kept()
    assert fake.calls == KEEP + RESTORE and not _heap.heap_is_kept()


def test_nested_blocks_restore_once_at_the_outermost(fake):
    with _heap.kept_heap():
        with _heap.kept_heap():
            pass
        assert fake.calls == KEEP                  # the inner block left the setting alone
    assert fake.calls == KEEP + RESTORE


def test_restored_when_the_block_raises(fake):
    with pytest.raises(RuntimeError), _heap.kept_heap():
        raise RuntimeError("boom")
    assert fake.calls == KEEP + RESTORE


@pytest.mark.parametrize("env", [("MALLOC_ARENA_MAX", "2"), ("GLIBC_TUNABLES", "glibc.malloc.mmap_max=0")])
def test_the_users_allocator_settings_stand(fake, monkeypatch, env):
    monkeypatch.setenv(*env)
    with _heap.kept_heap():
        assert not _heap.heap_is_kept()
    assert fake.calls == []


def test_disabled_or_not_glibc_changes_nothing(fake, monkeypatch):
    with _heap.kept_heap(enabled=False):
        pass
    monkeypatch.setattr(_heap, "_glibc", lambda: None)
    with _heap.kept_heap():
        assert not _heap.heap_is_kept()
    assert fake.calls == []


def test_train_keeps_the_heap_while_it_trains(fake, tiny):
    seen = []

    class Probe(torch.nn.Module):              # a distiller that only looks at the allocator's state
        def forward(self, s_users, s_items, u_ids, i_ids, epoch, epochs):
            seen.append(_heap.heap_is_kept())
            return {"loss": s_users.sum() * 0.0}

    train(make_model("bpr", tiny, 4, seed=0), tiny, epochs=1, distiller=Probe(), eval_every=0)
    assert seen and all(seen)
    assert fake.calls[:2] == KEEP and fake.calls[-3:] == RESTORE


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_real_glibc_accepts_the_settings():
    libc = _heap._glibc()
    assert libc is not None
    assert libc.mallopt(-4, 65536) == 1 and libc.mallopt(-1, 128 * 1024) == 1
