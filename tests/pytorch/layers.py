"""The PyTorch twin of layers.nn: prints `name shape` per parameter and
buffer, in state_dict order, for run_pytorch.sh to compare."""
import torch.nn as nn


class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(20, 30)
        self.lin_nb = nn.Linear(20, 30, bias=False)
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv_g = nn.Conv2d(8, 16, (3, 5), groups=4, bias=False)
        self.deconv = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, output_padding=1)
        self.bn1 = nn.BatchNorm1d(30)
        self.bn2 = nn.BatchNorm2d(8)
        self.ln = nn.LayerNorm(30)
        self.emb = nn.Embedding(100, 12)
        self.rnn = nn.RNN(12, 16, num_layers=2, batch_first=True)
        self.lstm = nn.LSTM(12, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(12, 16, bidirectional=True, batch_first=True)
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)
        self.enc = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True)
        self.dec = nn.TransformerDecoderLayer(32, 4, dim_feedforward=64, batch_first=True)


for name, t in Layers().state_dict().items():
    print(name, "x".join(str(d) for d in t.shape) or "scalar")
