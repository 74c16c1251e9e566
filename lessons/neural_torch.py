"""The digits network of ``lessons.neural`` once more, in PyTorch: what a framework does for you.

In ``lessons.neural`` we wrote the backward pass and the update step by hand. Here PyTorch
builds the layers (``nn.Linear``), finds the gradients itself (*autograd*: it records every
operation of the forward pass and applies the chain rule backwards when we call
``loss.backward()``), and an *optimizer* (``torch.optim.SGD``) makes the step. Trained the
same way, from the same first weights on the same batches in float64, it learns the same
network, up to rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from lessons import neural


def build(network: list[neural.Layer]) -> nn.Sequential:
    """A PyTorch network with the layers and weights of a NumPy one, in float64."""
    modules: list[nn.Module] = []
    for layer in network:
        linear = nn.Linear(*layer.weights.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weights.T))  # PyTorch stores (out, in)
            linear.bias.copy_(torch.from_numpy(layer.biases))
        modules += [linear, nn.ReLU()]
    return nn.Sequential(*modules[:-1])  # no ReLU after the last layer: its scores go to softmax


def to_numpy(model: nn.Sequential) -> list[neural.Layer]:
    """The weights of a ``build`` network as NumPy layers, for ``lessons.neural``'s functions."""
    return [
        neural.Layer(module.weight.detach().numpy().T.copy(), module.bias.detach().numpy().copy())
        for module in model
        if isinstance(module, nn.Linear)
    ]


@contextmanager
def one_thread() -> Iterator[None]:
    """Let PyTorch use one thread: with matrices this small, a second one only waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train(data: neural.Digits, config: neural.TrainConfig) -> neural.Trained:
    """``neural.train`` with autograd and an optimizer instead of hand-written gradients.

    The same seed gives the same first weights and the same batches as ``neural.train``;
    loss and accuracy are measured by the same code, so the two histories compare.
    """
    rng = np.random.default_rng(config.seed)
    model = build(neural.init(config.sizes, rng))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    images = torch.from_numpy(data.train_images / neural.PIXEL_MAX)
    labels = torch.from_numpy(data.train_labels)
    history = neural.History()
    history.record(to_numpy(model), data)
    with one_thread():
        for _ in range(config.epochs):
            for batch in neural.batches(len(labels), config.batch_size, rng):
                batch = torch.from_numpy(batch)
                loss = functional.cross_entropy(model(images[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()  # autograd: every gradient at once
                optimizer.step()  # every weight -= learning_rate * its gradient
            history.record(to_numpy(model), data)
    return neural.Trained(to_numpy(model), history)
