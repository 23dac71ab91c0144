"""The aggregator service: turns per-model evaluation scores into the experiment's report.

The domain API below imports neither grpc, nats nor torch.
"""

from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_difference_ci, bootstrap_mean_ci
from services.aggregator.report import ReportFiles, build_report, report_document
from services.aggregator.statistics import (
    Comparison,
    GroupEstimate,
    ModelScores,
    SuiteStatistics,
    suite_statistics,
)
from services.aggregator.suite_titles import suite_title

__all__ = [
    "Comparison",
    "ConfidenceInterval",
    "GroupEstimate",
    "ModelScores",
    "ReportFiles",
    "SuiteStatistics",
    "bootstrap_difference_ci",
    "bootstrap_mean_ci",
    "build_report",
    "report_document",
    "suite_statistics",
    "suite_title",
]
