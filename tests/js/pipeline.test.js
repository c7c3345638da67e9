// What the page says about the local runtime's model pipeline, and why Start waits for it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { pipelineView } from "../../frontend/js/pipeline.js";

const training = { state: "training", stage: "training the transformer", progress: 0.42,
  message: "Epoch 1 of 2.", instant_model: true, gpu_model: false };

test("while the transformer trains: the stage, how far, and Start off with the reason", () => {
  assert.deepEqual(pipelineView(training), {
    percent: 42,
    text: "Training the GPU model: training the transformer (42% done). Epoch 1 of 2.",
    startBlocked: "Start becomes available once the GPU model is trained and approved. " +
      "Until then, the instant CPU model answers your reviews.",
  });
});

test("no progress figure means no bar, not an empty one", () => {
  const view = pipelineView({ ...training, progress: null, message: "" });
  assert.equal(view.percent, null);
  assert.equal(view.text, "Training the GPU model: training the transformer.");
});

test("once a GPU model is approved the block hides and Start is free", () => {
  assert.equal(pipelineView({ ...training, state: "ready", progress: 1, gpu_model: true }), null);
  // Retraining while an approved model exists: progress shows, Start stays available.
  assert.equal(pipelineView({ ...training, gpu_model: true }).startBlocked, "");
});

test("a failed training says so and keeps Start off while there is no GPU model", () => {
  const view = pipelineView({ ...training, state: "failed", message: "Out of memory.", instant_model: false });
  assert.equal(view.text, "Training the GPU model failed. Out of memory.");
  assert.equal(view.startBlocked, "Start becomes available once the GPU model is trained and approved.");
});

test("no pipeline answer (a deployed stack) shows nothing", () => {
  assert.equal(pipelineView(null), null);
  assert.equal(pipelineView({ message: "Not Found" }), null);
});
