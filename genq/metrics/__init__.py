"""Metrics: feature extractors (digits classifier, torch-fidelity Inception-v3), FID/KID/IS,
precision/recall/density/coverage, bootstrap intervals, cached reference statistics, paired LPIPS/PSNR/SSIM. The run calls
:func:`check_metric_weights` before sampling and :func:`score_run` after it.
Never imports genq.quant.

Exports load lazily (genq._lazy): ``genq.metrics.checks`` validates a config without torch."""

from genq._lazy import lazy_exports

_EXPORTS = {"fid_from_features": "distribution", "inception_score": "distribution",
            "kid_from_features": "distribution", "ClassifierFeatures": "features", "extract": "features",
            "extract_all": "features", "load_feature_extractor": "features",
            "feature_statistics": "frechet", "frechet_distance": "frechet", "feature_lpips": "paired",
            "psnr": "paired", "ssim": "paired", "prdc": "prdc", "score_run": "suite",
            "check_metric_weights": "weights"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kid_from_features",
           "inception_score", "prdc", "ClassifierFeatures", "load_feature_extractor",
           "extract", "extract_all", "feature_lpips", "psnr", "ssim", "score_run",
           "check_metric_weights"]
