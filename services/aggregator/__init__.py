"""The aggregator service: turns evaluation records into the experiment's report.

The domain API below imports neither grpc, nats nor torch (nor scipy and matplotlib, which load on first use).
The report job that streams records from the artifact store and stores the report is
`services.aggregator.report_job.Reporter`; it is not exported here because it needs the bus and the state
store.
"""

from services.aggregator.bootstrap import ConfidenceInterval, bootstrap_difference_ci, bootstrap_mean_ci
from services.aggregator.record_fold import InstanceScores, ModelScores, PermutationScore, RecordFold
from services.aggregator.report_files import ReportFiles, build_report, report_document
from services.aggregator.statistics import (
    Comparison,
    GroupEstimate,
    InstanceStatistics,
    experiment_statistics,
    instance_statistics,
)
from services.aggregator.suite_titles import instance_title, suite_title

__all__ = [
    "Comparison",
    "ConfidenceInterval",
    "GroupEstimate",
    "InstanceScores",
    "InstanceStatistics",
    "ModelScores",
    "PermutationScore",
    "RecordFold",
    "ReportFiles",
    "bootstrap_difference_ci",
    "bootstrap_mean_ci",
    "build_report",
    "experiment_statistics",
    "instance_statistics",
    "instance_title",
    "report_document",
    "suite_title",
]
