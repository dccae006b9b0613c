"""Metrics: feature extractors (digits classifier, torch-fidelity Inception-v3), FID/KID/IS,
precision/recall/density/coverage, bootstrap intervals, cached reference statistics, paired LPIPS/PSNR/SSIM. The run calls
:func:`check_metric_weights` before sampling and :func:`score_run` after it.
Never imports genq.quant."""

from genq.metrics.distribution import fid_from_features, inception_score, kid_from_features
from genq.metrics.features import ClassifierFeatures, extract, extract_all, load_feature_extractor
from genq.metrics.frechet import feature_statistics, frechet_distance
from genq.metrics.paired import feature_lpips, psnr, ssim
from genq.metrics.prdc import prdc
from genq.metrics.suite import score_run
from genq.metrics.weights import check_metric_weights

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kid_from_features",
           "inception_score", "prdc", "ClassifierFeatures", "load_feature_extractor",
           "extract", "extract_all", "feature_lpips", "psnr", "ssim", "score_run",
           "check_metric_weights"]
