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


def test_the_other_rules_name_the_field():
    from htd_tutorial._checks import cutoffs, finite_number, flag, instance_of, integer, known, one_of, positive_number

    assert integer("seed", np.int64(0), low=0) == 0 and type(integer("seed", np.int64(0), low=0)) is int
    for bad in (True, 1.0, -1):
        with pytest.raises(ValueError, match="seed must be an integer >= 0"):
            integer("seed", bad, low=0)
    assert finite_number("gamma", np.float32(0.5), 0.0, 1.0) == 0.5
    for bad, match in ((True, "a finite number"), (float("nan"), "a finite number"), (1.5, r"in \[0.0, 1.0\]")):
        with pytest.raises(ValueError, match="gamma must be " + match):
            finite_number("gamma", bad, 0.0, 1.0)
    assert positive_number("lr", np.int64(1)) == 1.0 and positive_number("wd", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="lr must be > 0, got nan"):
        positive_number("lr", float("nan"))
    with pytest.raises(ValueError, match="proto_grad must be True or False"):
        flag("proto_grad", 1)
    with pytest.raises(ValueError, match=r"mode must be one of \('authors', 'clean'\), got 'paper'"):
        one_of("mode", "paper", ("authors", "clean"))
    with pytest.raises(ValueError, match=r"unknown optimizer \['adam'\]; choose one of"):
        known("optimizer", ["adam"], ("adam", "lazy_adam"))      # unhashable: refused, not a TypeError
    with pytest.raises(ValueError, match="options must be dict or None, got str"):
        instance_of("options", "x", dict, optional=True)
    assert cutoffs([np.int64(10), 20], 60) == (10, 20)
    with pytest.raises(ValueError, match="ks must be integer cut-offs"):
        cutoffs((True,), 60)


def test_a_numpy_integer_is_a_student_dimension_everywhere():
    """One rule for the student dimension: RunConfig (and make_distiller, which builds one), the losses and
    make_model agree; the modules a configuration reaches (GroupAssignment under HTDLoss) trust it."""
    from htd_tutorial.distill import make_distiller
    from htd_tutorial.config import RunConfig
    from htd_tutorial.losses import FitNetLoss, GroupAssignment, HTDLoss, gumbel_temperature

    dim = np.int64(4)
    config = RunConfig(method="htd", dim=dim, epochs=np.int32(2))
    assert type(config.dim) is int and type(config.epochs) is int and config == RunConfig(method="htd", dim=4, epochs=2)
    teacher = torch.randn(5, 8), torch.randn(7, 8)
    assert make_distiller("htd", *teacher, dim, K=np.int64(2)).htd.users.student_dim == 4
    assert GroupAssignment(np.int64(8), dim, np.int64(2)).student_dim == 4
    assert HTDLoss(8, dim, K=np.int64(2)).K == 2 and FitNetLoss(dim, 8).weight.shape == (8, 4)
    assert gumbel_temperature(np.int64(0), np.int64(10)) == 1.0
    for call in (lambda: RunConfig(method="htd", dim=True), lambda: make_distiller("htd", *teacher, True),
                 lambda: FitNetLoss(4.0, 8)):
        with pytest.raises(ValueError, match="must be a positive integer"):
            call()


def test_the_mode_has_one_home():
    """"authors" vs "clean" reaches FTD's eps, DE's temperature lag and every HTD switch, all from htd_tutorial.modes."""
    from htd_tutorial import modes
    from htd_tutorial.distill import make_distiller
    from htd_tutorial.losses import HTDOptions

    teacher = torch.randn(5, 8), torch.randn(7, 8)
    for mode in modes.MODES:
        assert make_distiller("ftd", *teacher, 4, mode=mode).eps == modes.cosine_eps(mode)
        assert make_distiller("de", *teacher, 4, K=2, mode=mode).tau_lag == modes.tau_lag(mode)
        options = make_distiller("htd", *teacher, 4, K=2, mode=mode).options
        assert options == HTDOptions.preset(mode) == HTDOptions(**modes.switches(mode))
    assert set(modes.USED_BY) == set(HTDOptions.preset("authors").differences(HTDOptions.preset("clean")))
    assert (modes.cosine_eps("authors"), modes.tau_lag("authors")) == (0.0, True)
    with pytest.raises(ValueError, match=r"mode must be one of \('authors', 'clean'\), got 'paper'"):
        modes.switches("paper")


def test_kind_only_means_a_model_type(monkeypatch):
    """An optimiser is picked by ``name`` and a setting's type by ``value_type``: neither takes ``kind``."""
    from htd_tutorial.optim import LazyAdam, PaperAdam, make_optimizer
    from htd_tutorial.params import param

    weights = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer("lazy_adam", weights, lr=0.1, weight_decay=0.0), LazyAdam)
    assert isinstance(make_optimizer(name="adam", params=weights, lr=0.1, weight_decay=0.0), PaperAdam)
    with pytest.raises(ValueError, match=r"unknown optimizer 'sgd'; choose one of"):
        make_optimizer("sgd", weights, lr=0.1, weight_decay=0.0)
    with pytest.raises(TypeError, match="kind"):
        make_optimizer(kind="adam", params=weights, lr=0.1, weight_decay=0.0)
    monkeypatch.setenv("HTD_SHOWN", "7")
    assert param("shown", "3", value_type=int) == 7
    with pytest.raises(TypeError, match="kind"):
        param("shown", "3", kind=int)
