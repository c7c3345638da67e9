"""What the pipeline takes and costs, from where its instances and limits are declared."""

from __future__ import annotations

from deploy.estimate import estimate_text, pipeline_stages
from deploy.preflight import ASL
from deploy.settings import ROOT
from local_runtime.cfn_template import load_template


def test_each_stage_is_priced_at_its_declared_instance_and_limit() -> None:
    stages = pipeline_stages(ROOT / ASL, load_template(ROOT / "statemachine" / "pipeline.yaml"))

    assert [(stage.name, stage.what, stage.limit_minutes) for stage in stages] == [
        ("Curate raw reviews", "Glue Python shell, 1 DPU", 60),
        ("Train the instant model", "1 x ml.g4dn.xlarge", 30),
        ("Fine-tune the model", "1 x ml.g4dn.xlarge", 180),
    ]
    text = estimate_text(stages)
    assert "at most 180 min ($2.21)" in text  # 3 h of ml.g4dn.xlarge at 0.736 USD/h
    assert "at most 4 h 30 min and $3.02" in text
