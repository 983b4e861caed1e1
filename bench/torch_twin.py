"""torch_twin.py — the PyTorch twins of examples/lenet.nn and
examples/cnn_bn.nn, timed as bench/harness.c times the generated C: median
milliseconds of one training step (zero_grad, forward, cross-entropy,
backward, optimizer step) at batch B over STEPS steps after WARMUP, and the
median of an eval-mode forward at batch 1 under torch.no_grad().

Usage: torch_twin.py MODEL [B [STEPS [WARMUP [THREADS]]]] with MODEL lenet
or cnn_bn. Prints lines in the harness's format:
  torch <model> train B=64 T=1 median_ms ... samples_per_s ... steps ...
  torch <model> infer B=1 T=1 median_ms ... samples_per_s ... calls ...
Run it with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS at THREADS and the
malloc settings of bench/run.sh; it calls torch.set_num_threads(THREADS)
itself (default 1)."""
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The layers are the conformance twins' (tests/conformance/models.py), which
# are checked against the generated code; only what the benchmark needs
# differs: each twin's optimizer, and cnn_bn's dropout drawn by PyTorch's
# own generator (the conformance twin replays nnc's random stream in
# Python, which would time Python, not PyTorch).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "conformance"))
import models  # noqa: E402


class LeNet(models.LeNet):
    def optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)


class CNNBatchNorm(models.CNNBatchNorm):
    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = (x - self.pixel_mean) / self.pixel_std
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = self.pool(F.relu(self.bn2(self.conv2(h))))
        h = self.dropout(F.relu(self.bn3(self.fc1(torch.flatten(h, 1)))))
        return self.fc2(h)

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3, weight_decay=1e-4)


MODELS = {"lenet": LeNet, "cnn_bn": CNNBatchNorm}


def median_ms(fn, calls, warmup):
    times = []
    for i in range(warmup + calls):
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return statistics.median(times)


def main():
    name = sys.argv[1]
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = MODELS[name]()
    label = type(model).__name__  # the .nn model name, as the harness prints
    opt = model.optimizer()
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    ms = median_ms(step, steps, warmup)
    print(f"torch {label} train B={batch} T={threads} median_ms {ms:.3f} "
          f"samples_per_s {batch * 1e3 / ms:.0f} steps {steps}")

    model.eval()
    x1 = x[:1].clone()

    def infer():
        with torch.no_grad():
            model(x1)

    calls = steps * 4
    ms = median_ms(infer, calls, warmup)
    print(f"torch {label} infer B=1 T={threads} median_ms {ms:.4f} "
          f"samples_per_s {1e3 / ms:.0f} calls {calls}")


if __name__ == "__main__":
    main()
