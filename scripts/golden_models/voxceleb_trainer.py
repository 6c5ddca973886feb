"""PyTorch definitions of voxceleb_trainer's models (github.com/clovaai/voxceleb_trainer, models/ResNetSE34L.py,
models/ResNetSE34V2.py, models/VGGVox.py, models/ResNetBlocks.py) for scripts/make_model_golden.py.

Written from the anchor's Python, not from spk's C++, so that a golden file catches a wrong residual, an activation
in the wrong place or a different pooling in nets/. Only the bodies: spk's models take the features (B, n_mels, T)
that the anchor's forward has computed by the end of its `with torch.no_grad()` front end (torchfb, +1e-6, log,
instancenorm), so these forwards start at `x.unsqueeze(1)`. The front-end modules (torchfb, instancenorm) hold no
parameters spk loads and are left out. Module and parameter names are the anchor's, so the state_dict names are
the anchor's without the trainer's "__S__." prefix.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SELayer(nn.Module):
    # ResNetBlocks.py SELayer: global average over (H, W), two Linear layers, sigmoid gate per channel.
    def __init__(self, channel, reduction=8):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channel, channel // reduction), nn.ReLU(inplace=True),
                                nn.Linear(channel // reduction, channel), nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y


class SEBasicBlock(nn.Module):
    # ResNetBlocks.py SEBasicBlock. Note the order conv1 -> ReLU -> bn1 (ReLU before BN) in the first half only.
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, reduction=8):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.se = SELayer(planes, reduction)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.bn1(self.relu(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        if self.downsample is not None:
            residual = self.downsample(x)
        return self.relu(out + residual)


def make_layer(inplanes, planes, blocks, stride):
    # ResNetSE._make_layer (both ResNetSE34L.py and ResNetSE34V2.py); returns (stage, new inplanes).
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                                   nn.BatchNorm2d(planes))
    layers = [SEBasicBlock(inplanes, planes, stride, downsample)]
    layers += [SEBasicBlock(planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers), planes


class ResNetSE34L(nn.Module):
    # ResNetSE34L.py ResNetSE with num_filters [16, 32, 64, 128], layers [3, 4, 6, 3].
    def __init__(self, nOut, encoder_type, num_filters=(16, 32, 64, 128), layers=(3, 4, 6, 3)):
        super().__init__()
        self.encoder_type = encoder_type
        self.conv1 = nn.Conv2d(1, num_filters[0], kernel_size=7, stride=(2, 1), padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(num_filters[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = num_filters[0]
        self.layer1, inplanes = make_layer(inplanes, num_filters[0], layers[0], 1)
        self.layer2, inplanes = make_layer(inplanes, num_filters[1], layers[1], (2, 2))
        self.layer3, inplanes = make_layer(inplanes, num_filters[2], layers[2], (2, 2))
        self.layer4, inplanes = make_layer(inplanes, num_filters[3], layers[3], (1, 1))
        d = num_filters[3]
        self.sap_linear = nn.Linear(d, d)
        self.attention = nn.Parameter(torch.empty(d, 1))
        self.fc = nn.Linear(2 * d if encoder_type == "ASP" else d, nOut)

    def forward(self, feats):
        x = self.relu(self.bn1(self.conv1(feats.unsqueeze(1))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.mean(x, dim=2, keepdim=True)
        x = x.permute(0, 3, 1, 2).squeeze(-1)                       # (B, T', C)
        h = torch.tanh(self.sap_linear(x))
        w = torch.matmul(h, self.attention).squeeze(dim=2)
        w = F.softmax(w, dim=1).view(x.size(0), x.size(1), 1)
        if self.encoder_type == "SAP":
            x = torch.sum(x * w, dim=1)
        else:
            mu = torch.sum(x * w, dim=1)
            rh = torch.sqrt((torch.sum((x ** 2) * w, dim=1) - mu ** 2).clamp(min=1e-5))
            x = torch.cat((mu, rh), 1)
        return self.fc(x.view(x.size(0), -1))


class ResNetSE34V2(nn.Module):
    # ResNetSE34V2.py ResNetSE with num_filters [32, 64, 128, 256]: 3x3 stem with bias, conv1 -> ReLU -> bn1,
    # layer4 stride 2, channel-wise attention (Conv1d, ReLU, BN1d, Conv1d, softmax over time) over (C·F, T).
    def __init__(self, nOut, encoder_type, n_mels, num_filters=(32, 64, 128, 256), layers=(3, 4, 6, 3)):
        super().__init__()
        self.encoder_type = encoder_type
        self.conv1 = nn.Conv2d(1, num_filters[0], kernel_size=3, stride=1, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.bn1 = nn.BatchNorm2d(num_filters[0])
        inplanes = num_filters[0]
        self.layer1, inplanes = make_layer(inplanes, num_filters[0], layers[0], 1)
        self.layer2, inplanes = make_layer(inplanes, num_filters[1], layers[1], (2, 2))
        self.layer3, inplanes = make_layer(inplanes, num_filters[2], layers[2], (2, 2))
        self.layer4, inplanes = make_layer(inplanes, num_filters[3], layers[3], (2, 2))
        d = num_filters[3] * int(n_mels / 8)
        self.attention = nn.Sequential(nn.Conv1d(d, 128, kernel_size=1), nn.ReLU(), nn.BatchNorm1d(128),
                                       nn.Conv1d(128, d, kernel_size=1), nn.Softmax(dim=2))
        self.fc = nn.Linear(2 * d if encoder_type == "ASP" else d, nOut)

    def forward(self, feats):
        x = self.bn1(self.relu(self.conv1(feats.unsqueeze(1))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = x.reshape(x.size()[0], -1, x.size()[-1])
        w = self.attention(x)
        if self.encoder_type == "SAP":
            x = torch.sum(x * w, dim=2)
        else:
            mu = torch.sum(x * w, dim=2)
            sg = torch.sqrt((torch.sum((x ** 2) * w, dim=2) - mu ** 2).clamp(min=1e-5))
            x = torch.cat((mu, sg), 1)
        return self.fc(x.view(x.size()[0], -1))


class VGGVox(nn.Module):
    # VGGVox.py MainModel (VGG-M, Nagrani et al. 2017): n_mels fixed at 40; SAP, TAP (adaptive average) or MAX.
    def __init__(self, nOut, encoder_type):
        super().__init__()
        self.encoder_type = encoder_type
        self.netcnn = nn.Sequential(
            nn.Conv2d(1, 96, kernel_size=(5, 7), stride=(1, 2), padding=(2, 2)), nn.BatchNorm2d(96),
            nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=(1, 3), stride=(1, 2)),
            nn.Conv2d(96, 256, kernel_size=(5, 5), stride=(2, 2), padding=(1, 1)), nn.BatchNorm2d(256),
            nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            nn.Conv2d(256, 384, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(384), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=(3, 3), padding=(1, 1)), nn.BatchNorm2d(256), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2)),
            nn.Conv2d(256, 512, kernel_size=(4, 1), padding=(0, 0)), nn.BatchNorm2d(512), nn.ReLU(inplace=True))
        if encoder_type == "MAX":
            self.encoder = nn.AdaptiveMaxPool2d((1, 1))
        elif encoder_type == "TAP":
            self.encoder = nn.AdaptiveAvgPool2d((1, 1))
        else:
            self.sap_linear = nn.Linear(512, 512)
            self.attention = nn.Parameter(torch.empty(512, 1))
        self.fc = nn.Linear(512, nOut)

    def forward(self, feats):
        x = self.netcnn(feats.unsqueeze(1))
        if self.encoder_type in ("MAX", "TAP"):
            x = self.encoder(x).view((x.size()[0], -1))
        else:
            x = x.permute(0, 2, 1, 3).squeeze(dim=1).permute(0, 2, 1)   # (B, T', 512)
            h = torch.tanh(self.sap_linear(x))
            w = torch.matmul(h, self.attention).squeeze(dim=2)
            w = F.softmax(w, dim=1).view(x.size(0), x.size(1), 1)
            x = torch.sum(x * w, dim=1)
        return self.fc(x)


def resnet_grad_params(head):
    # One small parameter per residual block, rotating over the kinds of tensor a block has, plus the stem and
    # the head; the first blocks of layers 2-3 also give their downsample, which only they have. (A small SE
    # hidden layer can be all-dead: the script refuses all-zero gradients, hence se.fc.0 only where it is wide.)
    kinds = ["bn1.weight", "bn2.bias", "se.fc.2.bias", "se.fc.2.weight", "bn1.bias", "bn2.weight"]
    names, k = ["conv1.weight", "bn1.weight"], 0
    for layer, blocks in zip((1, 2, 3, 4), (3, 4, 6, 3)):
        for b in range(blocks):
            names.append(f"layer{layer}.{b}.{kinds[k % len(kinds)]}")
            k += 1
    names += ["layer2.0.downsample.1.weight", "layer3.0.downsample.0.weight", "layer4.0.se.fc.0.bias"]
    return names + head


# Conv biases followed by train-mode BN (netcnn.0.bias) or by a softmax over time (attention.3.bias) have
# gradient 0 in exact arithmetic, as does V2's attention.2.bias (a shift over time before the softmax): they are
# not listed. VGGVox's T' is 1 at T 70: the inputs below keep 4-5 frames after netcnn so that pooling is not trivial.
VGG_GRADS = ["netcnn.1.weight", "netcnn.5.bias", "netcnn.9.weight", "netcnn.12.bias", "netcnn.15.weight",
             "netcnn.19.bias", "netcnn.0.weight", "fc.bias"]

CASES = [
    dict(case="ResNetSE34L_SAP", model="ResNetSE34L", config=dict(n_mels=40, nOut=512, encoder_type="SAP", C=1024),
         build=lambda: ResNetSE34L(512, "SAP"), input_shape=(2, 40, 80),
         grad_params=resnet_grad_params(["attention", "sap_linear.bias", "fc.bias"])),
    dict(case="ResNetSE34L_ASP", model="ResNetSE34L", config=dict(n_mels=40, nOut=512, encoder_type="ASP", C=1024),
         build=lambda: ResNetSE34L(512, "ASP"), input_shape=(2, 40, 72),
         grad_params=resnet_grad_params(["attention", "sap_linear.bias", "fc.bias"])),
    dict(case="ResNetSE34V2_ASP", model="ResNetSE34V2", config=dict(n_mels=64, nOut=512, encoder_type="ASP", C=1024),
         build=lambda: ResNetSE34V2(512, "ASP", 64), input_shape=(2, 64, 80),
         grad_params=resnet_grad_params(["conv1.bias", "attention.0.bias", "attention.2.weight", "fc.bias"])),
    dict(case="VGGVox_SAP", model="VGGVox", config=dict(n_mels=40, nOut=512, encoder_type="SAP", C=1024),
         build=lambda: VGGVox(512, "SAP"), input_shape=(2, 40, 96),
         grad_params=VGG_GRADS + ["attention", "sap_linear.bias"]),
    dict(case="VGGVox_TAP", model="VGGVox", config=dict(n_mels=40, nOut=512, encoder_type="TAP", C=1024),
         build=lambda: VGGVox(512, "TAP"), input_shape=(2, 40, 90), grad_params=VGG_GRADS),
    dict(case="VGGVox_MAX", model="VGGVox", config=dict(n_mels=40, nOut=512, encoder_type="MAX", C=1024),
         build=lambda: VGGVox(512, "MAX"), input_shape=(2, 40, 86), grad_params=VGG_GRADS),
]
