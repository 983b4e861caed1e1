"""What compare.py checks per model (Spec, Train), and helpers the PyTorch
twins share: nnc's dropout and binary cross-entropy written out."""
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch


@dataclass
class Train:
    opt: Optional[Callable] = None     # torch optimizer the entry declares
    over: Optional[list] = None         # sub-layers updated (None: all)
    loss: bool = True                   # False: no minimize (buffers only)
    min_batch: int = 1                  # skipped for smaller batches


@dataclass
class Spec:
    twin: type
    nn_file: str
    prefix: str
    inputs: Callable                    # (B, torch.Generator) -> {name: tensor}
    infer: list = field(default_factory=list)
    train: dict = field(default_factory=dict)
    dtypes: tuple = ("f32",)
    optimizers: bool = False
    opt_level: str = "-O1"              # C optimisation of the generated code
    batches: tuple = (4,)               # B, each run in turn


def dropout(rng, x, p):
    """nnc's dropout(x, p) in train mode: where(u >= p, x / (1 - p), 0)."""
    return torch.where(rng.keep(x.shape, p), x / (1 - p), torch.zeros_like(x))


def bce(p, t):
    """nnc's bce_loss(p, t, reduction = "none"); written out because
    F.binary_cross_entropy has no gradient for its target."""
    return -(t * torch.clamp(torch.log(p), min=-100) +
             (1 - t) * torch.clamp(torch.log(1 - p), min=-100))


