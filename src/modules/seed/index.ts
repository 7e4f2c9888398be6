/**
 * The seed module: fixture loaders for development and benchmarks (the demo data at start with SEED_DEMO, the synthetic
 * data sets of the CLI). They write every module's tables in one set-based transaction (indexes deferred, triggers
 * off): the one sanctioned exception to "each table has one store that writes it" (see README, Architecture).
 */
export { DEMO_DATASET_ID, DEMO_DATASET_INPUT, DEMO_SPEC, demoId, seedDemoDataset, seedDemoIfEmpty } from './demo';
export { bulkSession, writeSynthetic, type SyntheticSpec } from './synthetic';
