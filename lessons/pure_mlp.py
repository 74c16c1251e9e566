"""The digits network of ``lessons.neural`` in plain Python: its forward pass without NumPy.

This is how the trained network recognizes digits in the reader's browser (Pyodide, with
no NumPy there). It computes what ``neural.forward`` computes, for one image, with lists of
floats: each neuron is one dot product of its weights with the layer's inputs, plus its bias.

    model = PureMLP.from_json(text, sha256)   # the file that ``neural.export`` wrote
    output = model.forward(pixels)            # 64 pixel values from 0 to 16
    output.probabilities, output.hidden       # per digit; per hidden neuron
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from dataclasses import dataclass

PIXEL_MAX = 16  # a pixel of the digits counts the inked dots of a 4x4 block: 0 to 16

Vector = list[float]


class NetworkFileError(ValueError):
    """The network's file is damaged or not a network; the message says which."""


def dot(a: Vector, b: Vector) -> float:
    """Multiply pairwise and add up: a[0]*b[0] + a[1]*b[1] + ..."""
    return sum(map(operator.mul, a, b))


def softmax(scores: Vector) -> Vector:
    """Scores as probabilities: e to the power of each score, divided by the sum."""
    top = max(scores)
    powers = [math.exp(score - top) for score in scores]  # the same result, without overflow
    total = sum(powers)
    return [power / total for power in powers]


@dataclass(frozen=True)
class Output:
    """What the network computed for one image."""

    probabilities: Vector  # one per digit, 0 to 9
    hidden: list[Vector]  # each hidden layer's activations, one per neuron


@dataclass
class PureMLP:
    """Layers of (weights, biases); ``weights[j]`` are neuron j's weights, one per input."""

    layers: list[tuple[list[Vector], Vector]]

    @classmethod
    def from_json(cls, text: str | bytes, sha256: str | None = None) -> PureMLP:
        """The network from ``neural.export``'s JSON, checked against its SHA-256 if given."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise NetworkFileError(
                "The network's file is not the one the site was built with (its SHA-256 "
                "differs). Reload the page."
            )
        try:
            spec = json.loads(data)
            layers = [(layer["weights"], layer["biases"]) for layer in spec["layers"]]
        except (ValueError, KeyError, TypeError) as error:
            raise NetworkFileError(f"This is not a network file: {error}") from None
        if spec.get("pixel_max") != PIXEL_MAX:
            raise NetworkFileError(f"The network expects pixels up to {PIXEL_MAX}.")
        return cls(layers)

    def forward(self, pixels: Vector) -> Output:
        """The probability of each digit for 64 pixel values (0 to 16), and what lit up inside."""
        inputs = len(self.layers[0][0][0])  # the first neuron's weights
        if len(pixels) != inputs:
            raise ValueError(f"The network reads {inputs} pixels, not {len(pixels)}.")
        x = [pixel / PIXEL_MAX for pixel in pixels]
        hidden = []
        for weights, biases in self.layers[:-1]:
            x = [
                max(dot(row, x) + bias, 0.0) for row, bias in zip(weights, biases, strict=True)
            ]  # ReLU
            hidden.append(x)
        weights, biases = self.layers[-1]
        scores = [dot(row, x) + bias for row, bias in zip(weights, biases, strict=True)]
        return Output(softmax(scores), hidden)
