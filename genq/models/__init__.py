"""Generator adapters behind one protocol (GANs and diffusion), and their checkpoints."""

from genq.models.base import GeneratorAdapter
from genq.models.classifier import DigitsClassifier
from genq.models.diffusion import DiffusionAdapter
from genq.models.gan import GANAdapter
from genq.models.registry import cache_dir, embedded_weights_dir, load_classifier, load_generator

__all__ = ["GeneratorAdapter", "GANAdapter", "DiffusionAdapter", "DigitsClassifier",
           "load_generator", "load_classifier", "embedded_weights_dir", "cache_dir"]
