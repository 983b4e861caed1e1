"""The quality bar of the MLP: PyTorch trains examples/mlp.nn's twin with
the same configuration as `nnc train` (784-256-256-10 ReLU, Adam 1e-3,
batch 64, 5 epochs, 10% of the training set held out, inputs normalised by
the training split's per-feature mean and std + 0.01) from the same initial
weights (exported by nnc as safetensors) and prints its test accuracy.

  mlp_pytorch.py WEIGHTS.st [DATA_DIR] [EPOCHS]"""
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "conformance"))
import st  # noqa: E402
from models import MLP  # noqa: E402


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    nd = magic & 0xff
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data[4 + 4 * nd:], dtype=np.uint8).reshape(dims)


def main():
    weights = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.manual_seed(42)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    x = idx(os.path.join(root, "train-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y = idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = idx(os.path.join(root, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    yt = idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    perm = np.random.RandomState(42).permutation(len(x))
    nval = len(x) // 10
    tr = perm[nval:]
    mean, std = x[tr].mean(0), x[tr].std(0) + 0.01
    X = torch.tensor((x[tr] - mean) / std, dtype=torch.float32)
    Y = torch.tensor(y[tr])
    XT = torch.tensor((xt - mean) / std, dtype=torch.float32)
    model = MLP()
    model.load_state_dict({k: torch.tensor(v) for k, v in st.read(weights).items()})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            b = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(X[b]), Y[b]).backward()
            opt.step()
    with torch.no_grad():
        acc = (model(XT).argmax(1).numpy() == yt).mean()
    print(f"pytorch test accuracy: {acc:.4f}")


if __name__ == "__main__":
    main()
