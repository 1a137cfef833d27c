"""Topology-fidelity metrics: known answers on constructed embeddings, invariances and input checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from htd_tutorial.topology import (group_agreement, knn_overlap, rank_correlation, sample_entities,
                                   similarity_kl, topology_report)


@pytest.fixture
def clustered_teacher(torch_generator):
    """Tensor (240, 16): a teacher's embeddings, not a model; six clusters, so neighbourhoods are meaningful."""
    centres = torch.randn(6, 16, generator=torch_generator) * 3
    labels = torch.arange(240) % 6
    return centres[labels] + torch.randn(240, 16, generator=torch_generator)


def rotated(x: torch.Tensor, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(x.shape[1], x.shape[1], generator=gen, dtype=x.dtype))
    return x @ q


def test_identical_and_rotated_copies_are_perfect(clustered_teacher):
    for student in (clustered_teacher, 2.5 * rotated(clustered_teacher)):
        report = topology_report(student, clustered_teacher, n_sample=200, k=10)
        assert report["kl_topk"] == pytest.approx(0.0, abs=1e-9)
        assert report["kl_random"] == pytest.approx(0.0, abs=1e-9)
        assert report["knn_overlap"] == pytest.approx(1.0)
        assert report["spearman"] == pytest.approx(1.0)
        assert report["n_sample"] == 200 and report["k"] == 10


def test_unrelated_student_scores_badly(clustered_teacher, torch_generator):
    student = torch.randn(240, 4, generator=torch_generator)
    report = topology_report(student, clustered_teacher, n_sample=240, k=10)
    # measured 0.115 and 0.199; a student within 0.3 noise of the teacher scores 4e-5 and 3e-4 (and "> 0" held
    # for any KL, however wrong)
    assert report["kl_topk"] > 0.05 and report["kl_random"] > 0.1
    assert report["knn_overlap"] < 0.15          # chance level is k / (n - 1) ~ 0.04
    assert abs(report["spearman"]) < 0.1


def test_noisier_student_is_worse_on_every_metric(clustered_teacher, torch_generator):
    noise = torch.randn(240, 16, generator=torch_generator)
    close = topology_report(clustered_teacher + 0.3 * noise, clustered_teacher, n_sample=240, temperature=0.1)
    far = topology_report(clustered_teacher + 3.0 * noise, clustered_teacher, n_sample=240, temperature=0.1)
    assert close["kl_topk"] < far["kl_topk"] and close["kl_random"] < far["kl_random"]
    assert close["knn_overlap"] > far["knn_overlap"]
    assert close["spearman"] > far["spearman"]


def test_similarity_kl_by_hand():
    # 3 entities on a circle; for anchor 0 with k=2 the candidates are {1, 2}
    angles = torch.tensor([0.0, 0.5, 2.0])
    teacher = torch.stack([angles.cos(), angles.sin()], dim=1).double()
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]).double()
    t_cos, s_cos = teacher @ teacher.T, student @ student.T
    expected = 0.0
    for a in range(3):
        others = [c for c in range(3) if c != a]
        p_t = torch.softmax(t_cos[a, others], 0)
        p_s = torch.softmax(s_cos[a, others], 0)
        expected += float((p_t * (p_t / p_s).log()).sum()) / 3
    assert similarity_kl(student, teacher, k=2) == pytest.approx(expected)
    assert similarity_kl(student, teacher, k=2, candidates="random") == pytest.approx(expected)


def test_similarity_kl_of_a_constant_student_against_a_naive_loop(clustered_teacher):
    # a student with one embedding for everybody gives uniform p_s over any k candidates, so the KL is
    # mean_a sum_c p_t(c|a) log(k p_t(c|a)) over the anchor's k nearest teacher neighbours, computed here in NumPy
    k, temperature = 10, 0.1
    teacher = clustered_teacher.double().numpy()
    unit = teacher / np.linalg.norm(teacher, axis=1, keepdims=True)
    cosine = unit @ unit.T
    total = 0.0
    for anchor in range(len(cosine)):
        others = np.delete(np.arange(len(cosine)), anchor)
        nearest = others[np.argsort(-cosine[anchor, others], kind="stable")[:k]]
        logits = cosine[anchor, nearest] / temperature
        p_t = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        total += float((p_t * np.log(k * p_t)).sum())
    expected = total / len(cosine)
    assert expected > 0.004  # 0.0054: far from 0 at this tolerance, so a KL that returns ~0 fails
    kl = similarity_kl(torch.ones(240, 3), clustered_teacher, k=k, temperature=temperature)
    assert kl == pytest.approx(expected, rel=1e-6)


def test_knn_overlap_by_hand():
    teacher = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    student = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9]])
    # teacher pairs (0,1) and (2,3); student pairs (0,2) and (1,3): 1-NN sets share nothing
    assert knn_overlap(student, teacher, k=1) == 0.0
    assert knn_overlap(teacher, teacher, k=1) == 1.0


def test_rank_correlation_matches_scipy_with_ties(torch_generator):
    scipy_stats = pytest.importorskip("scipy.stats")
    teacher = torch.randn(30, 5, generator=torch_generator).double()
    student = torch.randn(30, 3, generator=torch_generator).double()
    student[1] = student[0]                       # ties among the student's similarities
    rows, cols = torch.triu_indices(30, 30, offset=1)

    def cos(x):
        unit = x / x.norm(dim=1, keepdim=True)
        return (unit @ unit.T)[rows, cols].numpy()

    expected = scipy_stats.spearmanr(cos(teacher), cos(student)).statistic
    assert rank_correlation(student, teacher) == pytest.approx(expected, abs=1e-10)


def test_group_agreement():
    planted = np.repeat(np.arange(4), 25)
    assert group_agreement(planted, planted) == pytest.approx(1.0)
    relabelled = (planted + 1) % 4 * 7
    assert group_agreement(torch.from_numpy(relabelled), planted) == pytest.approx(1.0)
    shuffled = np.random.default_rng(0).permutation(planted)
    assert abs(group_agreement(shuffled, planted)) < 0.1
    with pytest.raises(ValueError, match="1-D"):
        group_agreement(planted.reshape(50, 2), planted)
    with pytest.raises(ValueError, match="labels"):
        group_agreement(planted[:-1], planted)
    with pytest.raises(ValueError, match="integer"):
        group_agreement(planted.astype(float), planted)


def test_report_is_deterministic_and_accepts_numpy(clustered_teacher, torch_generator):
    student = clustered_teacher[:, :4] + torch.randn(240, 4, generator=torch_generator)
    a = topology_report(student, clustered_teacher, n_sample=100, seed=3)
    b = topology_report(student.numpy(), clustered_teacher.numpy(), n_sample=100, seed=3)
    assert a == pytest.approx(b)
    c = topology_report(student, clustered_teacher, n_sample=100, seed=4)
    assert a != c
    assert len(sample_entities(240, 100, seed=3)) == 100
    assert torch.equal(sample_entities(50, 100), torch.arange(50))


@pytest.mark.parametrize("call,match", [
    (lambda t: topology_report(t[:-1], t), "rows"),
    (lambda t: topology_report(t[0], t), "2-D"),
    (lambda t: topology_report(t, t, k=0), "k"),
    (lambda t: topology_report(t, t, n_sample=5, k=10), "sample"),
    (lambda t: topology_report(t, t, n_sample=0), "n_sample"),
    (lambda t: similarity_kl(t, t, temperature=0.0), "temperature"),
    (lambda t: similarity_kl(t, t, candidates="all"), "candidates"),
    (lambda t: topology_report(t.masked_fill(torch.eye(240, 16, dtype=torch.bool), math.nan), t), "NaN"),
    (lambda t: knn_overlap([[1.0]], t), "Tensor"),
])
def test_bad_input_is_rejected(clustered_teacher, call, match):
    with pytest.raises(ValueError, match=match):
        call(clustered_teacher)


def test_embedding_array_validates_with_a_named_error():
    from htd_tutorial.topology import embedding_array

    source = torch.tensor([[1.0, -2.0], [0.5, 3.0], [1e-3, 7.0]])
    table = embedding_array("emb", source)
    assert table.dtype == np.float64 and table.shape == (3, 2)
    assert np.array_equal(table, source.double().numpy())  # the same numbers, row for row
    with pytest.raises(ValueError, match="emb must be a 2-D table .* at least 4 rows"):
        embedding_array("emb", np.ones((3, 2)), min_rows=4)
    with pytest.raises(ValueError, match="student contains NaN"):
        embedding_array("student", [[0.0, float("nan")], [1.0, 2.0]])
