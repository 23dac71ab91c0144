"""The aggregator service: turns evaluation records into the experiment's report.

The domain API below imports neither grpc, nats nor torch (nor scipy and matplotlib, which load on first use).
The report job that streams records from the artifact store and stores the report is
`services.aggregator.report_job.Reporter`; it is not exported here because it needs the bus and the state
store.
"""

from services.aggregator.ablation import AblationGrid, ablation_grids
from services.aggregator.bootstrap import (
    Clusters,
    ConfidenceInterval,
    DifferenceInterval,
    SeedMeans,
    bootstrap_mean_ci,
    difference_ci,
    mean_ci,
)
from services.aggregator.correlation import Correlation, pearson
from services.aggregator.faithfulness import Faithfulness, faithfulness
from services.aggregator.record_fold import InstanceScores, ModelScores, PermutationScore, RecordFold
from services.aggregator.report_content import ReportContent
from services.aggregator.report_files import ReportFiles, build_report, report_document
from services.aggregator.statistics import (
    AnswerDistribution,
    Comparison,
    GroupEstimate,
    InstanceStatistics,
    experiment_statistics,
    instance_statistics,
)
from services.aggregator.suite_info import SuiteInfo, suite_infos
from services.aggregator.suite_titles import instance_title, suite_title

__all__ = [
    "AblationGrid",
    "AnswerDistribution",
    "Clusters",
    "Comparison",
    "ConfidenceInterval",
    "Correlation",
    "DifferenceInterval",
    "Faithfulness",
    "GroupEstimate",
    "InstanceScores",
    "InstanceStatistics",
    "ModelScores",
    "PermutationScore",
    "RecordFold",
    "ReportContent",
    "ReportFiles",
    "SeedMeans",
    "SuiteInfo",
    "ablation_grids",
    "bootstrap_mean_ci",
    "build_report",
    "difference_ci",
    "experiment_statistics",
    "faithfulness",
    "instance_statistics",
    "instance_title",
    "mean_ci",
    "pearson",
    "report_document",
    "suite_infos",
    "suite_title",
]
