"""PyTorch definition of pyannote-audio 1.x's SincTDNN (github.com/pyannote/pyannote-audio at commit 562b74e4,
pyannote/audio/models/models.py SincTDNN, sincnet.py SincConv1d / SincNet, tdnn.py TDNN / XVectorNet, pooling.py
StatsPool) for scripts/make_model_golden.py, configured as Coria et al. (SLSP 2020,
juanmc2005/SpeakerEmbeddingLossComparison models/AAM/config.yml): sincnet stride [5, 1, 1], waveform_normalize and
instance_normalize True, tdnn embedding_dim 512, embedding without batch_normalize / scaling (no parameters).

Written from the anchor's Python, not from spk's C++. Module and parameter names are the anchor's (sincnet_.*,
tdnn_.*), so the state_dict is the one a pyannote SincTDNN checkpoint holds. Two deliberate differences that do
not change the function:
  * input (B, 1, L) instead of pyannote's (B, L, 1) (SincNet transposes it first);
  * SincConv1d's half window and time vector (plain tensor attributes in pyannote, not in its state_dict) are
    computed from their formulas in the model's dtype, so model.double() gives the float64 reference (pyannote
    builds them in float32 and would not convert them).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import weight_norm


class SincConv1d(nn.Module):
    # sincnet.py SincConv1d(1, out_channels, kernel_size, sample_rate 16000, min_low_hz 50, min_band_hz 50, stride).
    def __init__(self, out_channels, kernel_size, stride=1, sample_rate=16000, min_low_hz=50, min_band_hz=50):
        super().__init__()
        self.out_channels, self.kernel_size, self.stride = out_channels, kernel_size, stride
        self.sample_rate, self.min_low_hz, self.min_band_hz = sample_rate, min_low_hz, min_band_hz
        to_mel = lambda hz: 2595 * math.log10(1 + hz / 700)
        to_hz = lambda mel: 700 * (10 ** (mel / 2595) - 1)
        low_hz, high_hz = 30, sample_rate / 2 - (min_low_hz + min_band_hz)
        mel = torch.linspace(to_mel(low_hz), to_mel(high_hz), out_channels + 1, dtype=torch.float64)
        hz = to_hz(mel)
        self.low_hz_ = nn.Parameter(hz[:-1].float().view(-1, 1))
        self.band_hz_ = nn.Parameter(torch.diff(hz).float().view(-1, 1))

    def window_and_n(self, dtype):
        k = self.kernel_size
        n_lin = torch.linspace(0, k / 2 - 1, steps=int(k / 2), dtype=torch.float64)
        window = 0.54 - 0.46 * torch.cos(2 * math.pi * n_lin / k)
        n = (k - 1) / 2.0
        n_ = 2 * math.pi * torch.arange(-n, 0, dtype=torch.float64).view(1, -1) / self.sample_rate
        return window.to(dtype), n_.to(dtype)

    def forward(self, waveforms):
        window_, n_ = self.window_and_n(self.low_hz_.dtype)
        low = self.min_low_hz + torch.abs(self.low_hz_)
        high = torch.clamp(low + self.min_band_hz + torch.abs(self.band_hz_), self.min_low_hz, self.sample_rate / 2)
        band = (high - low)[:, 0]
        f_times_t_low = torch.matmul(low, n_)
        f_times_t_high = torch.matmul(high, n_)
        band_pass_left = ((torch.sin(f_times_t_high) - torch.sin(f_times_t_low)) / (n_ / 2)) * window_
        band_pass_center = 2 * band.view(-1, 1)
        band_pass_right = torch.flip(band_pass_left, dims=[1])
        band_pass = torch.cat([band_pass_left, band_pass_center, band_pass_right], dim=1)
        band_pass = band_pass / (2 * band[:, None])
        filters = band_pass.view(self.out_channels, 1, self.kernel_size)
        return F.conv1d(waveforms, filters, stride=self.stride)


class SincNet(nn.Module):
    # sincnet.py SincNet with out_channels [80, 60, 60], kernel_size [251, 5, 5], max_pool [3, 3, 3],
    # LeakyReLU(0.2), dropout 0.
    def __init__(self, stride=(5, 1, 1), out_channels=(80, 60, 60), kernel_size=(251, 5, 5), max_pool=(3, 3, 3)):
        super().__init__()
        self.waveform_normalize_ = nn.InstanceNorm1d(1, affine=True)
        self.conv1d_ = nn.ModuleList([])
        self.max_pool1d_ = nn.ModuleList([])
        self.instance_norm1d_ = nn.ModuleList([])
        in_channels = None
        for i, (out_c, k, s, mp) in enumerate(zip(out_channels, kernel_size, stride, max_pool)):
            if i > 0:
                self.conv1d_.append(nn.Conv1d(in_channels, out_c, k, stride=s, padding=0, dilation=1, bias=True))
            else:
                self.conv1d_.append(SincConv1d(out_c, k, stride=s))
            self.max_pool1d_.append(nn.MaxPool1d(mp, stride=mp, padding=0, dilation=1))
            self.instance_norm1d_.append(nn.InstanceNorm1d(out_c, affine=True))
            in_channels = out_c
        self.activation_ = nn.LeakyReLU(negative_slope=0.2)

    def forward(self, waveforms):   # (B, 1, L): pyannote's output after its transpose(1, 2)
        output = self.waveform_normalize_(waveforms)
        for i, (conv1d, max_pool1d) in enumerate(zip(self.conv1d_, self.max_pool1d_)):
            output = conv1d(output)
            if i == 0:
                output = torch.abs(output)
            output = max_pool1d(output)
            output = self.instance_norm1d_[i](output)
            output = self.activation_(output)
        return output                # (B, 60, T); pyannote transposes back to (B, T, 60)


class TDNN(nn.Module):
    # tdnn.py TDNN: weight_norm(Conv1d) with kernel = context span (full_context) or len(context) with dilation.
    def __init__(self, context, input_channels, output_channels, full_context=True):
        super().__init__()
        context = sorted(context)
        if full_context:
            kernel_size = context[-1] - context[0] + 1 if len(context) > 1 else 1
            self.temporal_conv = weight_norm(nn.Conv1d(input_channels, output_channels, kernel_size))
        else:
            delta = context[1] - context[0]
            self.temporal_conv = weight_norm(nn.Conv1d(input_channels, output_channels, kernel_size=len(context),
                                                       dilation=delta))

    def forward(self, x):            # (B, C, T) here; pyannote's (B, T, C) with transposes around the conv
        return F.relu(self.temporal_conv(x))


class StatsPool(nn.Module):
    def forward(self, x):            # (B, C, T): pooling.py StatsPool over time, torch.std unbiased
        return torch.cat((torch.mean(x, dim=2), torch.std(x, dim=2)), dim=1)


class XVectorNet(nn.Module):
    def __init__(self, input_dim=24, embedding_dim=512):
        super().__init__()
        frame1 = TDNN([-2, 2], input_dim, 512, full_context=True)
        frame2 = TDNN([-2, 0, 2], 512, 512, full_context=False)
        frame3 = TDNN([-3, 0, 3], 512, 512, full_context=False)
        frame4 = TDNN([0], 512, 512, full_context=True)
        frame5 = TDNN([0], 512, 1500, full_context=True)
        self.tdnn = nn.Sequential(frame1, frame2, frame3, frame4, frame5, StatsPool())
        self.segment6 = nn.Linear(3000, embedding_dim)
        self.segment7 = nn.Linear(embedding_dim, embedding_dim)

    def forward(self, x):            # return_intermediate="segment6", as SincTDNN asks for representation learning
        return self.segment6(self.tdnn(x))


class SincTDNN(nn.Module):
    def __init__(self, stride=5, embedding_dim=512):
        super().__init__()
        self.sincnet_ = SincNet(stride=(stride, 1, 1))
        self.tdnn_ = XVectorNet(60, embedding_dim=embedding_dim)
        # embedding_ = Embedding(512, batch_normalize=False, scale=None): the identity, no parameters.

    def forward(self, waveforms):
        return self.tdnn_(self.sincnet_(waveforms))


def init_param(name, shape, gen):
    """Golden-file values for the parameters the generic draw would make meaningless: sinc cut-offs near
    pyannote's mel-spaced initialisation (random N(0, 1) Hz would give 50-100 Hz filters only), instance-norm and
    weight_norm gains near 1 (weight_g is the row norm of the effective weight)."""
    if name.endswith("low_hz_") or name.endswith("band_hz_"):
        ref = SincConv1d(shape[0], 251)
        base = ref.low_hz_ if name.endswith("low_hz_") else ref.band_hz_
        return base.detach() * (1 + 0.2 * torch.rand(shape, generator=gen) - 0.1)
    if "instance_norm" in name or "waveform_normalize" in name:
        return (1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(shape, generator=gen)
    if name.endswith("weight_g"):
        return 0.5 + torch.rand(shape, generator=gen)
    return None


# Biases of conv1d_.1/.2 are followed by max-pool and instance norm (their gradient is 0 in exact arithmetic),
# segment7 is unused (SincTDNN stops at segment6): none of them is listed.
CASES = [
    dict(case="SincTDNN", model="SincTDNN", config=dict(n_mels=1, nOut=512, encoder_type="", C=0),
         build=lambda: SincTDNN(5, 512), input_shape=(2, 1, 3200), init_param=init_param,
         grad_params=["sincnet_.waveform_normalize_.weight", "sincnet_.waveform_normalize_.bias",
                      "sincnet_.conv1d_.0.low_hz_", "sincnet_.conv1d_.0.band_hz_",
                      "sincnet_.instance_norm1d_.0.weight", "sincnet_.instance_norm1d_.1.bias",
                      "sincnet_.instance_norm1d_.2.weight", "tdnn_.tdnn.0.temporal_conv.weight_g",
                      "tdnn_.tdnn.1.temporal_conv.bias", "tdnn_.tdnn.2.temporal_conv.weight_g",
                      "tdnn_.tdnn.3.temporal_conv.bias", "tdnn_.tdnn.4.temporal_conv.weight_g",
                      "tdnn_.segment6.bias"]),
]
