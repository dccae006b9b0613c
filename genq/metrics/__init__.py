"""Metrics: feature extractors, FID/KID, paired LPIPS/PSNR. Never imports genq.quant."""

from genq.metrics.distribution import fid_from_features, kid_from_features
from genq.metrics.features import ClassifierFeatures, extract, load_feature_extractor
from genq.metrics.frechet import feature_statistics, frechet_distance
from genq.metrics.paired import feature_lpips, psnr

__all__ = ["frechet_distance", "feature_statistics", "fid_from_features", "kid_from_features",
           "ClassifierFeatures", "load_feature_extractor", "extract", "feature_lpips", "psnr"]
