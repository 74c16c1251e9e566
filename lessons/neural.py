"""A neural network from scratch in NumPy: neurons, layers, and learning by gradient descent.

A *neuron* multiplies each of its inputs by a weight, adds them up with a bias, and passes the
sum through an *activation function* (here ReLU: negative sums become 0). A *layer* is many
neurons side by side, all computed at once as one matrix product; a network is layers one
after another. The last layer gives one score per digit, and softmax turns the scores into
probabilities.

The network learns by *supervised learning*: it sees examples whose right answer (the label)
is known, measures how wrong it is (the *loss*, here cross-entropy), and nudges every weight a
little in the direction that lowers the loss (*gradient descent*). *Backpropagation* finds that
direction for all weights at once: the chain rule, applied from the output back, layer by
layer. Lesson 4 trains such a network on scikit-learn's 8x8 images of handwritten digits;
``lessons.neural_torch`` builds the same network with PyTorch, ``lessons.pure_mlp`` runs it in
the reader's browser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn import datasets

from lessons.pure_mlp import PIXEL_MAX

PIXELS = 64  # an 8x8 image, row by row
DIGITS = 10


@dataclass
class Digits:
    """The 8x8 digits, split once at random (seeded) into training and test examples.

    Images are rows of 64 pixel values from 0 (white) to 16 (black); labels are the digits.
    The network never learns from the test examples: they show how well it does on
    handwriting it has never seen.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_digits(test_share: float = 0.2, seed: int = 0) -> Digits:
    """scikit-learn's 1,797 digits (bundled, no download), shuffled with ``seed`` and split."""
    bunch = datasets.load_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))
    test = round(len(order) * test_share)
    images, labels = bunch.data[order], bunch.target[order]
    return Digits(images[test:], labels[test:], images[:test], labels[:test])


@dataclass
class Layer:
    """A layer of neurons: column j of ``weights`` holds neuron j's weight for each input."""

    weights: np.ndarray  # (inputs, neurons)
    biases: np.ndarray  # (neurons,)


def init(sizes: Sequence[int], rng: np.random.Generator) -> list[Layer]:
    """Layers of ``sizes`` (inputs, hidden..., outputs) with small random weights, zero biases.

    The weights' spread, sqrt(2 / inputs), keeps the sums about the same size from layer to
    layer (He initialisation, made for ReLU); all zeros would make every neuron the same.
    """
    return [
        Layer(rng.normal(0.0, np.sqrt(2.0 / inputs), (inputs, neurons)), np.zeros(neurons))
        for inputs, neurons in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def relu(sums: np.ndarray) -> np.ndarray:
    """The activation function ReLU: a neuron passes a positive sum on and silences a negative."""
    return np.maximum(sums, 0.0)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Each row of scores as probabilities: e to the power of each score, divided by the sum."""
    shifted = scores - scores.max(axis=-1, keepdims=True)  # the same result, without overflow
    powers = np.exp(shifted)
    return powers / powers.sum(axis=-1, keepdims=True)


@dataclass
class Pass:
    """What a forward pass computed: every layer's input, kept for backpropagation, and the
    output probabilities (one row per image, one column per digit)."""

    activations: list[np.ndarray]  # the scaled pixels, then each hidden layer's output
    probabilities: np.ndarray


def forward(network: list[Layer], pixels: np.ndarray) -> Pass:
    """Run images (rows of 64 pixels, 0 to 16) through the network, layer by layer."""
    x = np.asarray(pixels, dtype=float) / PIXEL_MAX  # inputs from 0 to 1
    activations = [x]
    for layer in network[:-1]:
        x = relu(x @ layer.weights + layer.biases)
        activations.append(x)
    scores = x @ network[-1].weights + network[-1].biases
    return Pass(activations, softmax(scores))


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The loss: the mean of -log(probability given to the right digit).

    0 when the network gives the right digit 100 %, and the less it gives it, the larger.
    """
    right = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(right).mean())


def backward(network: list[Layer], result: Pass, labels: np.ndarray) -> list[Layer]:
    """Backpropagation: the gradient of the loss for every weight and bias, layer by layer.

    ``delta`` is how much the loss changes with each neuron's sum. At the output that is
    simply probabilities minus the right answers (softmax and cross-entropy together); a
    layer's weights get ``inputs.T @ delta``, and ``delta`` goes back through the weights and
    the ReLU (which passes it only where the neuron was active) to the layer before.
    """
    delta = result.probabilities.copy()
    delta[np.arange(len(labels)), labels] -= 1.0
    delta /= len(labels)  # the loss is a mean over the batch
    gradients = [None] * len(network)
    for index in reversed(range(len(network))):
        inputs = result.activations[index]
        gradients[index] = Layer(inputs.T @ delta, delta.sum(axis=0))
        if index > 0:
            delta = (delta @ network[index].weights.T) * (inputs > 0)
    return gradients


def sgd_step(network: list[Layer], gradients: list[Layer], learning_rate: float) -> None:
    """One step of gradient descent: every weight moves a little against its gradient."""
    for layer, gradient in zip(network, gradients, strict=True):
        layer.weights -= learning_rate * gradient.weights
        layer.biases -= learning_rate * gradient.biases


def batches(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The indices 0..count-1 shuffled and cut into mini-batches: one epoch of training."""
    order = rng.permutation(count)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


@dataclass(frozen=True)
class TrainConfig:
    """How the network is built and trained; the same settings give the same network."""

    hidden: tuple[int, ...] = (32,)  # neurons per hidden layer
    epochs: int = 30  # passes over all training examples
    batch_size: int = 32  # examples per step
    learning_rate: float = 0.1
    seed: int = 0  # the random weights at the start and the order of the examples

    @property
    def sizes(self) -> tuple[int, ...]:
        """Neurons per layer, with the inputs first: (64, *hidden, 10)."""
        return (PIXELS, *self.hidden, DIGITS)


@dataclass
class History:
    """Loss and accuracy on the training and the test examples, after every epoch (0: before)."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)

    def record(self, network: list[Layer], data: Digits) -> None:
        """Measure ``network`` on all training and all test examples, and append the figures."""
        for images, labels, loss, accuracy in [
            (data.train_images, data.train_labels, self.train_loss, self.train_accuracy),
            (data.test_images, data.test_labels, self.test_loss, self.test_accuracy),
        ]:
            probabilities = forward(network, images).probabilities
            loss.append(cross_entropy(probabilities, labels))
            accuracy.append(float((probabilities.argmax(axis=1) == labels).mean()))


@dataclass
class Trained:
    """A trained network and how it got there."""

    network: list[Layer]
    history: History


def train(data: Digits, config: TrainConfig = TrainConfig()) -> Trained:
    """Mini-batch gradient descent: for every batch, forward, backward, one step. Seeded."""
    rng = np.random.default_rng(config.seed)
    network = init(config.sizes, rng)
    history = History()
    history.record(network, data)
    for _ in range(config.epochs):
        for batch in batches(len(data.train_labels), config.batch_size, rng):
            result = forward(network, data.train_images[batch])
            gradients = backward(network, result, data.train_labels[batch])
            sgd_step(network, gradients, config.learning_rate)
        history.record(network, data)
    return Trained(network, history)


def predict(network: list[Layer], pixels: np.ndarray) -> np.ndarray:
    """The most likely digit for each image."""
    return forward(network, pixels).probabilities.argmax(axis=1)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """counts[right digit, predicted digit]: the diagonal is right, everything else a mistake."""
    counts = np.zeros((DIGITS, DIGITS), dtype=int)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def to_json(network: list[Layer]) -> str:
    """The network as JSON for ``lessons.pure_mlp``: per layer, each neuron's weights and bias.

    Python writes every float with all its digits, so the browser reads the very same numbers.
    """
    layers = [
        {"weights": layer.weights.T.tolist(), "biases": layer.biases.tolist()} for layer in network
    ]
    return json.dumps({"pixel_max": PIXEL_MAX, "layers": layers}, separators=(",", ":"))


def export(network: list[Layer], path: Path) -> dict:
    """Write ``to_json(network)`` to ``path``; its size and SHA-256 for the site's manifest."""
    data = to_json(network).encode("utf-8")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
