"""scikit-learn's own estimator checks on neurodecode's estimators, with the skipped checks declared.

Every one of these estimators takes windows, 3-D ``(n_windows, n_channels, n_times)`` arrays
(``TangentSpace`` takes covariance matrices, ``DecisionSmoother`` a time-ordered stream), while most
of scikit-learn's checks feed 2-D ``(n_samples, n_features)`` tables of random numbers. Those checks
cannot apply and are declared below with that reason; the API checks (parameters, ``get_params`` /
``set_params``, cloning, ``repr``, tags, nothing set in ``__init__``) run and must pass.
"""
from __future__ import annotations

import warnings

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurodecode.models import (
    CCA,
    FBCCA,
    TRCA,
    DeepClassifier,
    FilterBank,
    FilterBankCSP,
)
from neurodecode.models.anomaly import AuditRuleScorer, DropAnomalies, PeakToPeakScorer, PotatoScorer, VAEAnomalyScorer
from neurodecode.models.online import DecisionSmoother, IdleThreshold
from neurodecode.models.riemann import Covariances, TangentSpace

ESTIMATORS = [Covariances(), TangentSpace(), FilterBank(bands=[[8, 12]], sfreq=128.0), FilterBankCSP(),
              CCA(sfreq=128.0), FBCCA(sfreq=128.0), TRCA(sfreq=128.0),
              DeepClassifier("ShallowConvNet", max_epochs=1, sfreq=128.0), IdleThreshold(LogisticRegression()),
              DecisionSmoother(LogisticRegression()), VAEAnomalyScorer(sfreq=128.0, epochs=1), PotatoScorer(),
              PeakToPeakScorer(), AuditRuleScorer(), DropAnomalies(LogisticRegression())]

#: Checks that feed 2-D tables (or 1-D, sparse, complex, object, NaN data) to estimators of windows.
TABLE_INPUT = {
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_estimators_unfitted",
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit", "check_estimators_dtypes",
    "check_sample_weights_pandas_series", "check_sample_weights_not_an_array", "check_sample_weights_list",
    "check_all_zero_sample_weights_error", "check_sample_weights_shape", "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data", "check_complex_data", "check_dtype_object",
    "check_estimators_empty_data_messages", "check_pipeline_consistency", "check_estimators_nan_inf",
    "check_estimator_sparse_tag", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes", "check_transformers_unfitted",
    "check_classifier_data_not_an_array", "check_classifiers_one_label", "check_classifiers_classes",
    "check_classifiers_train", "check_classifiers_regression_target", "check_supervised_y_2d",
    "check_decision_proba_consistency", "check_class_weight_classifiers", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in", "check_fit1d",
    "check_fit2d_predict1d", "check_requires_y_none",
}
WHY_TABLE = "feeds 2-D tables of random numbers; this estimator takes 3-D windows or covariance matrices"
#: pyRiemann's Covariances(estimator, **kwds) keeps **kwds for its estimator, which the checks refuse.
PYRIEMANN_KWDS = {"check_no_attributes_set_in_init", "check_do_not_raise_errors_in_init_or_set_params"}


def expected_failures(estimator) -> dict[str, str]:
    out = dict.fromkeys(TABLE_INPUT, WHY_TABLE)
    if isinstance(estimator, Covariances):
        out.update(dict.fromkeys(PYRIEMANN_KWDS, "inherited from pyRiemann: Covariances(estimator, **kwds)"))
    return out


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
