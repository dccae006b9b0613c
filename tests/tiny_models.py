"""The tiny diffusers UNet the quantization, PTQ-method and backend tests share: two levels,
attention on the second, seconds to quantize and run on CPU."""

from __future__ import annotations

import torch


def tiny_unet(sample_size: int = 8, block_out_channels: tuple[int, int] = (8, 16),
              norm_num_groups: int = 4):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=sample_size, in_channels=1, out_channels=1, layers_per_block=1,
                       block_out_channels=block_out_channels, norm_num_groups=norm_num_groups,
                       attention_head_dim=8, down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D")).eval()
