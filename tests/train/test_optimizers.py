"""Optimizers and learning-rate schedules: updates equal Keras 3's (fed the same gradients, on the torch
backend), clipping, schedules, learning-rate get/set, get_optimizer, configs and torch-side behaviour."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import copy  # noqa: E402
import doctest  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import optimizers as O  # noqa: E402
from rnnkit.layers import Dense  # noqa: E402
from rnnkit.train.optimizers import step_under_no_grad  # noqa: E402

ATOL = 1e-5
SHAPES = [(3, 4), (4,)]
STEPS = 5


def initial_values():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype("float32") for shape in SHAPES]


def gradient_sequence(steps=STEPS, scale=1.0):
    rng = np.random.default_rng(1)
    return [[(scale * rng.standard_normal(shape)).astype("float32") for shape in SHAPES] for _ in range(steps)]


def run_ours(optimizer, gradients):
    params = [torch.nn.Parameter(torch.tensor(v)) for v in initial_values()]
    optimizer.build(params)
    for step_gradients in gradients:
        for p, g in zip(params, step_gradients):
            p.grad = torch.tensor(g)
        optimizer.step()
    return [p.detach().numpy() for p in params]


def run_keras(optimizer, gradients):
    variables = [keras.Variable(v) for v in initial_values()]
    for step_gradients in gradients:
        optimizer.apply_gradients(zip([torch.tensor(g) for g in step_gradients], variables))
    return [keras.ops.convert_to_numpy(v) for v in variables]


def assert_same_trajectory(ours, theirs, gradients):
    ours_final, theirs_final = run_ours(ours, gradients), run_keras(theirs, gradients)
    for a, b, start in zip(ours_final, theirs_final, initial_values()):
        assert np.abs(b - start).max() > 1e-4, "the reference did not move: the comparison would prove nothing"
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=1e-5)


# Large epsilons and decays make Keras's epsilon placement and decoupled decay visible above tolerance.
UPDATE_CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"learning_rate": 0.05, "epsilon": 0.1}),
    ("Adam", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("AdamW", {}),
    ("AdamW", {"learning_rate": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "epsilon": 0.1}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.8}),
    ("Adagrad", {}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 0.2}),
    ("Nadam", {}),
    ("Nadam", {"learning_rate": 0.05, "epsilon": 0.1, "weight_decay": 0.1, "beta_1": 0.8}),
]


@pytest.mark.parametrize("name, kwargs", UPDATE_CASES, ids=[f"{n}-{k}" for n, k in UPDATE_CASES])
def test_updates_match_keras_for_the_same_gradients(name, kwargs):
    assert_same_trajectory(getattr(O, name)(**kwargs), getattr(keras.optimizers, name)(**kwargs), gradient_sequence())


CLIP_CASES = [(name, clip) for name in ("SGD", "Adam") for clip in ("clipnorm", "global_clipnorm", "clipvalue")]


@pytest.mark.parametrize("name, clip", CLIP_CASES)
def test_clipped_updates_match_keras(name, clip):
    kwargs = {"learning_rate": 0.1, clip: 1.5}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    gradients = gradient_sequence(scale=3.0)  # norms around 10: clipping is active on every step
    assert_same_trajectory(getattr(O, name)(**kwargs), getattr(keras.optimizers, name)(**kwargs), gradients)


SCHEDULE_CASES = [
    ("ExponentialDecay", (0.1, 3, 0.5), {}),
    ("ExponentialDecay", (0.1, 3, 0.5), {"staircase": True}),
    ("PiecewiseConstantDecay", ([2, 5, 9], [0.1, 0.05, 0.02, 0.01]), {}),
    ("CosineDecay", (0.1, 10), {"alpha": 0.1}),
    ("CosineDecay", (0.0, 10), {"warmup_target": 0.2, "warmup_steps": 4, "alpha": 0.05}),
    ("InverseTimeDecay", (0.1, 2, 0.5), {}),
    ("InverseTimeDecay", (0.1, 2, 0.5), {"staircase": True}),
]


@pytest.mark.parametrize("name, args, kwargs", SCHEDULE_CASES)
def test_schedule_values_match_keras_over_steps(name, args, kwargs):
    ours, theirs = getattr(O, name)(*args, **kwargs), getattr(keras.optimizers.schedules, name)(*args, **kwargs)
    steps = range(20)
    expected = [float(keras.ops.convert_to_numpy(theirs(step))) for step in steps]
    np.testing.assert_allclose([ours(step) for step in steps], expected, rtol=1e-6, atol=1e-9)


SCHEDULED_OPTIMIZERS = [
    ("SGD", {"momentum": 0.9}, "ExponentialDecay", (0.1, 2, 0.5)),
    ("Adam", {}, "CosineDecay", (0.0, 4)),
    ("AdamW", {"weight_decay": 0.2}, "PiecewiseConstantDecay", ([1, 3], [0.1, 0.05, 0.01])),
    ("RMSprop", {"momentum": 0.5}, "InverseTimeDecay", (0.05, 1, 0.5)),
]


@pytest.mark.parametrize("name, kwargs, schedule, args", SCHEDULED_OPTIMIZERS)
def test_updates_with_a_learning_rate_schedule_match_keras(name, kwargs, schedule, args):
    extra = {"warmup_target": 0.1, "warmup_steps": 2} if schedule == "CosineDecay" else {}
    ours = getattr(O, name)(learning_rate=getattr(O, schedule)(*args, **extra), **kwargs)
    theirs = getattr(keras.optimizers, name)(
        learning_rate=getattr(keras.optimizers.schedules, schedule)(*args, **extra), **kwargs
    )
    assert_same_trajectory(ours, theirs, gradient_sequence(steps=6))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_updates_alike_through_torch_fused_kernel_and_the_foreach_path(amsgrad, monkeypatch):
    fused_calls = []
    fused = torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *args, **kwargs: fused_calls.append(1) or fused(*args, **kwargs))
    start = np.random.default_rng(3).standard_normal((4, 3)).astype("float32")
    contiguous = torch.nn.Parameter(torch.tensor(start))
    transposed = torch.nn.Parameter(torch.tensor(start.T.copy()).t())  # the same values, not contiguous: _foreach
    assert not transposed.is_contiguous()
    optimizers = [O.Adam(learning_rate=0.05, epsilon=0.1, amsgrad=amsgrad).build([p]) for p in (contiguous, transposed)]
    for step_gradients in gradient_sequence(steps=6, scale=2.0):
        gradient = torch.tensor(np.resize(step_gradients[0], (4, 3)))
        for param, optimizer in zip((contiguous, transposed), optimizers):
            param.grad = gradient.clone()
            optimizer.step()
    assert len(fused_calls) == 6  # the contiguous parameter's steps only
    assert np.abs(contiguous.detach().numpy() - start).max() > 0.01
    np.testing.assert_allclose(contiguous.detach().numpy(), transposed.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_training_a_dense_layer_with_backward_and_step_matches_keras():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 4)).astype("float32"), rng.standard_normal((8, 2)).astype("float32")
    theirs = keras.layers.Dense(2)
    theirs(x)
    ours = Dense(2)
    ours(torch.as_tensor(x))
    ours.set_weights(theirs.get_weights())
    optimizer = O.Adam(learning_rate=0.05, global_clipnorm=0.5).build(ours.parameters())
    keras_optimizer = keras.optimizers.Adam(learning_rate=0.05, global_clipnorm=0.5)
    for _ in range(5):
        optimizer.zero_grad()
        ((ours(torch.as_tensor(x)) - torch.as_tensor(y)) ** 2).mean().backward()
        optimizer.step()
        variables = theirs.trainable_variables
        keras_loss = ((theirs(torch.as_tensor(x)) - torch.as_tensor(y)) ** 2).mean()
        grads = torch.autograd.grad(keras_loss, [v.value for v in variables])
        keras_optimizer.apply_gradients(zip(grads, variables))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"])
def test_default_hyperparameters_equal_keras(name):
    ours, theirs = getattr(O, name)().get_config(), getattr(keras.optimizers, name)().get_config()
    ours.pop("name"), theirs.pop("name")
    assert ours.pop("learning_rate") == pytest.approx(theirs.pop("learning_rate"))
    assert ours == theirs


# -------------------------------------------------------------------------- clipping details
def test_clip_gradients_rescales_to_the_global_norm_without_stepping():
    params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]
    params[0].grad, params[1].grad = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 4.0])
    O.SGD(global_clipnorm=1.0).clip_gradients(params)
    assert torch.linalg.vector_norm(torch.cat([p.grad for p in params])).item() == pytest.approx(1.0)
    assert torch.allclose(params[0].grad, torch.tensor([0.6, 0.0, 0.0]))
    assert all(torch.equal(p.detach(), torch.zeros_like(p)) for p in params)


def test_clipnorm_leaves_gradients_inside_the_norm_unchanged():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([0.3, 0.4])
    O.SGD(clipnorm=1.0).clip_gradients([p])
    assert torch.equal(p.grad, torch.tensor([0.3, 0.4]))


def test_global_clipnorm_turns_an_infinite_gradient_into_nan_like_keras():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([float("inf"), 1.0])
    O.SGD(global_clipnorm=1.0).clip_gradients([p])
    assert torch.isnan(p.grad).all()


def test_more_than_one_clip_option_is_refused():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        O.Adam(clipnorm=1.0, global_clipnorm=1.0)


# ------------------------------------------------------------------------------- learning rate
def built(optimizer, *shapes):
    return optimizer.build([torch.nn.Parameter(torch.zeros(shape)) for shape in shapes or [(2,)]])


def test_learning_rate_setter_updates_every_param_group():
    optimizer = O.Adam().build([{"params": [torch.nn.Parameter(torch.zeros(2))]},
                                {"params": [torch.nn.Parameter(torch.zeros(3))], "lr": 0.5}])
    optimizer.learning_rate = 0.02
    assert optimizer.learning_rate == 0.02
    assert [group["lr"] for group in optimizer.param_groups] == [0.02, 0.02]


def test_learning_rate_follows_the_schedule_one_value_per_step():
    optimizer = built(O.SGD(learning_rate=O.PiecewiseConstantDecay([1], [0.1, 0.01])))
    seen = []
    for _ in range(3):
        seen.append(optimizer.learning_rate)
        optimizer.param_groups[0]["params"][0].grad = torch.ones(2)
        optimizer.step()
        assert optimizer.param_groups[0]["lr"] == seen[-1]
    assert seen == [0.1, 0.1, 0.01]


def test_a_plain_callable_of_the_step_is_a_schedule():
    optimizer = built(O.SGD(learning_rate=lambda step: 0.1 / (step + 1)))
    p = optimizer.param_groups[0]["params"][0]
    for _ in range(2):
        p.grad = torch.ones(2)
        optimizer.step()
    assert torch.allclose(p.detach(), torch.full((2,), -(0.1 + 0.05)))


def test_setting_a_float_on_a_scheduled_optimizer_raises_type_error_like_keras():
    optimizer = O.Adam(learning_rate=O.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError, match="schedule"):
        optimizer.learning_rate = 0.01


def test_a_torch_lr_scheduler_drives_the_learning_rate():
    optimizer = built(O.SGD(learning_rate=0.1))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.param_groups[0]["params"][0].grad = torch.ones(2)
    optimizer.step()
    scheduler.step()
    assert optimizer.learning_rate == pytest.approx(0.05)


def test_step_under_no_grad_runs_a_subclass_own_step():
    class Counting(O.SGD):
        def step(self, closure=None):
            self.counted = getattr(self, "counted", 0) + 1
            return super().step(closure)

    optimizer = built(Counting(learning_rate=0.1))
    optimizer.param_groups[0]["params"][0].grad = torch.ones(2)
    with torch.no_grad():
        step_under_no_grad(optimizer)
    assert optimizer.counted == 1 and optimizer.iterations == 1


@pytest.mark.parametrize("learning_rate", ["fast", None, True, torch.tensor(0.1)])
def test_learning_rate_of_the_wrong_type_is_refused(learning_rate):
    with pytest.raises(ValueError, match="learning_rate"):
        O.SGD(learning_rate=learning_rate)


# ----------------------------------------------------------------------------- torch side
def test_param_group_with_zero_weight_decay_is_not_decayed():
    decayed, kept = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    optimizer = O.AdamW(learning_rate=0.1, weight_decay=0.5).build(
        [{"params": [decayed]}, {"params": [kept], "weight_decay": 0.0}]
    )
    decayed.grad, kept.grad = torch.zeros(2), torch.zeros(2)
    optimizer.step()
    assert torch.allclose(decayed.detach(), torch.full((2,), 0.95))
    assert torch.equal(kept.detach(), torch.ones(2))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"])
def test_a_step_advances_the_version_counter_of_each_parameter_it_updates(name):
    """What is kept while a weight is unchanged (the greedy decoder's packed weights) and autograd's
    check of saved tensors watch the version counter; Adam's fused kernel writes around it."""
    weight, bias = torch.nn.Parameter(torch.ones(4, 3)), torch.nn.Parameter(torch.ones(3))
    optimizer = getattr(O, name)().build([weight, bias])
    versions = (weight._version, bias._version)
    weight.grad, bias.grad = torch.full((4, 3), 0.5), torch.full((3,), 0.5)
    optimizer.step()
    assert weight._version > versions[0] and bias._version > versions[1]


def test_adam_advances_the_version_counters_one_tensor_a_call_where_torch_takes_no_list(monkeypatch):
    """torch 2.4's increment_version takes one tensor (a list from 2.5)."""
    monkeypatch.setattr(O, "_VERSIONS_IN_ONE_CALL", False)
    taken, real = [], torch.autograd.graph.increment_version
    monkeypatch.setattr(torch.autograd.graph, "increment_version", lambda tensor: taken.append(tensor) or real(tensor))
    weight, bias = torch.nn.Parameter(torch.ones(4, 3)), torch.nn.Parameter(torch.ones(3))
    optimizer = O.Adam().build([weight, bias])
    weight.grad, bias.grad = torch.full((4, 3), 0.5), torch.full((3,), 0.5)
    optimizer.step()
    assert [t is p for t, p in zip(taken, (weight, bias))] == [True, True]
    assert weight._version > 0 and bias._version > 0


def test_step_leaves_parameters_without_gradient_untouched():
    optimizer = built(O.Adam(weight_decay=0.1), (2,), (3,))
    first, second = optimizer.param_groups[0]["params"]
    first.grad = torch.ones(2)
    optimizer.step()
    assert torch.equal(second.detach(), torch.zeros(3)) and second not in optimizer.state
    assert optimizer.iterations == 1


@pytest.mark.parametrize("name", ["Adam", "Nadam", "RMSprop"])
def test_state_dict_round_trip_continues_the_same_trajectory(name):
    gradients = gradient_sequence(steps=6)
    straight = run_ours(getattr(O, name)(learning_rate=0.05), gradients)

    params = [torch.nn.Parameter(torch.tensor(v)) for v in initial_values()]
    first = getattr(O, name)(learning_rate=0.05).build(params)
    second = getattr(O, name)(learning_rate=0.05).build(params)
    for step, step_gradients in enumerate(gradients):
        optimizer = first if step < 3 else second
        if step == 3:
            second.load_state_dict(copy.deepcopy(first.state_dict()))
        for p, g in zip(params, step_gradients):
            p.grad = torch.tensor(g)
        optimizer.step()
    assert second.iterations == 6
    for a, b in zip(params, straight):
        np.testing.assert_allclose(a.detach().numpy(), b, atol=1e-6)


def test_deepcopy_keeps_the_configuration_and_the_state():
    optimizer = built(O.Nadam(learning_rate=0.05, clipnorm=2.0))
    optimizer.param_groups[0]["params"][0].grad = torch.ones(2)
    optimizer.step()
    clone = copy.deepcopy(optimizer)
    assert clone.get_config() == optimizer.get_config()
    assert clone.iterations == 1 and clone.u_product == optimizer.u_product
    assert len(clone.state) == 1


def test_deepcopy_of_an_unbuilt_optimizer_keeps_its_configuration():
    assert copy.deepcopy(O.RMSprop(rho=0.8)).get_config() == O.RMSprop(rho=0.8).get_config()


def test_build_returns_the_optimizer_itself_as_a_torch_optimizer():
    optimizer = O.SGD()
    assert built(optimizer) is optimizer and isinstance(optimizer, torch.optim.Optimizer)


def test_building_again_on_the_same_parameters_is_a_no_op():
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = O.Adam().build(params)
    assert optimizer.build(params) is optimizer


def test_building_again_on_other_parameters_raises():
    optimizer = built(O.Adam())
    with pytest.raises(ValueError, match="already built on other parameters"):
        optimizer.build([torch.nn.Parameter(torch.zeros(2))])


def test_stepping_before_build_says_to_call_build():
    with pytest.raises(AttributeError, match=r"call build\(params\)"):
        O.Adam().step()


def test_step_returns_the_closure_loss():
    optimizer = built(O.SGD())
    p = optimizer.param_groups[0]["params"][0]

    def closure():
        loss = (p**2).sum() + 1.0
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 1.0


# ---------------------------------------------------------------------------- validation
def test_sgd_momentum_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match=r"momentum.*\[0, 1\]"):
        O.SGD(momentum=1.5)


def test_adamw_refuses_no_weight_decay():
    with pytest.raises(ValueError, match="weight_decay"):
        O.AdamW(weight_decay=None)


def test_unsupported_keras_features_are_refused_with_the_expected_value():
    with pytest.raises(ValueError, match="expected use_ema=False, got use_ema=True"):
        O.Adam(use_ema=True)


@pytest.mark.parametrize("schedule", ["ExponentialDecay", "InverseTimeDecay", "CosineDecay"])
def test_schedules_refuse_non_positive_decay_steps(schedule):
    args = (0.1, 0) if schedule == "CosineDecay" else (0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        getattr(O, schedule)(*args)


def test_piecewise_constant_decay_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="one more value than boundaries"):
        O.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


# -------------------------------------------------------------------------- get_optimizer
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adamw", "adagrad", "nadam", "Adam"])
def test_get_optimizer_by_name_builds_it_with_keras_defaults(name):
    optimizer = O.get_optimizer(name, [torch.nn.Parameter(torch.zeros(2))])
    keras_optimizer = keras.optimizers.get(name.lower())
    assert type(optimizer).__name__ == type(keras_optimizer).__name__
    assert optimizer.learning_rate == pytest.approx(float(keras_optimizer.learning_rate))
    assert optimizer.param_groups[0]["lr"] == optimizer.learning_rate


def test_get_optimizer_returns_a_torch_optimizer_unchanged():
    torch_optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    assert O.get_optimizer(torch_optimizer, []) is torch_optimizer


def test_get_optimizer_builds_an_rnnkit_optimizer_on_the_params():
    params = [torch.nn.Parameter(torch.zeros(2))]
    optimizer = O.Adam(learning_rate=0.01)
    assert O.get_optimizer(optimizer, params) is optimizer
    assert optimizer.param_groups[0]["params"] == params


def test_get_optimizer_reads_a_keras_serialized_optimizer():
    spec = keras.optimizers.serialize(keras.optimizers.RMSprop(learning_rate=0.02, momentum=0.5, clipvalue=1.0))
    optimizer = O.get_optimizer(spec, [torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(optimizer, O.RMSprop)
    assert (optimizer.momentum, optimizer.clipvalue) == (0.5, 1.0)
    assert optimizer.learning_rate == pytest.approx(0.02)


def test_unknown_optimizer_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adma'\. Did you mean 'adam'"):
        O.get_optimizer("adma", [torch.nn.Parameter(torch.zeros(2))])


def test_get_optimizer_refuses_other_types():
    with pytest.raises(ValueError, match="Expected an optimizer name"):
        O.get_optimizer(3, [])


# -------------------------------------------------------------------------------- configs
CONFIG_CASES = [
    O.SGD(learning_rate=0.1, momentum=0.9, nesterov=True, clipnorm=1.0, name="my_sgd"),
    O.Adam(learning_rate=O.CosineDecay(0.0, 10, warmup_target=0.1, warmup_steps=3), amsgrad=True,
           global_clipnorm=2.0),
    O.AdamW(weight_decay=0.01, beta_1=0.8, clipvalue=0.5),
    O.RMSprop(learning_rate=O.ExponentialDecay(0.1, 5, 0.9, staircase=True), centered=True, momentum=0.2),
    O.Adagrad(learning_rate=O.PiecewiseConstantDecay([3], [0.1, 0.01]), initial_accumulator_value=0.3),
    O.Nadam(learning_rate=O.InverseTimeDecay(0.1, 2, 0.5), epsilon=1e-6, weight_decay=0.1),
]


@pytest.mark.parametrize("optimizer", CONFIG_CASES, ids=lambda o: type(o).__name__)
def test_config_round_trip_rebuilds_an_equal_optimizer(optimizer):
    config = optimizer.get_config()
    rebuilt = type(optimizer).from_config(config)
    assert rebuilt.get_config() == config
    assert type(rebuilt._learning_rate) is type(optimizer._learning_rate)


def test_get_config_saves_the_current_learning_rate_after_it_was_set():
    optimizer = built(O.Adam())
    optimizer.learning_rate = 3e-4
    assert optimizer.get_config()["learning_rate"] == 3e-4


def test_get_config_of_a_plain_callable_learning_rate_raises():
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        O.SGD(learning_rate=lambda step: 0.1).get_config()


def test_unknown_schedule_in_a_config_is_refused():
    with pytest.raises(ValueError, match="Unknown learning-rate schedule 'Mystery'"):
        O.SGD.from_config({"learning_rate": {"class_name": "Mystery", "config": {}}})


# ------------------------------------------------------------------------------ public API
def test_rnnkit_optimizers_mirrors_the_keras_names():
    assert rnnkit.optimizers is O
    assert O.schedules.ExponentialDecay is O.ExponentialDecay


def test_public_api_has_docstrings():
    for name in O.__all__:
        obj = getattr(O, name)
        if callable(obj):
            assert obj.__doc__, name
    for method in ("build", "step", "clip_gradients", "get_config", "from_config", "state_dict"):
        assert getattr(O.Optimizer, method).__doc__, method
    assert O.Optimizer.learning_rate.__doc__


def test_docstring_examples_run():
    result = doctest.testmod(O, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
