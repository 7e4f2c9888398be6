import fs from 'node:fs';

/**
 * `node dist/bench/growth.js RESULTS.json...` (one file per scale, smallest first, as `npm run bench -- --out` wrote
 * them): each metric's value per scale side by side, and from each scale to the next its growth against the corpus's.
 *
 * Whole-corpus work is flagged SUPERLINEAR when it grows more than 1.25× faster than the corpus (the margin is noise);
 * per-request work (PER_REQUEST) is flagged GROWS when it grows more than 2× at all. Throughputs (requests/s) count as
 * their inverse. Exits 1 when anything is flagged.
 */
interface Results {
  scale: string;
  storage: string;
  corpus?: { users: number; items: number };
  seedSeconds?: number;
  metrics: Record<string, { value: number; baseline: number; unit: string }>;
}

/** Work per request, which must not grow with the corpus at all. */
export const PER_REQUEST = new Set([
  'verdictLatency',
  'verdictLatencyP99',
  'eligibleContentPage',
  'eligibilityBatch',
  'eligibilityBatchLatency',
  'httpEligibility',
  'httpEligibilityP99',
]);
/** The corpus of result files written before they recorded it (mixed plus clean items). */
const ITEMS_BY_SCALE: Record<string, number> = { s: 200_000, m: 2_000_000, l: 10_000_000 };
/** Noise margins: how much faster than the corpus whole-corpus work may grow, and how much per-request work may. */
const SUPERLINEAR = 1.25;
const PER_REQUEST_GROWTH = 2;

export interface GrowthRow {
  metric: string;
  unit: string;
  values: (number | undefined)[];
  /** Per step: the metric's growth (cost, so throughputs inverted) and the corpus's. */
  steps: { growth: number; corpus: number; flag?: 'SUPERLINEAR' | 'GROWS'; vsFloor?: number }[];
}

export function growthRows(files: Results[]): GrowthRow[] {
  const items = files.map((f) => f.corpus?.items ?? ITEMS_BY_SCALE[f.scale]);
  const keys = [...new Set(files.flatMap((f) => Object.keys(f.metrics)))]
    // The same value against another baseline (eligibleCountVsFloor, datasetRequestVsTable…): shown once.
    .filter((k) => !/Vs[A-Z]\w*$/.test(k));
  const rows: GrowthRow[] = keys.map((k) => ({
    metric: k,
    unit: files.map((f) => f.metrics[k]?.unit).find(Boolean) ?? '',
    values: files.map((f) => f.metrics[k]?.value),
    steps: [],
  }));
  // The floor (a bare scan of content joined to users): the hardware's own growth, for comparison.
  if (files.some((f) => f.metrics.eligibleCountVsFloor)) {
    rows.push({
      metric: 'floor',
      unit: 'ms, bare scan of content joined to users',
      values: files.map((f) => f.metrics.eligibleCountVsFloor?.baseline),
      steps: [],
    });
  }
  if (files.some((f) => f.seedSeconds != null))
    rows.push({ metric: 'seed', unit: 's, seeding with indexes and vacuum', values: files.map((f) => f.seedSeconds), steps: [] });
  const floor = rows.find((r) => r.metric === 'floor');
  for (const row of rows) {
    const throughput = /requests\/s/.test(row.unit);
    for (let i = 1; i < files.length; i++) {
      const [a, b] = [row.values[i - 1], row.values[i]];
      const corpus = items[i] / items[i - 1];
      if (a == null || b == null || !a || !b) {
        row.steps.push({ growth: NaN, corpus });
        continue;
      }
      const growth = throughput ? a / b : b / a;
      const perRequest = PER_REQUEST.has(row.metric);
      // The floor and the seed are not the service: shown, never flagged.
      const ours = row !== floor && row.metric !== 'seed';
      const flag = !ours
        ? undefined
        : perRequest
          ? growth > PER_REQUEST_GROWTH
            ? 'GROWS'
            : undefined
          : growth > corpus * SUPERLINEAR
            ? 'SUPERLINEAR'
            : undefined;
      // The floor's own growth says how much of it is the hardware's (a corpus outgrowing the caches grows it too).
      const [fa, fb] = [floor?.values[i - 1], floor?.values[i]];
      const vsFloor = !perRequest && row !== floor && fa && fb ? growth / (fb / fa) : undefined;
      row.steps.push({ growth, corpus, flag, vsFloor });
    }
  }
  return rows;
}

export function growthTable(files: Results[]): { text: string; flagged: number } {
  const rows = growthRows(files);
  const items = files.map((f) => f.corpus?.items ?? ITEMS_BY_SCALE[f.scale]);
  const head = [
    'metric',
    ...files.map((f, i) => `${f.scale} (${(items[i] / 1e6).toLocaleString('en')}M items)`),
    ...files.slice(1).map((f, i) => `${files[i].scale}→${f.scale} (corpus ×${round(items[i + 1] / items[i])})`),
    'unit',
  ];
  const cells = rows.map((r) => [
    r.metric,
    ...r.values.map((v) => (v == null ? '-' : String(v))),
    ...r.steps.map((s) =>
      Number.isNaN(s.growth)
        ? '-'
        : `×${round(s.growth)}${s.flag ? ` ${s.flag}` : ''}${s.vsFloor ? ` (${round(s.vsFloor)}× the floor's)` : ''}`,
    ),
    PER_REQUEST.has(r.metric) ? `${r.unit} [per request]` : r.unit,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join('  ');
  const flagged = rows.reduce((n, r) => n + r.steps.filter((s) => s.flag).length, 0);
  const legend = `growth: the cost's factor from one scale to the next (throughputs inverted); SUPERLINEAR: whole-corpus work growing more than ${SUPERLINEAR}× faster than the corpus; GROWS: per-request work growing more than ${PER_REQUEST_GROWTH}×; (N× the floor's): whole-corpus growth over the floor's, the bare scan's, which shows what the hardware adds (caches outgrown)`;
  return { text: [line(head), ...cells.map(line), '', legend, `${flagged} flagged`].join('\n'), flagged };
}

const round = (x: number) => Math.round(x * 100) / 100;

if (require.main === module) {
  const paths = process.argv.slice(2);
  if (paths.length < 2) {
    console.error('usage: node dist/bench/growth.js RESULTS.json RESULTS.json [...] (smallest scale first)');
    process.exit(2);
  }
  const { text, flagged } = growthTable(paths.map((p) => JSON.parse(fs.readFileSync(p, 'utf8'))));
  console.log(text);
  process.exitCode = flagged ? 1 : 0;
}
