"""How long the training pipeline takes and what it costs, said before it starts: each stage's instance and time limit
read from where they are declared (pipeline.yaml's Glue job, the ASL's training jobs), priced at us-east-1 list prices.
The expected times are estimates (no GPU run has been timed here); the limits are the stack's own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.progress import duration_text

# us-east-1 on-demand list prices, USD per hour. SageMaker training (aws.amazon.com/sagemaker/pricing/, ml.g4dn.xlarge
# 0.736, the price the dashboard uses for the endpoint); Glue Python shell per DPU-hour with a 1-minute minimum
# (aws.amazon.com/glue/pricing/).
TRAINING_USD_PER_HOUR = {"ml.g4dn.xlarge": 0.736}
GLUE_USD_PER_DPU_HOUR = 0.44
# Minutes each stage is expected to take (instance start and image pull included), low and high: estimates.
EXPECTED_MINUTES = {
    "Curate raw reviews": (2, 10),
    "Train the instant model": (5, 15),  # seconds of CPU work (docs/measurements.md) after the instance starts
    "Fine-tune the model": (60, 120),  # 2 epochs of IMDb at 512 tokens (docs/deploy.md's estimate)
}


@dataclass(frozen=True)
class Stage:
    name: str
    what: str
    usd_per_hour: float | None
    expected_minutes: tuple[float, float]
    limit_minutes: float

    def cost(self, minutes: float) -> float | None:
        return None if self.usd_per_hour is None else self.usd_per_hour * minutes / 60


def pipeline_stages(asl_path: Path, pipeline: dict[str, Any]) -> list[Stage]:
    job = pipeline["Resources"]["CurateReviewsJob"]["Properties"]
    curate = "Curate raw reviews"
    stages = [
        Stage(
            curate,
            f"Glue Python shell, {job['MaxCapacity']} DPU",
            GLUE_USD_PER_DPU_HOUR * float(job["MaxCapacity"]),
            EXPECTED_MINUTES[curate],
            float(job["Timeout"]),
        )
    ]
    for name, state in json.loads(asl_path.read_text())["States"].items():
        config = state.get("Parameters", {}).get("ResourceConfig")
        if not config:
            continue
        kind, count = config["InstanceType"], int(config["InstanceCount"])
        limit = state["Parameters"]["StoppingCondition"]["MaxRuntimeInSeconds"] / 60
        price = TRAINING_USD_PER_HOUR.get(kind)
        stages.append(
            Stage(
                name,
                f"{count} x {kind}",
                None if price is None else price * count,
                EXPECTED_MINUTES.get(name, (0, limit)),
                limit,
            )
        )
    return stages


def _usd(value: float | None) -> str:
    return "price unknown (see the pricing page)" if value is None else f"${value:.2f}"


def estimate_text(stages: list[Stage]) -> str:
    lines = [
        "The training pipeline, before it starts (us-east-1 list prices; times are estimates, limits the stack's):"
    ]
    for stage in stages:
        low, high = stage.expected_minutes
        lines.append(
            f"  {stage.name}: {stage.what}, about {low:g}-{high:g} min ({_usd(stage.cost(low))}-"
            f"{_usd(stage.cost(high))}), at most {stage.limit_minutes:g} min ({_usd(stage.cost(stage.limit_minutes))})"
        )
    low = sum(stage.expected_minutes[0] for stage in stages)
    high = sum(stage.expected_minutes[1] for stage in stages)
    limit = sum(stage.limit_minutes for stage in stages)
    costs = [stage.cost(minutes) for stage in stages for minutes in (*stage.expected_minutes, stage.limit_minutes)]
    if None in costs:
        lines.append(f"  In all: about {duration_text(low * 60)} to {duration_text(high * 60)}")
    else:
        expected = sum(stage.cost(stage.expected_minutes[1]) or 0 for stage in stages)
        worst = sum(stage.cost(stage.limit_minutes) or 0 for stage in stages)
        lines.append(
            f"  In all: about {duration_text(low * 60)} to {duration_text(high * 60)} and up to ${expected:.2f}; "
            f"at most {duration_text(limit * 60)} and ${worst:.2f}"
        )
    lines.append(
        "  The page answers from the instant model meanwhile; the endpoint bills only while someone starts it."
    )
    return "\n".join(lines)
