import type { RequestContext } from '../../context';
import type { Policy } from '../policies';
import type { DatasetRow } from './dataset.types';
import { cardBreakdown, cardNeighbours } from './dataset.store';

/** Everything a dataset card shows. */
export interface CardData {
  dataset: DatasetRow;
  policy: Policy;
  breakdown: Record<'platform' | 'kind' | 'language' | 'country', { key: string; count: number }[]>;
  parents: { id: string; label: string; relation: string }[];
  children: { id: string; label: string; relation: string }[];
}

/** Gathers a card's facts: one statement for the four breakdowns (GROUPING SETS), one for the neighbours. */
export async function cardData(ctx: RequestContext, dataset: DatasetRow, sees: (owner: string) => boolean): Promise<CardData> {
  const policy = (await ctx.loaders.policyById.load(dataset.policyId))!;
  const rows = await cardBreakdown(ctx.manager, dataset.id);
  const breakdown: CardData['breakdown'] = { platform: [], kind: [], language: [], country: [] };
  for (const r of rows) breakdown[r.dim as keyof CardData['breakdown']].push({ key: r.key, count: r.count });
  const neighbours = await cardNeighbours(ctx.manager, dataset.id);
  // Another ML engineer's neighbours are named by their opaque id only.
  const edges = neighbours.map(({ owner, ...e }) => (sees(owner) ? e : { ...e, label: e.id }));
  return {
    dataset,
    policy,
    breakdown,
    parents: edges.filter((e) => e.direction === 'up'),
    children: edges.filter((e) => e.direction === 'down'),
  };
}

const purposeOf = (d: DatasetRow) => d.purpose ?? '(no purpose given)';

/**
 * Text from users or clients inside one Markdown line: line breaks become spaces (no new block can start: headings,
 * lists, link reference definitions) and every character that Markdown or HTML could read as syntax is
 * backslash-escaped (CommonMark lets any ASCII punctuation be), so the text shows as typed and no link, image, HTML
 * tag, emphasis, code span or table cell can be formed from it.
 */
export const mdText = (s: string) => s.replace(/[\r\n]+/g, ' ').replace(/[\\`*_{}[\]()<>#+!|~&"':]/g, '\\$&');

/** The policy's facts, in two sentences (the same in both forms of the card); `text` escapes free text. */
const policySummary = (p: Policy, text: (s: string) => string) => [
  `${text(p.key)} v${p.version} (${p.mode}), purpose ${p.purpose}, legal basis: ${text(p.legalBasis)}.`,
  `Minimum age ${p.minimumAge}; regions ${p.regions.join(', ')}; platforms ${p.platforms.join(', ')}; kinds ${p.kinds.join(', ')}; excluded labels ${text(p.excludedLabels.join(', ')) || 'none'}.`,
];

/** The card as Markdown. */
export function cardMarkdown(c: CardData): string {
  const d = c.dataset;
  const table = (title: string, rows: { key: string; count: number }[]) =>
    [
      `### ${title}`,
      '',
      '| value | items | share |',
      '|---|---:|---:|',
      ...rows.map((r) => `| ${mdText(r.key)} | ${r.count} | ${d.memberCount ? ((100 * r.count) / d.memberCount).toFixed(1) : '0.0'}% |`),
      '',
    ].join('\n');
  return [
    `# Dataset card: ${mdText(d.name)} v${d.version}`,
    '',
    `**Purpose:** ${mdText(purposeOf(d))}  `,
    `**Status:** ${d.status}${d.supersededBy ? ` (superseded by ${d.supersededBy})` : ''}  `,
    `**Made by:** ${d.origin} by ${mdText(d.requestedBy)}  `,
    `**Snapshot:** ${d.snapshotAt.toISOString()} (membership honours every objection, erasure and change recorded by then)  `,
    `**Members:** ${d.memberCount} of ${d.candidateCount} candidates  `,
    `**Manifest digest (SHA-256):** \`${d.manifestDigest}\``,
    '',
    '## Policy',
    '',
    ...policySummary(c.policy, mdText),
    '',
    '## Composition',
    '',
    table('By platform', c.breakdown.platform),
    table('By kind', c.breakdown.kind),
    table('By language', c.breakdown.language),
    table('By country', c.breakdown.country),
    '## Exclusions at build time',
    '',
    '| reason | candidates |',
    '|---|---:|',
    ...d.exclusions.map((e) => `| ${e.reason} | ${e.count} |`),
    '',
    '## Lineage',
    '',
    ...(c.parents.length ? c.parents.map((p) => `- from ${mdText(p.label)} (${p.relation}, ${p.id})`) : ['- built from content directly']),
    ...c.children.map((p) => `- used by ${mdText(p.label)} (${p.relation}, ${p.id})`),
    '',
  ].join('\n');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/** A label that may break after underscores, dots and dashes (long reason codes wrap instead of being cut). */
const breakable = (s: string) => esc(s).replace(/([_./-])/g, '$1<wbr>');

/**
 * A horizontal bar chart: one table row per value (a label that wraps, a bar as inline SVG that scales with the
 * column, the count), so that it fits any column width. No script, no external resource.
 */
function bars(title: string, rows: { key: string; count: number }[]): string {
  const max = Math.max(1, ...rows.map((r) => r.count));
  const shown = rows.slice(0, 20);
  const body = shown
    .map((r) => {
      const w = ((100 * r.count) / max).toFixed(2);
      return `<tr><th scope="row">${breakable(r.key)}</th><td class="bar"><svg xmlns="http://www.w3.org/2000/svg" aria-hidden="true" width="100%" height="14" viewBox="0 0 100 14" preserveAspectRatio="none"><rect x="0" y="0" width="${w}" height="14" fill="#4a6fa5"><title>${esc(r.key)}: ${r.count}</title></rect></svg></td><td class="n">${r.count}</td></tr>`;
    })
    .join('');
  const more = rows.length > shown.length ? `<tr><td colspan="3">and ${rows.length - shown.length} more</td></tr>` : '';
  return `<figure><figcaption>${esc(title)}</figcaption><table class="chart"><tbody>${body || '<tr><td colspan="3">none</td></tr>'}${more}</tbody></table></figure>`;
}

const STYLE = [
  'body{font:14px/1.45 system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 16px;color:#222}',
  'code{background:#f3f3f3;padding:2px 4px;overflow-wrap:anywhere}',
  'figure{margin:1em 0;min-width:0}figcaption{font-weight:600;margin-bottom:.3em}',
  '.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:1em 2em}',
  'table.chart{width:100%;border-collapse:collapse;table-layout:fixed}',
  'table.chart th{width:40%;font-weight:normal;text-align:left;padding:2px 8px 2px 0;overflow-wrap:anywhere;vertical-align:top}',
  'table.chart td.bar{padding:2px 0;vertical-align:top}table.chart td.bar svg{display:block;margin-top:3px}',
  'table.chart td.n{width:4.5em;text-align:right;padding:2px 0 2px 6px;vertical-align:top;font-variant-numeric:tabular-nums}',
  '.exclusions{max-width:640px}',
].join('');

/** The card as a self-contained HTML page with inline SVG bar charts; it fits a window 1,200 px wide (or narrower). */
export function cardHtml(c: CardData): string {
  const d = c.dataset;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Dataset card: ${esc(d.name)} v${d.version}</title>
<style>${STYLE}</style></head><body>
<h1>Dataset card: ${esc(d.name)} v${d.version}</h1>
<p><b>Purpose:</b> ${esc(purposeOf(d))}<br><b>Status:</b> ${d.status}${d.supersededBy ? ` (superseded by ${d.supersededBy})` : ''}<br><b>Made by:</b> ${d.origin} by ${esc(d.requestedBy)}<br>
<b>Snapshot:</b> ${d.snapshotAt.toISOString()} (membership honours every objection, erasure and change recorded by then)<br><b>Members:</b> ${d.memberCount} of ${d.candidateCount} candidates<br><b>Manifest digest (SHA-256):</b> <code>${d.manifestDigest}</code></p>
<h2>Policy</h2><p>${policySummary(c.policy, esc).join('<br>')}</p>
<h2>Composition</h2><div class="grid">${bars('By platform', c.breakdown.platform)}${bars('By kind', c.breakdown.kind)}${bars('By language', c.breakdown.language)}${bars('By country', c.breakdown.country)}</div>
<h2>Exclusions at build time</h2><div class="exclusions">${bars(
    'Candidates excluded, by reason',
    d.exclusions.map((e) => ({ key: e.reason, count: e.count })),
  )}</div>
<h2>Lineage</h2><ul>${[...c.parents.map((p) => `<li>from ${esc(p.label)} (${p.relation})</li>`), ...c.children.map((p) => `<li>used by ${esc(p.label)} (${p.relation})</li>`)].join('') || '<li>built from content directly</li>'}</ul>
</body></html>`;
}
