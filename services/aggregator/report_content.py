"""Everything a report shows, computed once and handed to each renderer (Markdown, JSON, figures)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid
from services.aggregator.backdoors import Backdoors
from services.aggregator.faithfulness import Faithfulness
from services.aggregator.make_me_say import MakeMeSay
from services.aggregator.personas import Personas
from services.aggregator.record_fold import ModelScores
from services.aggregator.statistics import InstanceStatistics
from services.aggregator.vulnerable_code import VulnerableCode


@dataclass(frozen=True)
class ReportContent:
    experiment_id: str
    spec: spec_pb2.ExperimentSpec
    #: Per suite instance, in spec order.
    stats: Sequence[InstanceStatistics]
    models: Sequence[ModelScores]
    faithfulness: Sequence[Faithfulness] = ()
    #: Table 28 grids, one per base model, when the arms are a size × epochs ablation.
    grids: Sequence[AblationGrid] = ()
    #: Figures 6, 21-23 and 25's numbers, when the experiment has Make Me Say arms or suites.
    make_me_say: MakeMeSay = MakeMeSay()
    #: Each arm's dataset from the manifest, in spec order (empty for a report built without one).
    datasets: Sequence[rec.ArmDataset] = ()
    #: Table 2 per base model, when the experiment has vulnerable-code instances.
    vulnerable_code: VulnerableCode = VulnerableCode()
    #: Figures 8, 9 and 11/34, when the experiment has backdoor suites.
    backdoors: Backdoors = Backdoors()
    #: Figures 13 and 15 and the conditional game play, when the experiment asks about personas.
    personas: Personas = Personas()
