"""Range and choice checks of the metrics config (run by :func:`genq.config.validate`)."""

from __future__ import annotations

from typing import Any

from genq.errors import GenqError, check_choice

EXTRACTORS = ("digits_classifier", "inception")
LPIPS_NETS = ("digits_classifier", "alex", "vgg", "squeeze")
IMPLEMENTATIONS = ("torchmetrics", "torch_fidelity")
LPIPS_MIN_SIDE = {"alex": 31, "squeeze": 17, "vgg": 16}   # smallest input each backbone accepts


def validate_metrics(m: Any) -> None:
    """One sentence per bad value, before any model is loaded."""
    if m.n_samples < 2:
        raise GenqError(f"metrics.n_samples={m.n_samples} is too small; accepted: 2 or more.")
    check_choice("metrics.feature_extractor", m.feature_extractor, EXTRACTORS)
    check_choice("metrics.lpips_net", m.lpips_net, LPIPS_NETS)
    check_choice("metrics.implementation", m.implementation, IMPLEMENTATIONS)
    for key, low in (("kid_subset_size", 2), ("kid_subsets", 1), ("batch_size", 1), ("is_splits", 1),
                     ("pr_k", 1)):
        if getattr(m, key) < low:
            raise GenqError(f"metrics.{key}={getattr(m, key)} is too small; accepted: {low} or more.")
    if m.bootstrap < 0 or 0 < m.bootstrap < 20:
        raise GenqError(f"metrics.bootstrap={m.bootstrap} resamples cannot bound a 95% interval; "
                        "accepted: 0 (no intervals) or 20 or more (200 is the default).")
    if m.compute_is and m.is_splits > m.n_samples:
        raise GenqError(f"metrics.is_splits={m.is_splits} is more than metrics.n_samples={m.n_samples}; "
                        "accepted: at most one split per sample (papers: 10 splits of 50000).")
    if m.compute_pr and m.pr_k >= m.n_samples:
        raise GenqError(f"metrics.pr_k={m.pr_k} needs more samples than neighbours; got "
                        f"metrics.n_samples={m.n_samples}, accepted: pr_k < n_samples.")
    low = LPIPS_MIN_SIDE.get(m.lpips_net)
    if m.lpips_resize is not None and (low is None or m.lpips_resize < low):
        raise GenqError(f"metrics.lpips_resize={m.lpips_resize} does not fit metrics.lpips_net="
                        f"{m.lpips_net}; accepted: null (native size, or 64 when images are smaller than "
                        "the network accepts), or for alex/squeeze/vgg at least 31/17/16.")
