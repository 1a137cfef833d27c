"""The input checks shared by the library's entry points (htd_tutorial._checks): one rule, one message."""
import numpy as np
import pytest
import torch

from htd_tutorial._checks import embedding_table, positive_int


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1)])
def test_positive_int_accepts_python_and_numpy_integers(value):
    assert positive_int("K", value) == int(value) and type(positive_int("K", value)) is int


@pytest.mark.parametrize("value", [0, -2, True, 1.0, 2.5, "3", None, np.float64(2.0)])
def test_positive_int_refuses_the_rest(value):
    with pytest.raises(ValueError, match="K must be a positive integer"):
        positive_int("K", value)


def test_embedding_table():
    table = embedding_table("emb", np.ones((3, 2)))
    assert isinstance(table, torch.Tensor) and table.shape == (3, 2) and not table.requires_grad
    assert embedding_table("emb", torch.zeros(0, 2)).shape == (0, 2)
    with pytest.raises(ValueError, match="non-empty 2-D table"):
        embedding_table("emb", torch.zeros(0, 2), non_empty=True)
    with pytest.raises(ValueError, match="2-D table"):
        embedding_table("emb", torch.zeros(3))
    with pytest.raises(ValueError, match="torch.Tensor or numpy array"):
        embedding_table("emb", [[1.0]])
    with pytest.raises(ValueError, match="floating-point"):
        embedding_table("emb", torch.ones(2, 2, dtype=torch.int64), floating=True)
