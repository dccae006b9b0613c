"""A StyleGAN2-style generator (Karras et al., 2020, "Analyzing and Improving the Image Quality
of StyleGAN", arXiv:1912.04958), sized for 16x16 digits.

- Mapping network: z -> w, pixel-normalised z through ``mapping_layers`` Linear + LeakyReLU(0.2)
  layers; the running average ``w_avg`` is tracked while training for the truncation trick
  (w' = w_avg + psi (w - w_avg); psi = ``truncation``, 1 = none).
- Synthesis network: a learned 4x4 constant, then per resolution a (bilinear x2 upsample +)
  modulated-demodulated 3x3 convolution, a second one, and a skip ToRGB (modulated 1x1, no
  demodulation) whose output is added to the upsampled image of the previous resolution.
- Per-pixel noise inputs with learned strengths. The noise is an input, not drawn inside:
  the network takes ``(N, z_dim + noise_dim)`` (latent and every layer's noise, flattened),
  so a noise bank fixes z and the noise alike and FP and quantized models see the same noise.

The modulated convolution is written the way a deployment runs it (the non-fused path of
StyleGAN2): the style scales the *input activation* per input channel, the conv uses the shared
base weight, and demodulation is a per-sample, per-output-channel *output scale*
(:class:`ModulatedConv2d`, a registered layer type of genq.quant.targets). The mapping network
(``mapping.*``) and the style affines (``*.affine``) are plain ``nn.Linear`` layers: the
layer group that recipes keep FP or quantize by name.

Modules are plain ``nn.Linear``/``nn.Conv2d`` with the equalized-learning-rate *initialisation*
(N(0, 1/fan_in)); the equalized learning rate itself lives in the optimiser's per-parameter
learning rates (genq.train.stylegan), which for Adam is the same update.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genq.quant.targets import register_layer_target


def _check_resolution(resolution: int) -> int:
    n = int(round(math.log2(resolution / 4)))
    if n < 1 or 4 * 2 ** n != resolution:
        raise ValueError(f"resolution={resolution} is not supported; accepted: 8, 16, 32, 64, ...")
    return n


class MappingNetwork(nn.Module):
    """z (N, z_dim) -> w (N, w_dim): pixel norm, then Linear + LeakyReLU(0.2) layers.
    ``lr_multiplier`` (0.01 in StyleGAN) scales these layers' learning rate in training."""

    def __init__(self, z_dim: int, w_dim: int, layers: int) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Linear(dims[i], dims[i + 1]), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*mods)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=1 / math.sqrt(m.in_features))
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        return self.net(z)


class ModulatedConv2d(nn.Module):
    """StyleGAN2's modulated (and optionally demodulated) convolution, in the non-fused form a
    deployment runs. The caller applies the style on the activation side; this layer holds the
    base weight ``W`` (C_out, C_in, k, k), shared by all samples:

        forward(x_mod, style):   x_mod = x * style[:, :, None, None]    (style (N, C_in))
        y = conv2d(x_mod, W)
        d = rsqrt(sum_{c,k} (W[o, c, k] style[n, c])^2 + eps)       (N, C_out)
        out = y * d[:, :, None, None]          (demodulation: a per-sample, per-channel output scale)

    ``W`` is read as ``self.weight`` for the conv and the demodulation alike, so once the layer
    is quantized (genq.quant.targets registers this type) both use the quantized base weight,
    and the input quantizer sees the modulated activation, the conv's real input. Smoothing
    and rotation of the input channels (genq.quant.outliers) fold into the conv as for any
    convolution; the demodulation then reads the quantized weight with the transform undone,
    so the FP layer is unchanged by them and the quantized one demodulates what it applies;
    SVDQuant's branch output is added before the demodulation (``lowrank_out``). The layer
    has no bias of its own: the bias is added after the noise (:class:`SynthesisLayer`), so
    GAN bias correction (genq.quant.gan_correction) leaves this layer alone."""

    bias = None
    # for SVDQuant's branch (genq.quant.outliers.lowrank): a stride-1 convolution with
    # same-size padding, whose branch output is added before the demodulation (forward)
    genq_lowrank = "conv"
    genq_lowrank_inside = True
    stride, dilation = (1, 1), (1, 1)

    @property
    def padding(self) -> tuple[int, int]:
        return (self.kernel_size // 2, self.kernel_size // 2)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 demodulate: bool = True) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.demodulate = demodulate
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size)
                                   / math.sqrt(in_channels * kernel_size ** 2))

    def demodulation(self, style: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C_out) demodulation coefficients for styles (N, C_in)."""
        w = self.weight if weight is None else weight
        return torch.rsqrt(style.pow(2) @ w.pow(2).sum(dim=(2, 3)).t() + 1e-8)

    def forward(self, input: torch.Tensor, style: torch.Tensor,
                lowrank_out: torch.Tensor | None = None) -> torch.Tensor:
        weight = self.weight                         # read once: quantized when the layer is
        y = F.conv2d(input, weight, padding=self.kernel_size // 2)
        if lowrank_out is not None:                  # SVDQuant's branch, before the demodulation
            y = y + lowrank_out
        if self.demodulate:
            # the demodulation reads the weight in the input's original channel basis: once an
            # outlier method scaled or rotated the input channels (genq.quant.outliers), the
            # quantized weight with that transform undone (QuantMixin.effective_weight)
            effective = getattr(self, "effective_weight", None)
            basis_weight = weight if effective is None else effective(weight)
            y = y * self.demodulation(style, basis_weight)[:, :, None, None]
        return y

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"demodulate={self.demodulate}")


def style_affine(w_dim: int, channels: int) -> nn.Linear:
    """The affine map w -> style (bias initialised to 1, as in StyleGAN)."""
    affine = nn.Linear(w_dim, channels)
    nn.init.normal_(affine.weight, std=1 / math.sqrt(w_dim))
    nn.init.ones_(affine.bias)
    return affine


class SynthesisLayer(nn.Module):
    """(bilinear x2 upsample +) style affine, modulated 3x3 conv, per-pixel noise (learned
    strength), bias, LeakyReLU(0.2) * sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 upsample: bool = False) -> None:
        super().__init__()
        self.resolution, self.upsample = resolution, upsample
        self.affine = style_affine(w_dim, in_channels)
        self.modconv = ModulatedConv2d(in_channels, out_channels, 3)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        style = self.affine(w)
        x = self.modconv(x * style[:, :, None, None], style)
        x = x + noise * self.noise_strength + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class ToRGB(nn.Module):
    """Style affine + modulated 1x1 conv without demodulation + bias (StyleGAN2's skip output)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = style_affine(w_dim, in_channels)
        self.modconv = ModulatedConv2d(in_channels, channels, 1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.affine(w)
        return self.modconv(x * style[:, :, None, None], style) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (upsample +) conv0, conv1, ToRGB. The 4x4
    block starts from the learned constant and has one conv (``conv0`` None)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, channels: int,
                 resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        first = resolution == 4
        if first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, upsample=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, channels, w_dim)

    @property
    def num_noises(self) -> int:
        return (1 if self.conv0 is None else 2) * self.resolution ** 2

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, w: torch.Tensor,
                noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.resolution
        noises = noise.view(noise.shape[0], -1, 1, r, r).unbind(1)
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(w.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, w, noises[0])
        x = self.conv1(x, w, noises[-1])
        y = self.torgb(x, w)
        img = y if img is None else F.interpolate(img, scale_factor=2, mode="bilinear",
                                                  align_corners=False) + y
        return x, img


class StyleGAN2Generator(nn.Module):
    """(N, z_dim + noise_dim) -> image (N, channels, resolution, resolution) in [-1, 1]
    (the output is clamped by the adapter, not squashed: StyleGAN2 has no tanh).

    ``truncation`` (psi): w' = w_avg + psi (w - w_avg); 1 leaves w as it is."""

    def __init__(self, z_dim: int = 64, w_dim: int = 128, mapping_layers: int = 4,
                 channels_base: int = 1024, channels_max: int = 128, channels: int = 1,
                 resolution: int = 16, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        n_up = _check_resolution(resolution)
        self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, resolution
        self.w_avg_beta = w_avg_beta
        self.truncation = 1.0
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        res = [4 * 2 ** i for i in range(n_up + 1)]
        width = {r: min(channels_base // r, channels_max) for r in res}
        blocks = []
        for i, r in enumerate(res):
            blocks.append(SynthesisBlock(width[res[i - 1]] if i else 0, width[r], w_dim, channels, r))
        self.synthesis = nn.ModuleList(blocks)
        self.noise_dim = sum(b.num_noises for b in self.synthesis)

    @property
    def input_dim(self) -> int:
        return self.z_dim + self.noise_dim

    def random_inputs(self, n: int, generator: torch.Generator | None = None,
                      device: torch.device | str | None = None) -> torch.Tensor:
        return torch.randn(n, self.input_dim, generator=generator, device=device)

    def map(self, z: torch.Tensor, truncation: float | None = None, update_w_avg: bool = False) -> torch.Tensor:
        w = self.mapping(z)
        if update_w_avg:
            self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        psi = self.truncation if truncation is None else truncation
        if psi != 1:
            w = self.w_avg.lerp(w, psi)
        return w

    def synthesize(self, w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = img = None
        start = 0
        for block in self.synthesis:
            x, img = block(x, img, w, noise[:, start:start + block.num_noises])
            start += block.num_noises
        return img

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim != 2 or inputs.shape[1] != self.input_dim:
            raise ValueError(f"StyleGAN2Generator takes (N, {self.input_dim}) inputs "
                             f"(z_dim {self.z_dim} + noise_dim {self.noise_dim}); got {tuple(inputs.shape)}.")
        z, noise = inputs[:, :self.z_dim], inputs[:, self.z_dim:]
        w = self.map(z, update_w_avg=self.training)
        return self.synthesize(w, noise)


class StyleGAN2Discriminator(nn.Module):
    """StyleGAN2's residual discriminator, small: FromRGB 1x1, residual blocks of two 3x3
    convs with bilinear downsampling (skip: downsample + 1x1, scaled by 1/sqrt(2)) down to 4x4,
    minibatch standard deviation (group 4), 3x3 conv, two Linear layers -> logit (N,).
    Only the generator is ever quantized."""

    def __init__(self, channels_base: int = 1024, channels_max: int = 128, channels: int = 1,
                 resolution: int = 16, mbstd_group: int = 4) -> None:
        super().__init__()
        n_down = _check_resolution(resolution)
        res = [resolution // 2 ** i for i in range(n_down + 1)]
        width = {r: min(channels_base // r, channels_max) for r in res}
        self.mbstd_group = mbstd_group
        self.fromrgb = nn.Conv2d(channels, width[resolution], 1)
        self.blocks = nn.ModuleList()
        for r in res[:-1]:
            c_in, c_out = width[r], width[r // 2]
            self.blocks.append(nn.ModuleDict({
                "conv0": nn.Conv2d(c_in, c_in, 3, padding=1),
                "conv1": nn.Conv2d(c_in, c_out, 3, padding=1),
                "skip": nn.Conv2d(c_in, c_out, 1, bias=False)}))
        c4 = width[4]
        self.conv = nn.Conv2d(c4 + 1, c4, 3, padding=1)
        self.fc = nn.Linear(c4 * 16, c4)
        self.out = nn.Linear(c4, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                nn.init.normal_(m.weight, std=1 / math.sqrt(fan_in))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @staticmethod
    def _act(x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2) * math.sqrt(2)

    @staticmethod
    def _down(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2)

    def _mbstd(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        if n % g:
            g = 1
        y = x.view(g, -1, c, h, w)
        y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))   # (n/g,)
        y = y.view(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self._act(self.fromrgb(img))
        for b in self.blocks:
            skip = b["skip"](self._down(x))
            x = self._act(b["conv0"](x))
            x = self._act(b["conv1"](self._down(x)))
            x = (x + skip) / math.sqrt(2)
        x = self._act(self.conv(self._mbstd(x)))
        x = self._act(self.fc(x.flatten(1)))
        return self.out(x).flatten()


# The engine quantizes the modulated convolution like a conv: the base weight per output channel
# (axis 0), per-group along input channels (axis 1), activations over the channel axis 1; every
# recipe whose quant.layers names Conv2d (the default) selects it too. Smoothing and rotation
# apply (the demodulation reads the weight with the transform undone, ModulatedConv2d.forward);
# so does the SVD branch (a ConvLowRank added before the demodulation, genq_lowrank_inside).
register_layer_target(ModulatedConv2d, out_axis=0, in_axis=1, input_channel_axis=1,
                      selected_by=("Conv2d",))
