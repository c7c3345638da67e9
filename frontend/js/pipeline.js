// The local runtime's model pipeline (GET /pipeline): the transformer trains in the background while the instant CPU
// model already answers. What the page says about it, and why Start waits for it. Pure functions (tests/js/).

/**
 * What the page shows for a /pipeline answer: null hides the block (no pipeline, or a GPU model that is ready);
 * otherwise {percent (0..100, or null for no bar), text, startBlocked (why Start is off, or "")}.
 */
export function pipelineView(pipeline) {
  if (!pipeline || typeof pipeline !== "object" || typeof pipeline.state !== "string") return null;
  const startBlocked = pipeline.gpu_model === false
    ? "Start becomes available once the GPU model is trained and approved." +
      (pipeline.instant_model ? " Until then, the instant CPU model answers your reviews." : "")
    : "";
  const message = typeof pipeline.message === "string" && pipeline.message ? ` ${pipeline.message}` : "";
  const fraction = pipeline.progress === null || pipeline.progress === undefined ? NaN : Number(pipeline.progress);
  const percent = Number.isFinite(fraction) ? Math.min(100, Math.max(0, fraction * 100)) : null;
  switch (pipeline.state) {
    case "training": {
      const stage = pipeline.stage ? `: ${pipeline.stage}` : "";
      const done = percent === null ? "" : ` (${Math.round(percent)}% done)`;
      return { percent, text: `Training the GPU model${stage}${done}.${message}`, startBlocked };
    }
    case "failed":
      return { percent: null, text: `Training the GPU model failed.${message}`, startBlocked };
    default:
      // "ready" or "none": nothing to watch unless there is still no GPU model to start.
      if (!startBlocked) return null;
      return { percent: null, text: `No GPU model is trained yet.${message}`, startBlocked };
  }
}
