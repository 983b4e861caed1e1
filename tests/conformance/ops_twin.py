"""The PyTorch twin of tests/conformance/ops.nn: each layer and op on awkward
shapes through torch.nn / torch.nn.functional with PyTorch's defaults (so
avg_pool2d counts the padding, count_include_pad=True, as nnc does), and the
Spec that compare.py runs: in f32 and f64, with a batch of 3 and of 1."""
import inspect
import math
import os
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from spec import Spec, Train

NN_FILE = "tests/conformance/ops.nn"


def _linear_loss(y, r):
    return (y * r).sum()


def _sig(*names):
    """The signature of a method taking `names` (compare.py reads it)."""
    P = inspect.Parameter
    return inspect.Signature([P("self", P.POSITIONAL_OR_KEYWORD)] +
                             [P(n, P.KEYWORD_ONLY) for n in names])


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_odd = nn.Conv2d(3, 4, (3, 2), stride=(2, 3), padding=(2, 1), dilation=(1, 2))
        self.conv_skip = nn.Conv2d(2, 3, 2, stride=3, bias=False)
        self.conv_pad = nn.Conv2d(2, 2, 3, padding=2)
        self.conv_1x1 = nn.Conv2d(3, 5, 1)
        self.conv_1x1s = nn.Conv2d(3, 2, 1, stride=2, padding=1, bias=False)
        self.conv_group = nn.Conv2d(4, 6, (3, 1), padding=(1, 0), groups=2)
        self.conv_depth = nn.Conv2d(3, 3, 3, groups=3, bias=False)
        self.convt_group = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.convt_odd = nn.ConvTranspose2d(3, 2, (2, 3), stride=(3, 2), padding=(0, 2),
                                            output_padding=(2, 1), dilation=(1, 2), bias=False)
        self.convt_dil = nn.ConvTranspose2d(2, 2, 3, dilation=2, output_padding=1)
        self.convt_1x1 = nn.ConvTranspose2d(3, 2, 1, stride=2)
        self.bn2 = nn.BatchNorm2d(3)
        self.bn1 = nn.BatchNorm1d(4)
        self.bn1l = nn.BatchNorm1d(4)
        self.ln = nn.LayerNorm(5)
        self.qkv = nn.Linear(12, 36)
        self.few = nn.Linear(300, 16)
        self.mha = nn.MultiheadAttention(12, 3, batch_first=True)

    def _layer(name, xarg, rarg):  # noqa: N805 (a method factory)
        def entry(self, **a):
            y = getattr(self, name)(a[xarg])
            return _linear_loss(y, a[rarg]), y
        entry.__signature__ = _sig(xarg, rarg)
        return entry

    t_conv_odd = _layer("conv_odd", "x1", "r1")
    t_conv_skip = _layer("conv_skip", "x2", "r2")
    t_conv_pad = _layer("conv_pad", "x3", "r3")
    t_conv_1x1 = _layer("conv_1x1", "x4", "r4")
    t_conv_1x1s = _layer("conv_1x1s", "x4", "r5")
    t_conv_group = _layer("conv_group", "x6", "r6")
    t_conv_depth = _layer("conv_depth", "x7", "r7")
    t_convt_group = _layer("convt_group", "x8", "r8")
    t_convt_odd = _layer("convt_odd", "x9", "r9")
    t_convt_dil = _layer("convt_dil", "x10", "r10")
    t_convt_1x1 = _layer("convt_1x1", "x11", "r11")
    t_bn2 = _layer("bn2", "x20", "r20")
    t_bn1 = _layer("bn1", "x21", "r21")
    t_bn1l = _layer("bn1l", "x22", "r22")
    t_ln = _layer("ln", "x23", "r23")

    def t_max_pool(self, x12, r12):
        y = F.max_pool2d(x12, (3, 2), stride=(2, 3), padding=1)
        return _linear_loss(y, r12), y

    def t_max_pool_skip(self, x12, r13):
        y = F.max_pool2d(x12, 2, stride=3)
        return _linear_loss(y, r13), y

    def t_avg_pool(self, x14, r14):
        y = F.avg_pool2d(x14, 3, stride=2, padding=1)
        return _linear_loss(y, r14), y

    def t_avg_pool_odd(self, x14, r15):
        y = F.avg_pool2d(x14, (2, 3), stride=(1, 2), padding=1)
        return _linear_loss(y, r15), y

    def t_avg_pool_skip(self, x14, r16):
        y = F.avg_pool2d(x14, 2, stride=3)
        return _linear_loss(y, r16), y

    def t_global_pool(self, x17, r17):
        y = F.adaptive_avg_pool2d(x17, 1).flatten(1)
        return _linear_loss(y, r17), y

    def t_upsample(self, x18, r18):
        y = F.interpolate(x18, scale_factor=2, mode="nearest")
        return _linear_loss(y, r18), y

    def t_upsample_odd(self, x18, r19):
        y = F.interpolate(x18, scale_factor=(3, 2), mode="nearest")
        return _linear_loss(y, r19), y

    def t_bn2_eval(self, x20, r20):
        bn = self.bn2
        y = F.batch_norm(x20, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False)
        return _linear_loss(y, r20), y

    def t_act(self, x24, r24, r25, r26, r27):
        a = F.leaky_relu(x24, 0.2)
        b = F.elu(x24, 0.7)
        c = F.gelu(x24)
        d = F.gelu(x24, approximate="tanh")
        return (_linear_loss(a, r24) + _linear_loss(b, r25) + _linear_loss(c, r26) +
                _linear_loss(d, r27)), a, b, c, d

    def t_attn(self, x28, r28, r29):
        B, T = x28.shape[:2]
        q, k, v = self.qkv(x28).split(12, 2)
        heads = lambda t: t.reshape(B, T, 3, 4).transpose(1, 2)  # noqa: E731
        mask = torch.triu(torch.full((T, T), -1e9, dtype=x28.dtype), 1)
        s = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(4) + mask
        a = (s.softmax(-1) @ heads(v)).transpose(1, 2).reshape(B, T, 12)
        b, _ = self.mha(x28, x28, x28, need_weights=False)
        return _linear_loss(a, r28) + _linear_loss(b, r29), a, b

    t_few = _layer("few", "x29", "r30")

    def bn2_eval(self, x20):
        return self.bn2(x20)

    def bn1_eval(self, x21, x22):
        return self.bn1(x21), self.bn1l(x22)


def _arg_shapes():
    """Every f32 argument of ops.nn's entries: name -> dims, B symbolic."""
    src = os.environ.get("SRCDIR", ".")
    with open(os.path.join(src, NN_FILE)) as f:
        text = f.read()
    return {m.group(1): [d.strip() for d in m.group(2).split(",")]
            for m in re.finditer(r"(\w+): f32\[([^\]]*)\]", text)}


def ops_inputs(B, g):
    out = {}
    for name, dims in _arg_shapes().items():
        shape = [B if d == "B" else int(d) for d in dims]
        out[name] = torch.randn(*shape, generator=g, dtype=torch.float64)
    return out


TRAIN = [n for n in vars(Ops) if n.startswith("t_")]
SGD = lambda p: torch.optim.SGD(p, lr=0.1)  # noqa: E731

OPS_MODELS = {
    # batches of 3 and of 1; batch norm 1d of [1, C] has no variance to
    # train with (PyTorch refuses it)
    "ops": Spec(Ops, NN_FILE, "ops", ops_inputs, ["bn2_eval", "bn1_eval"],
                {n: Train(SGD, min_batch=2 if n == "t_bn1" else 1) for n in TRAIN},
                dtypes=("f32", "f64"), batches=(3, 1),
                opt_level="-O0"),  # 25 train entries: -O1 takes seconds more
}
