/** The value of one sample line (`name{labels} value`) of a Prometheus text page; 0 when absent. */
export function sample(page: string, name: string, labels: string): number {
  const line = page.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** GET /metrics of a gateway: 200, as text. */
export async function metricsPage(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The metric family names a page declares (`# TYPE <name> <type>`). */
export function declaredFamilies(page: string): string[] {
  return [...page.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]!);
}
