"""PyTorch side of the quality bars: trains the PyTorch twin of an example
(tests/conformance/models.py) the way `nnc train` trains the example, from
the same initial weights (exported by nnc as safetensors), and prints its
test accuracy on Fashion-MNIST.

The same way means: the `step` entry's loss and optimizer (the twin's spec),
batch 64, 10% of the training set held out with a seeded permutation,
inputs standardised per feature with the training split's mean and standard
deviation + 0.01 (after augmentation: with `flip`, each training image is
mirrored left-right with probability 1/2, as `--augment flip`), the
learning rate following `--lr-schedule` per step, and the test accuracy of
the weights after the last epoch. Batch-norm layers use
batch statistics in training and their running statistics for the test.

  train_pytorch.py MODEL WEIGHTS.st DATA_DIR EPOCHS [constant|cosine] [flip]"""
import gzip
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "conformance"))
import st  # noqa: E402
from models import MODELS  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    nd = magic & 0xff
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)


def main():
    name, weights, root, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    schedule = sys.argv[5] if len(sys.argv) > 5 else "constant"
    flip = len(sys.argv) > 6 and sys.argv[6] == "flip"
    spec = MODELS[name]
    torch.manual_seed(42)
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    x = idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y = idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    yt = idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    perm = np.random.RandomState(42).permutation(len(x))
    nval = len(x) // 10
    tr = perm[nval:]
    mean, std = x[tr].mean(0), x[tr].std(0) + 0.01
    shape = (-1,) + tuple(spec.inputs(1, torch.Generator().manual_seed(0))["x"].shape[1:])
    X = torch.tensor(x[tr], dtype=torch.float32)
    M = torch.tensor(mean, dtype=torch.float32)
    S = torch.tensor(std, dtype=torch.float32)
    Y = torch.tensor(y[tr])
    XT = torch.tensor((xt - mean) / std, dtype=torch.float32).reshape(shape)
    model = spec.twin()
    model.load_state_dict({k: torch.tensor(v) for k, v in st.read(weights).items()})
    opt = spec.train["step"].opt(model.parameters())
    steps = epochs * math.ceil(len(X) / 64)
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, steps) / steps)))
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            b = order[i:i + 64]
            xb = X[b]
            if flip:
                m = torch.rand(len(b)) < 0.5
                img = xb.reshape(-1, 28, 28)
                xb = torch.where(m[:, None, None], img.flip(2), img).reshape(-1, 784)
            opt.zero_grad()
            model.step(((xb - M) / S).reshape(shape), Y[b])[0].backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model.forward(XT[i:i + 1000]).argmax(1) for i in range(0, len(XT), 1000)])
    acc = (pred.numpy() == yt).mean()
    print(f"pytorch test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
