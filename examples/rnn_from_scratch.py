"""A recurrent network from scratch in NumPy: the seed tutorial's sine-wave forecaster, done right.

    .venv/bin/python examples/rnn_from_scratch.py            # about ten seconds
    .venv/bin/python examples/rnn_from_scratch.py --quick    # a few epochs

One SimpleRNN layer reads a window of a sine wave and a dense layer predicts the next value:

    h_t   = tanh(x_t W + h_{t-1} U + b)        h_0 = 0
    y_hat = h_T V + c
    loss  = mean((y_hat - y)^2)

Backpropagation through time walks the same steps backwards. With a = x_t W + h_{t-1} U + b:

    dV = h_T^T dy_hat      dc = sum(dy_hat)      dh_T = dy_hat V^T
    da_t = dh_t * (1 - h_t^2)
    dW += x_t^T da_t       dU += h_{t-1}^T da_t   db += sum(da_t)      dh_{t-1} = da_t U^T

Truncated BPTT stops after the last k steps (earlier states are treated as constants), and
gradient clipping rescales all gradients together when their global norm exceeds a limit.

The script checks its gradients against rnnkit's (the same weights in Keras's layout: kernel W,
recurrent_kernel U, bias b, then Dense's V and c), then trains both side by side with SGD,
truncated BPTT and clipping, and prints the two losses epoch by epoch: they agree.
"""
import argparse

import numpy as np
import torch

import rnnkit
from rnnkit import layers


def sine_windows(steps, count, rng):
    """Windows of `steps` values of a sine wave (random phases) and the value that follows each."""
    start = rng.uniform(0, 2 * np.pi, size=(count, 1))
    t = start + 0.2 * np.arange(steps + 1)
    wave = np.sin(t)
    return wave[:, :steps, None], wave[:, steps:]


class NumpyRNN:
    """SimpleRNN(units) + Dense(1) on inputs of shape (batch, time, features), in float64."""

    def __init__(self, features, units, rng):
        limit = np.sqrt(6 / (features + units))
        self.W = rng.uniform(-limit, limit, (features, units))
        self.U = np.linalg.qr(rng.standard_normal((units, units)))[0]  # orthogonal, as Keras starts it
        self.b = np.zeros(units)
        self.V = rng.uniform(-np.sqrt(6 / (units + 1)), np.sqrt(6 / (units + 1)), (units, 1))
        self.c = np.zeros(1)

    def weights(self):
        return [self.W, self.U, self.b, self.V, self.c]

    def forward(self, x):
        """The predictions and every hidden state (hs[0] is h_0 = 0, hs[t] the state after step t)."""
        batch, steps, _ = x.shape
        hs = np.zeros((steps + 1, batch, self.U.shape[0]))
        for t in range(steps):
            hs[t + 1] = np.tanh(x[:, t] @ self.W + hs[t] @ self.U + self.b)
        return hs[-1] @ self.V + self.c, hs

    def loss_and_gradients(self, x, y, truncate=None):
        """The mean squared error and its gradients; `truncate=k` backpropagates through the last k steps."""
        y_hat, hs = self.forward(x)
        loss = np.mean((y_hat - y) ** 2)
        dy = 2 * (y_hat - y) / y.size
        dW, dU, db = np.zeros_like(self.W), np.zeros_like(self.U), np.zeros_like(self.b)
        dh = dy @ self.V.T
        steps = x.shape[1]
        first = steps - truncate if truncate else 0
        for t in range(steps - 1, first - 1, -1):
            da = dh * (1 - hs[t + 1] ** 2)
            dW += x[:, t].T @ da
            dU += hs[t].T @ da
            db += da.sum(axis=0)
            dh = da @ self.U.T
        return loss, [dW, dU, db, hs[-1].T @ dy, dy.sum(axis=0)]

    def sgd_step(self, gradients, learning_rate, clipnorm):
        """One SGD step after clipping the gradients' global norm to `clipnorm`."""
        norm = np.sqrt(sum(np.sum(g * g) for g in gradients))
        scale = clipnorm / max(norm, clipnorm)
        for weight, gradient in zip(self.weights(), gradients):
            weight -= learning_rate * scale * gradient


def rnnkit_twin(numpy_rnn, steps):
    """The same network in rnnkit, in float64, with the NumPy network's weights."""
    features, units = numpy_rnn.W.shape
    model = rnnkit.Sequential([
        rnnkit.Input((steps, features), dtype="float64"),
        layers.SimpleRNN(units, dtype="float64"),
        layers.Dense(1, dtype="float64"),
    ])
    model.set_weights(numpy_rnn.weights())
    return model


def rnnkit_gradients(model, x, y, truncate=None):
    """rnnkit's loss and gradients in Keras weight order; with `truncate=k` the state entering the last
    k steps is computed without gradient, which is what truncated BPTT means for one target per window."""
    rnn, dense = model.layers
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    initial_state = None
    if truncate:
        with torch.no_grad():
            initial_state = [rnn(x[:, :-truncate])]
        x = x[:, -truncate:]
    loss = torch.mean((dense(rnn(x, initial_state=initial_state)) - y) ** 2)
    weights = [rnn.cell.kernel, rnn.cell.recurrent_kernel, rnn.cell.bias, dense.kernel, dense.bias]
    return loss.item(), [g.numpy() for g in torch.autograd.grad(loss, weights)]


def check_gradients(numpy_rnn, model, x, y, truncate):
    full, cut = (numpy_rnn.loss_and_gradients(x, y, truncate=k)[1][1] for k in (None, truncate))
    print(f"truncating to the last {truncate} steps changes dU by {np.linalg.norm(full - cut) / np.linalg.norm(full):.1%}")
    for label, k in (("full BPTT", None), (f"truncated BPTT (last {truncate} steps)", truncate)):
        ours, numpy_grads = numpy_rnn.loss_and_gradients(x, y, truncate=k)
        theirs, torch_grads = rnnkit_gradients(model, x, y, truncate=k)
        worst = max(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12) for a, b in zip(numpy_grads, torch_grads))
        print(f"{label}: loss {ours:.6f} (rnnkit {theirs:.6f}), largest relative gradient difference {worst:.1e}")
        if worst > 1e-8 or abs(ours - theirs) > 1e-10:
            raise SystemExit("the NumPy gradients disagree with rnnkit's")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="train for 3 epochs instead of 30")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    steps, units, truncate, batch, learning_rate, clipnorm = 20, 16, 10, 32, 0.1, 1.0
    x, y = sine_windows(steps, 640, rng)
    numpy_rnn = NumpyRNN(features=1, units=units, rng=rng)
    model = rnnkit_twin(numpy_rnn, steps)
    check_gradients(numpy_rnn, model, x[:batch], y[:batch], truncate)

    model.compile(optimizer=rnnkit.optimizers.SGD(learning_rate, global_clipnorm=clipnorm), loss="mse")
    print(f"training both with SGD (lr {learning_rate}), truncated BPTT ({truncate} steps), clipping at {clipnorm}:")
    for epoch in range(1, (3 if args.quick else 30) + 1):
        for start in range(0, len(x), batch):
            _, gradients = numpy_rnn.loss_and_gradients(x[start:start + batch], y[start:start + batch], truncate)
            numpy_rnn.sgd_step(gradients, learning_rate, clipnorm)
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, bptt_steps=truncate, verbose=0)
        numpy_loss = np.mean((numpy_rnn.forward(x)[0] - y) ** 2)
        print(f"epoch {epoch:2d}: NumPy loss {numpy_loss:.6f}   rnnkit loss {model.evaluate(x, y, verbose=0):.6f}")
    gap = max(np.max(np.abs(a - b)) for a, b in zip(numpy_rnn.weights(), model.get_weights()))
    print(f"largest weight difference after training: {gap:.1e}")
    if gap > 1e-6:
        raise SystemExit("the NumPy network and rnnkit trained apart")


if __name__ == "__main__":
    main()
