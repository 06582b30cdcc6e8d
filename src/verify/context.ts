import type { AnchorSet } from "./anchors.js";
import type { VerifierCaches } from "./caches.js";
import type { Run } from "./run.js";

/** What every step of a verification works with: the run's record, the verifier's caches, its anchors. */
export interface StepContext {
  run: Run;
  caches: VerifierCaches;
  anchors: AnchorSet;
}
