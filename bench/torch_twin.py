"""torch_twin.py — the PyTorch twins of the benchmark's models, timed as
bench/harness.c times the generated C: the median milliseconds of one
training step (zero_grad, forward, loss, backward, optimizer step) over
STEPS steps after WARMUP, of an eval-mode forward under torch.no_grad() at
the same sizes, and of one at batch 1 where the model has a batch.

Usage: torch_twin.py MODEL STEPS WARMUP THREADS [SYM=VALUE]...
MODEL is one of MODELS below; the symbols are the .nn model's (B, T, N, E).
Prints lines in the harness's format, plus the forward pass's FLOPs:
  torch <model> train T=1 median_ms ... steps ... peak_mb ... flops ... at B=64
  torch <model> infer T=1 median_ms ... calls ... flops ... at B=64
  torch <model> infer1 T=1 median_ms ... calls ... flops ... at B=1
flops counts the multiply-adds of matrix products and convolutions (two
flops each) in one forward pass; bench/run.sh takes a training step as three
times its forward pass. peak_mb is the growth of the resident set from after
`import torch` to the end of the training loop. Run it with
OPENBLAS_NUM_THREADS and OMP_NUM_THREADS at THREADS and the malloc settings
of bench/run.sh; it calls torch.set_num_threads(THREADS) itself."""
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The MLP, LeNet and VAE layers are the conformance twins'
# (tests/conformance/models.py), which are checked against the generated
# code. Randomness (dropout, the VAE's noise) is drawn by PyTorch's own
# generator here: the conformance twins replay nnc's random stream in
# Python, which would time Python, not PyTorch.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "conformance"))
import models  # noqa: E402

FLOPS = [0]  # matrix-product flops of the forward passes while counting


def count(n):
    FLOPS[0] += n


def gemm_hook(module, inputs, output):
    if isinstance(module, nn.Linear):
        count(2 * output.numel() * module.in_features)
    elif isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        count(2 * output.numel() * module.in_channels // module.groups * kh * kw)
    elif isinstance(module, (nn.LSTM, nn.GRU)):
        gates = 4 if isinstance(module, nn.LSTM) else 3
        b, t = inputs[0].shape[0], inputs[0].shape[1]
        count(2 * b * t * (module.input_size + module.hidden_size) *
              gates * module.hidden_size)


def images(b, c, hw, g):
    return {"x": torch.rand(b, c, hw, hw, generator=g),
            "y": torch.randint(0, 10, (b,), generator=g)}


class MLP(models.MLP):
    def inputs(self, d, g):
        return {"x": torch.rand(d["B"], 784, generator=g),
                "y": torch.randint(0, 10, (d["B"],), generator=g)}

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class LeNet(models.LeNet):
    def inputs(self, d, g):
        return images(d["B"], 1, 28, g)

    def optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)


class CNNBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(64 * 8 * 8, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.pool(F.relu(self.bn2(self.conv2(h))))
        h = self.pool(F.relu(self.bn3(self.conv3(h))))
        return self.fc(torch.flatten(h, 1))

    def inputs(self, d, g):
        return images(d["B"], 3, 32, g)

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class CNNBatchNormFashion(models.CNNBatchNorm):
    """examples/cnn_bn.nn, the Fashion-MNIST model (dropout from PyTorch's
    generator)."""

    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = (x - self.pixel_mean) / self.pixel_std
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = self.pool(F.relu(self.bn2(self.conv2(h))))
        h = self.dropout(F.relu(self.bn3(self.fc1(torch.flatten(h, 1)))))
        return self.fc2(h)

    def inputs(self, d, g):
        return images(d["B"], 1, 28, g)

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3, weight_decay=1e-4)


class Recurrent(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = cell(64, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        h = self.rnn(x)[1]
        h = h[0] if isinstance(h, tuple) else h  # the LSTM's (h_n, c_n)
        return self.fc(h[-1])

    def inputs(self, d, g):
        return {"x": torch.rand(d["B"], d["T"], 64, generator=g),
                "y": torch.randint(0, 10, (d["B"],), generator=g)}

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class LSTM(Recurrent):
    def __init__(self):
        super().__init__(nn.LSTM)


class GRU(Recurrent):
    def __init__(self):
        super().__init__(nn.GRU)


class Block(nn.Module):
    """examples/gpt.nn's block: pre-LayerNorm, causal self-attention with
    four heads, an MLP of 4x width with exact GELU (erf, as nnc's)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def attn(self, x):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (a.view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for a in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        att = F.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        count(2 * 2 * b * t * t * d)  # q k^T and att v
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.attn_proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=512, block=64, d=128, heads=4, layers=4):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def inputs(self, d, g):
        return {"idx": torch.randint(0, 512, (d["B"], d["T"]), generator=g),
                "y": torch.randint(0, 512, (d["B"], d["T"]), generator=g)}

    def loss(self, idx, y):
        return F.cross_entropy(self(idx).flatten(0, 1), y.flatten())

    def optimizer(self):
        return torch.optim.AdamW(self.parameters(), lr=3e-4, weight_decay=0.1)


class VAE(models.VAE):
    def reparameterize(self, mu, logvar):
        if not self.training:
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def inputs(self, d, g):
        return {"x": torch.rand(d["B"], 784, generator=g)}

    def loss(self, x):
        return self.step(x)[0]

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


class GCN(nn.Module):
    """bench/models/gcn.nn: two GCN layers (self loops, symmetric degree
    normalisation computed from the edge list each call, as the .nn does)."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Linear(1433, 16, bias=False)
        self.b1 = nn.Parameter(torch.zeros(16))
        self.w2 = nn.Linear(16, 7, bias=False)
        self.b2 = nn.Parameter(torch.zeros(7))

    def conv(self, lin, bias, x, src, dst, w):
        messages = lin(x)[src] * w.unsqueeze(1)
        out = torch.zeros(x.shape[0], lin.out_features)
        return out.index_add_(0, dst, messages) + bias

    def forward(self, x, src, dst):
        n = x.shape[0]
        loops = torch.arange(n)
        src, dst = torch.cat([src, loops]), torch.cat([dst, loops])
        deg = torch.zeros(n).index_add_(0, dst, torch.ones(dst.shape[0]))
        w = deg.rsqrt()[src] * deg.rsqrt()[dst]
        h = F.relu(self.conv(self.w1, self.b1, x, src, dst, w))
        h = F.dropout(h, 0.5, self.training)
        return self.conv(self.w2, self.b2, h, src, dst, w)

    def inputs(self, d, g):
        n, e = d["N"], d["E"]
        return {"x": torch.rand(n, 1433, generator=g),
                "src": torch.randint(0, n, (e,), generator=g),
                "dst": torch.randint(0, n, (e,), generator=g),
                "y": torch.randint(0, 7, (n,), generator=g),
                "train_mask": torch.randint(0, 2, (n,), generator=g).bool()}

    def loss(self, x, src, dst, y, train_mask):
        losses = F.cross_entropy(self(x, src, dst), y, reduction="none")
        return (losses * train_mask).sum() / train_mask.sum()

    def optimizer(self):
        return torch.optim.Adam(self.parameters(), lr=0.01, weight_decay=5e-4)


MODELS = {"mlp": MLP, "lenet": LeNet, "cnn_bn": CNNBatchNorm, "lstm": LSTM,
          "gru": GRU, "gpt": GPT, "vae": VAE, "gcn": GCN,
          "cnn_bn_fashion": CNNBatchNormFashion}


def forward_args(model, inp):
    """The inputs of the model's forward (those of the .nn's `forward`)."""
    if isinstance(model, GCN):
        return inp["x"], inp["src"], inp["dst"]
    return (next(iter(inp.values())),)


def train_loss(model, inp):
    if hasattr(model, "loss"):
        return model.loss(*inp.values())
    return F.cross_entropy(model(inp["x"]), inp["y"])


def forward_flops(model, inp):
    FLOPS[0] = 0
    hooks = [m.register_forward_hook(gemm_hook) for m in model.modules()
             if isinstance(m, (nn.Linear, nn.Conv2d, nn.LSTM, nn.GRU))]
    with torch.no_grad():
        model(*forward_args(model, inp))
    for h in hooks:
        h.remove()
    return FLOPS[0]


def median_ms(fn, calls, warmup):
    times = []
    for i in range(warmup + calls):
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append((t1 - t0) * 1e3)
    return statistics.median(times)


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return 0.0


def main():
    name, steps, warmup, threads = sys.argv[1], *map(int, sys.argv[2:5])
    dims = dict(a.split("=") for a in sys.argv[5:])
    dims = {k: int(v) for k, v in dims.items()}
    at = " ".join(f"{k}={v}" for k, v in dims.items())
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(7)
    base_kb = status_kb("VmRSS")
    model = MODELS[name]()
    opt = model.optimizer()
    inp = model.inputs(dims, g)

    def step():
        opt.zero_grad(set_to_none=True)
        train_loss(model, inp).backward()
        opt.step()

    model.train()
    ms = median_ms(step, steps, warmup)
    peak_mb = (status_kb("VmHWM") - base_kb) / 1024
    model.eval()
    flops = forward_flops(model, inp)
    print(f"torch {name} train T={threads} median_ms {ms:.3f} steps {steps} "
          f"peak_mb {peak_mb:.1f} flops {flops} at {at}")

    args = forward_args(model, inp)

    def infer():
        with torch.no_grad():
            model(*args)

    ms = median_ms(infer, steps, warmup)
    print(f"torch {name} infer T={threads} median_ms {ms:.3f} calls {steps} "
          f"flops {flops} at {at}")
    if "B" in dims:
        one = {k: (1 if k == "B" else v) for k, v in dims.items()}
        inp1 = model.inputs(one, g)
        flops1 = forward_flops(model, inp1)
        args = forward_args(model, inp1)
        calls = steps * 4
        ms = median_ms(infer, calls, warmup)
        at1 = " ".join(f"{k}={v}" for k, v in one.items())
        print(f"torch {name} infer1 T={threads} median_ms {ms:.4f} calls {calls} "
              f"flops {flops1} at {at1}")


if __name__ == "__main__":
    main()
