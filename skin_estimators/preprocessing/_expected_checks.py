"""scikit-learn common checks that the image transformers cannot pass, and why.

For ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``. Every
check listed feeds the estimator 2-D numeric data (a feature table): ImageLoader takes image
files or image arrays and ChannelNormalizer 4-D images ``(n, H, W, 3)``, so both reject it
with a ValueError that says what they take. All the other checks (cloning, parameters,
repr, tags, sparse and complex input, unfitted errors, ...) pass; tests/test_preprocessing.py
keeps this list exact.
"""

__all__ = ["EXPECTED_FAILED_CHECKS", "expected_failed_checks"]

_CHECKS_2D = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
]

_LOADER_REASON = (
    "uses 2-D numeric data; ImageLoader takes image files (or image arrays), not features"
)
_NORMALIZER_REASON = (
    "uses 2-D numeric data; ChannelNormalizer takes 4-D images (n, height, width, 3) only"
)

EXPECTED_FAILED_CHECKS = {
    "ImageLoader": {
        **dict.fromkeys(_CHECKS_2D, _LOADER_REASON),
        "check_transformers_unfitted_stateless": _LOADER_REASON,
    },
    "ChannelNormalizer": {
        **dict.fromkeys(_CHECKS_2D, _NORMALIZER_REASON),
        "check_transformer_preserve_dtypes": _NORMALIZER_REASON,
    },
}


def expected_failed_checks(estimator):
    """Return ``{check_name: reason}`` for an estimator of this package (else ``{}``)."""
    return dict(EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}))
