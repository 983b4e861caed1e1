"""PyTorch twins of the models compare.py checks, with the parameter and
buffer names nnc gives them, and what to compare for each.

A twin has one method per compared entry point, named like the entry and
taking the entry's arguments by name; a train entry's method returns the
entry's results (the loss first) as a tuple. In-graph randomness comes from
`self.rng` (an nnc_rng.NncRng that compare.py sets before each call), which
reproduces nnc's generator draw for draw, so dropout masks and noise are the
very ones the generated code uses. Dropout is written out (nnc's inverted
dropout with that mask) because torch.nn.Dropout draws from torch's own
generator.

MODELS maps a test name to a Spec: the twin class, the .nn file, the C prefix
of the model (its name in lower case), the inputs for a batch of B, the
inference entries and the train entries (Train: the parameters updated
(`over`), the optimizer the entry declares, whether it has a loss to
differentiate), the dtypes to build, and whether to also check the
optimizers of OPTIMIZERS (compare.py) after several steps."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ops_twin import OPS_MODELS
from spec import Spec, Train, bce, dropout


# ------------------------------------------------------------------- mlp

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    def step(self, x, y):
        return (F.cross_entropy(self.forward(x), y.long()),)


# --------------------------------------------------------------- lenet

class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        h = self.pool(F.relu(self.conv1(x)))
        h = self.pool(F.relu(self.conv2(h)))
        h = torch.flatten(h, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(h)))))

    def step(self, x, y):
        return (F.cross_entropy(self.forward(x), y.long()),)


# -------------------------------------------------------------- cnn_bn

class CNNBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("pixel_mean", torch.zeros(()))
        self.register_buffer("pixel_std", torch.ones(()))
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.bn3 = nn.BatchNorm1d(128)
        self.pool = nn.MaxPool2d(2)
        self.fc2 = nn.Linear(128, 10)

    def fit_normalization(self, x):
        m = x.mean()
        s = torch.sqrt(torch.square(x - m).mean())
        self.pixel_mean.copy_(m.detach())
        self.pixel_std.copy_(s.detach())
        return m, s

    def forward(self, x):
        x = (x - self.pixel_mean) / self.pixel_std
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = self.pool(F.relu(self.bn2(self.conv2(h))))
        h = F.relu(self.bn3(self.fc1(torch.flatten(h, 1))))
        if self.training:
            h = dropout(self.rng, h, 0.5)
        return self.fc2(h)

    def step(self, x, y):
        return (F.cross_entropy(self.forward(x), y.long()),)


# -------------------------------------------------------------- resnet

class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(out + x)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2), BasicBlock(64, 64))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))

    def step(self, x, y):
        return (F.cross_entropy(self.forward(x), y.long()),)

    finetune = step


# --------------------------------------------------------- autoencoders

class Coder(nn.Module):
    def __init__(self, n_in, n_hidden, n_out, out_act=None):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)
        self.out_act = out_act

    def forward(self, x):
        h = self.fc2(F.relu(self.fc1(x)))
        return self.out_act(h) if self.out_act else h


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Coder(784, 256, 32)
        self.decoder = Coder(32, 256, 784, torch.sigmoid)

    def encode(self, x):
        return self.encoder(x)

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def step(self, x):
        return (F.mse_loss(self.forward(x), x),)


class DenoisingAutoencoder(Autoencoder):
    def step(self, x):
        noisy = torch.clamp(x + 0.3 * self.rng.normal(x.shape), 0, 1)
        return (F.mse_loss(self.forward(noisy), x),)


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.enc2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.dec1 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)
        self.dec2 = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1)

    def encode(self, x):
        return F.relu(self.enc2(F.relu(self.enc1(x))))

    def forward(self, x):
        return torch.sigmoid(self.dec2(F.relu(self.dec1(self.encode(x)))))

    def step(self, x):
        return (F.mse_loss(self.forward(x), x),)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def reparameterize(self, mu, logvar):
        if not self.training:
            return mu
        return mu + torch.exp(0.5 * logvar) * self.rng.normal(mu.shape)

    def forward(self, x):
        return self.decode(self.reparameterize(*self.encode(x)))

    def step(self, x):
        mu, logvar = self.encode(x)
        recon = self.decode(self.reparameterize(mu, logvar))
        rec = bce(recon, x).sum(1).mean()
        kl = (-0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar), -1)).mean()
        return rec + kl, rec, kl


# -------------------------------------------------------------- rotnet

class RotNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.rotation_head = nn.Linear(128, 4)
        self.probe = nn.Linear(128, 10)

    def backbone(self, x):
        h = self.pool(F.relu(self.conv1(x)))
        h = self.pool(F.relu(self.conv2(h)))
        return F.relu(self.conv3(h)).mean((2, 3))

    def features(self, x):
        return self.backbone(x)

    def forward(self, x):
        return self.rotation_head(self.backbone(x))

    def classify(self, x):
        return self.probe(self.backbone(x))

    def step(self, x):
        images = torch.cat([torch.rot90(x, k, [2, 3]) for k in range(4)], 0)
        labels = torch.arange(4).repeat_interleave(x.shape[0])
        return (F.cross_entropy(self.rotation_head(self.backbone(images)), labels),)

    def probe_step(self, x, y):
        return (F.cross_entropy(self.probe(self.backbone(x).detach()), y.long()),)


# -------------------------------------------------------------- inputs

def flat_inputs(B, g):
    """x: pixels in [0, 1] (also the autoencoders' targets), y: classes."""
    return {"x": torch.rand(B, 784, generator=g, dtype=torch.float64),
            "y": torch.randint(0, 10, (B,), generator=g).to(torch.int32),
            "z": torch.randn(B, 20, generator=g, dtype=torch.float64)}


def image_inputs(B, g):
    return {"x": torch.rand(B, 1, 28, 28, generator=g, dtype=torch.float64),
            "y": torch.randint(0, 10, (B,), generator=g).to(torch.int32)}


def mlp_inputs(B, g):
    return {"x": torch.randn(B, 784, generator=g, dtype=torch.float64),
            "y": torch.randint(0, 10, (B,), generator=g).to(torch.int32)}


def adam(**kw):
    return lambda p: torch.optim.Adam(p, **kw)


MODELS = {
    "mlp": Spec(MLP, "examples/mlp.nn", "mlp", mlp_inputs, ["forward"],
                {"step": Train(adam(lr=1e-3))}, optimizers=True),
    "lenet": Spec(LeNet, "examples/lenet.nn", "lenet", image_inputs, ["forward"],
                  {"step": Train(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9))}),
    "cnn_bn": Spec(CNNBatchNorm, "examples/cnn_bn.nn", "cnnbatchnorm", image_inputs, ["forward"],
                   {"fit_normalization": Train(loss=False),
                    "step": Train(adam(lr=1e-3, weight_decay=1e-4))}),
    "resnet": Spec(ResNet, "examples/resnet.nn", "resnet", image_inputs, ["forward"],
                   {"step": Train(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9,
                                                            weight_decay=5e-4)),
                    "finetune": Train(adam(lr=1e-3), over=["fc"])},
                   opt_level="-O0"),  # its generated C takes half a minute at -O1
    "autoencoder": Spec(Autoencoder, "examples/autoencoder.nn", "autoencoder", flat_inputs,
                        ["forward", "encode"], {"step": Train(adam(lr=1e-3))}),
    "denoising_ae": Spec(DenoisingAutoencoder, "examples/denoising_ae.nn", "denoisingautoencoder",
                         flat_inputs, ["forward"], {"step": Train(adam(lr=1e-3))}),
    "conv_ae": Spec(ConvAutoencoder, "examples/conv_ae.nn", "convautoencoder", image_inputs,
                    ["forward", "encode"], {"step": Train(adam(lr=1e-3))}),
    "vae": Spec(VAE, "examples/vae.nn", "vae", flat_inputs, ["forward", "encode", "decode"],
                {"step": Train(adam(lr=1e-3))}),
    "rotnet": Spec(RotNet, "examples/rotnet.nn", "rotnet", image_inputs,
                   ["forward", "features", "classify"],
                   {"step": Train(adam(lr=1e-3)),
                    "probe_step": Train(adam(lr=1e-3), over=["probe"])}),
}
MODELS.update(OPS_MODELS)
