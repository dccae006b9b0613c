"""A folder of images as a reference set: every image file below ``data.root``, sorted by
path, each resized so its shorter side is the target resolution (PIL bicubic, which
antialiases when it shrinks) and centre cropped to a square, in RGB or greyscale (PIL's
ITU-R 601-2 luma)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

from genq.errors import GenqError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def list_images(root: str | Path | None) -> list[Path]:
    """The image files below ``root`` (recursively), sorted; a GenqError when there are none."""
    if not root:
        raise GenqError("data=image_folder needs data.root, the folder of reference images.")
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise GenqError(f"data.root={str(root)!r} is not an existing folder; accepted: a folder of "
                        f"images ({', '.join(IMAGE_EXTENSIONS)}).")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise GenqError(f"data.root={str(root)!r} holds no image files; accepted extensions: "
                        f"{', '.join(IMAGE_EXTENSIONS)}.")
    return files


def load_image(path: Path, resolution: int, channels: int) -> torch.Tensor:
    """One image as uint8 (channels, resolution, resolution)."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    try:
        with Image.open(path) as img:
            img = img.convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError) as err:
        raise GenqError(f"image {str(path)!r} in data.root could not be read ({err}).") from err
    img = TF.resize(img, resolution, interpolation=InterpolationMode.BICUBIC)
    img = TF.center_crop(img, [resolution, resolution])
    return TF.pil_to_tensor(img)


def load_image_folder(files: list[Path], resolution: int, channels: int) -> torch.Tensor:
    """uint8 images (N, channels, resolution, resolution) from ``files``."""
    import torch

    if channels not in (1, 3):
        raise GenqError(f"image folders load as 1 or 3 channels, but the model makes {channels}.")
    return torch.stack([load_image(p, resolution, channels) for p in files])
