"""The same network in PyTorch: the same weights give the same output, and trained the same
way it learns the same network as the hand-written NumPy version."""

import numpy as np
import pytest
import torch

from lessons import neural, neural_torch


@pytest.fixture(scope="module")
def data():
    return neural.load_digits()


def test_build_copies_the_layers_and_weights(data):
    network = neural.init((64, 16, 10), np.random.default_rng(0))
    model = neural_torch.build(network)
    assert [type(module).__name__ for module in model] == ["Linear", "ReLU", "Linear"]
    with torch.no_grad():
        scores = model(torch.tensor(data.test_images[:20] / neural.PIXEL_MAX))
    expected = neural.forward(network, data.test_images[:20]).probabilities
    assert np.abs(torch.softmax(scores, dim=1).numpy() - expected).max() < 1e-12
    back = neural_torch.to_numpy(model)
    assert all(np.array_equal(a.weights, b.weights) for a, b in zip(back, network, strict=True))


def test_trained_the_same_way_it_learns_the_same_network(data):
    config = neural.TrainConfig(epochs=3)
    ours, theirs = neural.train(data, config), neural_torch.train(data, config)
    for a, b in zip(ours.network, theirs.network, strict=True):
        assert np.abs(a.weights - b.weights).max() < 1e-9
    assert ours.history.test_accuracy == theirs.history.test_accuracy


def test_training_leaves_the_thread_setting_alone(data):
    threads = torch.get_num_threads()
    neural_torch.train(data, neural.TrainConfig(epochs=1))
    assert torch.get_num_threads() == threads
