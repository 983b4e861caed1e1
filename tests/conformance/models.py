"""PyTorch twins of the example models, with the same parameter names as
nnc gives them, and how each is trained (its loss), for compare.py."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def step_loss(self, x, y):
        return F.cross_entropy(self.forward(x), y.long())


# name -> (model class, .nn file, inputs for a batch of size B, optimizer)
def mlp_inputs(B, g):
    return {"x": torch.randn(B, 784, generator=g, dtype=torch.float64),
            "y": torch.randint(0, 10, (B,), generator=g).to(torch.int32)}


MODELS = {
    "mlp": (MLP, "examples/mlp.nn", mlp_inputs,
            lambda p: torch.optim.Adam(p, lr=1e-3)),
}
