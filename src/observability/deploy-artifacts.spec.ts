// deploy/grafana-dashboard.json and deploy/prometheus-alerts.yaml read only metrics the gateway
// exports, with labels those metrics have: a renamed metric or label breaks this test, not a
// dashboard nobody looks at until the outage.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { GatewayMetrics } from './metrics.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** Prometheus's own series, written by the scrape rather than by the gateway. */
const SCRAPE_SERIES = new Set(['up']);
/** Labels every scraped series has, or that a histogram's series add. */
const IMPLICIT_LABELS = new Set(['job', 'instance', 'le']);
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

interface DashboardPanel {
  readonly title: string;
  readonly targets: readonly { readonly expr: string }[];
}
interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

const dashboard = JSON.parse(read('deploy/grafana-dashboard.json')) as { panels: DashboardPanel[]; title: string };
const alerts = parse(read('deploy/prometheus-alerts.yaml')) as { groups: { name: string; rules: AlertRule[] }[] };
const rules = alerts.groups.flatMap((group) => group.rules);

/** Every metric the gateway's registry has (process metrics included), with its label names. */
const exported = new Map<string, readonly string[]>();
const metrics = new GatewayMetrics();
for (const metric of await metrics.registry.getMetricsAsJSON()) {
  const labelNames = (metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
  exported.set(metric.name, labelNames);
}

/** Metric selectors of a PromQL expression: `name{labels}`, `name[range]`, and bare gateway/process/nodejs names. */
function selectors(expr: string): { name: string; labels: string[] }[] {
  const found: { name: string; labels: string[] }[] = [];
  for (const match of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(?=\[|\{|\)|$|\s|[-+*/<>=!])/g)) {
    const name = match[1]!;
    const isMetric = match[2] !== undefined || /^(gateway|process|nodejs)_/.test(name) || SCRAPE_SERIES.has(name);
    if (!isMetric) continue;
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((label) => label[1]!);
    found.push({ name, labels });
  }
  return found;
}

/** `by (…)` / `without (…)` label lists of an expression. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((label) => label.trim()));
}

const expressions = [
  ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ where: `dashboard panel "${panel.title}"`, expr: target.expr }))),
  ...rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
];

describe('deploy/ artifacts', () => {
  it('both parse, and have the panels and alerts README promises', () => {
    expect(dashboard.title).toBe('Service gateway');
    expect(dashboard.panels.map((panel) => panel.title)).toEqual([
      'Request rate by route and status class',
      'Error ratio',
      'Gateway latency p50/p95/p99',
      'Upstream latency p50/p95/p99',
      'Upstream errors by route and kind',
      '429s by route',
      'Auth failures by reason',
      'Service-token fetches and failures',
      'JWKS fetch outcomes',
      'Redis errors',
      'Process RSS',
      'Event-loop lag p99',
    ]);
    expect(rules.map((rule) => rule.alert)).toEqual([
      'GatewayHigh5xxRatio',
      'GatewayUpstreamLatencyP99High',
      'GatewayAuthFailureSpike',
      'GatewayJwksFetchFailing',
      'GatewayIssuerKeysNotLoaded',
      'GatewayServiceTokenFailures',
      'GatewayRedisErrors',
      'GatewayDown',
    ]);
  });

  it.each(rules.map((rule) => [rule.alert, rule] as const))('alert %s has for:, a severity and a summary', (_name, rule) => {
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(['warning', 'critical']).toContain(rule.labels?.severity);
    expect(rule.annotations?.summary).toEqual(expect.any(String));
  });

  it.each(expressions.map((e) => [e.where, e.expr] as const))('%s reads only exported metrics and their labels', (_where, expr) => {
    const used = selectors(expr);
    expect(used.length).toBeGreaterThan(0);
    for (const { name, labels } of used) {
      if (SCRAPE_SERIES.has(name)) continue;
      const metric = exported.has(name) ? name : name.replace(HISTOGRAM_SUFFIX, '');
      expect({ name, exported: exported.has(metric) }).toEqual({ name, exported: true });
      const known = new Set([...(exported.get(metric) ?? []), ...IMPLICIT_LABELS]);
      for (const label of labels) expect({ name, label, known: known.has(label) }).toEqual({ name, label, known: true });
    }
    const allLabels = new Set(used.flatMap(({ name }) => [...(exported.get(name.replace(HISTOGRAM_SUFFIX, '')) ?? exported.get(name) ?? [])]));
    for (const label of groupingLabels(expr)) {
      expect({ label, known: allLabels.has(label) || IMPLICIT_LABELS.has(label) }).toEqual({ label, known: true });
    }
  });

  it('positive control: a misspelt metric or label is caught', () => {
    expect(selectors('sum by (route) (rate(gateway_request_total{stauts="5xx"}[5m]))')).toEqual([
      { name: 'gateway_request_total', labels: ['stauts'] },
    ]);
    expect(exported.has('gateway_request_total')).toBe(false);
    expect(exported.get('gateway_requests_total')).toEqual(['route', 'method', 'status']);
  });
});
