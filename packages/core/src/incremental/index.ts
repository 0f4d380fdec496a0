export { incrementalScorer, type IncrementalOptions, type IncrementalScorer } from './scorer.js';
export { planIncremental, type IncrementalPlan, type PlanNode, type PlanResult, type PlanOptions } from './plan.js';
export { batchPatches, windowField, type Box, type Patch, type FieldOptions } from './field.js';
export { occlusionFlops, stepFlops, type OcclusionFlops, type OcclusionFlopsOptions } from './flops.js';
