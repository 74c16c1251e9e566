"""The browser's forward pass: the same probabilities as NumPy's, and a checked network file."""

import hashlib
import math

import numpy as np
import pytest

from lessons import neural, pure_mlp
from lessons.pure_mlp import NetworkFileError, PureMLP


@pytest.fixture(scope="module")
def data():
    return neural.load_digits()


@pytest.fixture(scope="module")
def network(data):
    return neural.train(data, neural.TrainConfig(epochs=3)).network


def test_softmax_and_dot():
    assert pure_mlp.dot([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == 32.0
    assert pure_mlp.softmax([0.0, math.log(3.0)]) == pytest.approx([0.25, 0.75])
    assert pure_mlp.softmax([1000.0, 1000.0]) == [0.5, 0.5]  # no overflow


def test_same_probabilities_and_activations_as_numpy(data, network):
    """Every test digit: the pure-Python pass agrees with NumPy to 1e-12."""
    model = PureMLP.from_json(neural.to_json(network))
    result = neural.forward(network, data.test_images)
    for index, image in enumerate(data.test_images):
        output = model.forward(image.tolist())
        assert np.abs(np.array(output.probabilities) - result.probabilities[index]).max() < 1e-12
        assert np.abs(np.array(output.hidden[0]) - result.activations[1][index]).max() < 1e-12


def test_more_hidden_layers(data):
    network = neural.init((64, 20, 12, 10), np.random.default_rng(1))
    output = PureMLP.from_json(neural.to_json(network)).forward(data.test_images[0].tolist())
    assert [len(layer) for layer in output.hidden] == [20, 12]
    expected = neural.forward(network, data.test_images[:1]).probabilities[0]
    assert output.probabilities == pytest.approx(expected.tolist(), abs=1e-12)


def test_the_file_is_checked(network):
    text = neural.to_json(network)
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert PureMLP.from_json(text.encode(), digest).layers[1][1] == network[1].biases.tolist()
    with pytest.raises(NetworkFileError, match="SHA-256"):
        PureMLP.from_json(text.replace("1", "2", 1), digest)
    with pytest.raises(NetworkFileError, match="not a network file"):
        PureMLP.from_json('{"layers": 3}')
    with pytest.raises(NetworkFileError, match="pixels up to 16"):
        PureMLP.from_json('{"pixel_max": 255, "layers": []}')


def test_wrong_number_of_pixels(network):
    with pytest.raises(ValueError, match="reads 64 pixels, not 63"):
        PureMLP.from_json(neural.to_json(network)).forward([0.0] * 63)
