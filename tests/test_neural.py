"""The NumPy network: data split, forward, backward (checked against PyTorch's autograd),
training to the lesson's accuracy, the export for the browser, and the lesson's figures."""

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from lessons import neural, plots
from lessons.pure_mlp import PureMLP


@pytest.fixture(scope="module")
def data():
    return neural.load_digits()


@pytest.fixture(scope="module")
def trained(data):
    return neural.train(data)


def tiny_network() -> list[neural.Layer]:
    """2 inputs, 2 hidden neurons, 2 outputs, with weights easy to follow by hand."""
    return [
        neural.Layer(np.array([[1.0, -1.0], [2.0, 1.0]]), np.array([0.0, 0.5])),
        neural.Layer(np.array([[1.0, 0.0], [0.0, 2.0]]), np.array([0.0, 0.0])),
    ]


def test_digits_are_split_once_seeded(data):
    assert data.train_images.shape == (1438, 64) and data.test_images.shape == (359, 64)
    assert data.train_images.min() == 0 and data.train_images.max() == neural.PIXEL_MAX
    labels = np.concatenate([data.train_labels, data.test_labels])
    assert np.bincount(labels).sum() == 1797 and set(labels) == set(range(10))
    again = neural.load_digits()
    assert np.array_equal(again.test_images, data.test_images)
    assert not np.array_equal(neural.load_digits(seed=1).test_labels, data.test_labels)


def test_init_gives_seeded_layers_of_the_right_shapes():
    network = neural.init((64, 32, 16, 10), np.random.default_rng(3))
    assert [layer.weights.shape for layer in network] == [(64, 32), (32, 16), (16, 10)]
    assert all(not layer.biases.any() for layer in network)
    assert network[0].weights.std() == pytest.approx(math.sqrt(2 / 64), rel=0.1)
    again = neural.init((64, 32, 16, 10), np.random.default_rng(3))
    assert np.array_equal(again[2].weights, network[2].weights)


def test_relu_and_softmax():
    assert neural.relu(np.array([-2.0, 0.0, 3.0])).tolist() == [0.0, 0.0, 3.0]
    probabilities = neural.softmax(np.array([[0.0, math.log(3.0)], [1000.0, 1000.0]]))
    assert probabilities == pytest.approx(np.array([[0.25, 0.75], [0.5, 0.5]]))


def test_forward_by_hand():
    pixels = np.array([[16.0, 8.0]])  # scaled to 1 and 0.5
    result = neural.forward(tiny_network(), pixels)
    # hidden sums: 1*1 + 0.5*2 = 2 and 1*-1 + 0.5*1 + 0.5 = 0; ReLU keeps both
    assert result.activations[1].tolist() == [[2.0, 0.0]]
    # scores: 2 and 0
    expected = [math.exp(2) / (math.exp(2) + 1), 1 / (math.exp(2) + 1)]
    assert result.probabilities.tolist()[0] == pytest.approx(expected)
    assert neural.cross_entropy(result.probabilities, np.array([1])) == pytest.approx(
        -math.log(expected[1])
    )


def test_cross_entropy_of_a_know_nothing_network_is_log_10():
    uniform = np.full((5, 10), 0.1)
    assert neural.cross_entropy(uniform, np.arange(5)) == pytest.approx(math.log(10))


def test_backward_equals_pytorch_autograd(data):
    """Our hand-written gradients against PyTorch's autograd, on a network with two hidden
    layers and a batch of real digits, all in float64."""
    network = neural.init((64, 24, 16, 10), np.random.default_rng(7))
    for layer in network:  # non-zero biases, so their gradients are tested in earnest
        layer.biases += np.random.default_rng(8).normal(0, 0.1, layer.biases.shape)
    images, labels = data.train_images[:50], data.train_labels[:50]
    ours = neural.backward(network, neural.forward(network, images), labels)

    params = [
        (
            torch.tensor(layer.weights, requires_grad=True),
            torch.tensor(layer.biases, requires_grad=True),
        )
        for layer in network
    ]
    x = torch.tensor(images / neural.PIXEL_MAX)
    for index, (weights, biases) in enumerate(params):
        x = x @ weights + biases
        if index < len(params) - 1:
            x = torch.relu(x)
    torch.nn.functional.cross_entropy(x, torch.tensor(labels)).backward()
    for mine, (weights, biases) in zip(ours, params, strict=True):
        assert np.abs(mine.weights - weights.grad.numpy()).max() < 1e-12
        assert np.abs(mine.biases - biases.grad.numpy()).max() < 1e-12
    assert np.abs(ours[0].weights).max() > 1e-3  # the check compared real numbers


def test_a_step_of_gradient_descent_lowers_the_loss(data):
    network = neural.init((64, 32, 10), np.random.default_rng(0))
    images, labels = data.train_images[:100], data.train_labels[:100]
    before = neural.forward(network, images)
    neural.sgd_step(network, neural.backward(network, before, labels), learning_rate=0.1)
    after = neural.forward(network, images)
    loss_before = neural.cross_entropy(before.probabilities, labels)
    assert neural.cross_entropy(after.probabilities, labels) < loss_before


def test_batches_cover_every_example_once():
    batches = neural.batches(10, 4, np.random.default_rng(0))
    assert [len(batch) for batch in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))


def test_training_reaches_the_lesson_accuracy(trained):
    """The lesson claims at least 95 % on the test digits with the default settings (seed 0)."""
    history = trained.history
    assert len(history.test_accuracy) == neural.TrainConfig().epochs + 1
    assert history.test_accuracy[0] < 0.3  # random weights: about one in ten right
    assert history.test_accuracy[-1] >= 0.95
    assert history.train_loss[-1] < history.train_loss[0] / 10


def test_training_is_reproducible(data, trained):
    config = neural.TrainConfig(epochs=2)
    first, second = neural.train(data, config), neural.train(data, config)
    assert np.array_equal(first.network[0].weights, second.network[0].weights)
    other = neural.train(data, neural.TrainConfig(epochs=2, seed=1))
    assert not np.array_equal(first.network[0].weights, other.network[0].weights)


def test_predict_and_confusion_matrix(data, trained):
    predicted = neural.predict(trained.network, data.test_images)
    counts = neural.confusion_matrix(data.test_labels, predicted)
    assert counts.sum() == len(data.test_labels)
    assert np.trace(counts) == (predicted == data.test_labels).sum()
    assert np.array_equal(counts.sum(axis=1), np.bincount(data.test_labels, minlength=10))
    assert neural.confusion_matrix(np.array([3, 3]), np.array([3, 5]))[3].tolist() == [
        0, 0, 0, 1, 0, 1, 0, 0, 0, 0
    ]  # fmt: skip


def test_export_for_the_browser(tmp_path, data, trained):
    entry = neural.export(trained.network, tmp_path / "digits" / "network.json")
    data_bytes = (tmp_path / "digits" / "network.json").read_bytes()
    assert entry == {"bytes": len(data_bytes), "sha256": hashlib.sha256(data_bytes).hexdigest()}
    spec = json.loads(data_bytes)
    assert [len(layer["weights"]) for layer in spec["layers"]] == [32, 10]  # a row per neuron
    model = PureMLP.from_json(data_bytes, entry["sha256"])
    weights, biases = model.layers[0]
    assert weights == trained.network[0].weights.T.tolist()  # every digit of every weight
    assert biases == trained.network[0].biases.tolist()


def test_training_curve_confusion_and_digit_figures(data, trained):
    history = trained.history
    epochs = list(range(len(history.test_accuracy)))
    fig = plots.line_chart({"test": (epochs, history.test_accuracy)}, percent=True)
    assert "<svg" in plots.figure(fig, "Kurve")
    predicted = neural.predict(trained.network, data.test_images)
    counts = neural.confusion_matrix(data.test_labels, predicted)
    fig = plots.confusion_chart(counts, [str(d) for d in range(10)], xlabel="guess")
    assert len(fig.axes[0].texts) == np.count_nonzero(counts)  # a number in every used cell
    html = plots.figure(fig, "Verwechslungen")
    assert html.startswith('<figure class="lesson-figure"><svg role="img"')
    fig = plots.image_grid(data.test_images[:12], [str(d) for d in data.test_labels[:12]])
    assert sum(len(ax.images) for ax in fig.axes) == 12 and len(fig.axes) == 20  # 2 rows of 10
    fig = plots.image_grid(trained.network[0].weights.T[:4], columns=4, signed=True)
    low, high = fig.axes[0].images[0].get_clim()
    assert low == -high  # white is 0
    assert plots.svg(fig, "w").count("<image") == 4
