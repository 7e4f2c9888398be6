import type { DatasetLineage } from '../datasets';
import { insertDatasetEdges, parentDatasets } from './lineage.store';

/** The lineage module: training runs and their reviews, the graph between datasets and runs, footprints, OpenLineage events. */
export { LineageService } from './lineage.service';
export { datasetEvent, trainingRunEvent } from './openlineage';
export * from './lineage.types';

/**
 * The lineage graph as DatasetService writes and reads it, passed by createServices: lineage_edges has one writer,
 * the lineage store, and DatasetService needs no LineageService (which depends on it).
 */
export const datasetLineage: DatasetLineage = { addEdges: insertDatasetEdges, parents: parentDatasets };
