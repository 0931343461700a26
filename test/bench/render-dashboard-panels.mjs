// The drawing half of render-dashboard.mjs: evaluates the PromQL of deploy/grafana-dashboard.json
// over the scraped /metrics pages and draws each panel as an SVG chart, laid out on the
// dashboard's own grid. Only the expression shapes the dashboard uses are understood; any other
// shape stops the run with its text, so the picture never shows a panel it did not evaluate.
// Hand-written: no charting or PromQL library is a dependency, and the dashboard needs six shapes.

/** `$__rate_interval` of the picture: Grafana's is at least four scrape intervals (1 s here). */
export const RATE_WINDOW_SECONDS = 5;

const PALETTE = ['#3274d9', '#56a64b', '#e0752d', '#c4162a', '#8f3bb8', '#1f9dad', '#c79d00', '#7a7a7a', '#e55da7', '#5a5ae0'];

/** One scraped page: `{ t, samples: [{ name, labels, value }] }`; `target` labels are added as Prometheus adds job and instance. */
export function parsePrometheusText(text, t, target = {}) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels = { ...target };
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2].replace(/\\(.)/g, '$1');
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return { t, samples };
}

// ---- a small PromQL evaluator: instant vectors [{ labels, value }] at one scrape index ----

const keyOf = (labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

function matchers(text) {
  return [...(text ?? '').matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(([, label, op, value]) => ({ label, op, value }));
}

function matches(labels, list) {
  return list.every(({ label, op, value }) => {
    const actual = labels[label] ?? '';
    if (op === '=') return actual === value;
    if (op === '!=') return actual !== value;
    const re = new RegExp(`^(?:${value})$`);
    return op === '=~' ? re.test(actual) : !re.test(actual);
  });
}

/** Splits `a OP b` at an operator outside parentheses and braces. */
function splitTop(expr, op) {
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') depth--;
    else if (depth === 0 && expr.startsWith(op, i)) return [expr.slice(0, i).trim(), expr.slice(i + op.length).trim()];
  }
  return undefined;
}

function selectAt(pages, i, name, list) {
  return pages[i].samples.filter((s) => s.name === name && matches(s.labels, list)).map((s) => ({ labels: s.labels, value: s.value }));
}

/** The scrape index RATE_WINDOW_SECONDS before index i (or the first). */
function windowStart(pages, i) {
  let j = i;
  while (j > 0 && pages[i].t - pages[j - 1].t <= RATE_WINDOW_SECONDS + 0.5) j--;
  return j;
}

function aggregate(op, by, vector) {
  const groups = new Map();
  for (const { labels, value } of vector) {
    const kept = Object.fromEntries(by.map((label) => [label, labels[label] ?? '']));
    const key = keyOf(kept);
    const group = groups.get(key);
    if (!group) groups.set(key, { labels: kept, value });
    else group.value = op === 'sum' ? group.value + value : op === 'min' ? Math.min(group.value, value) : Math.max(group.value, value);
  }
  return [...groups.values()];
}

/** Prometheus's histogram_quantile: linear interpolation inside the bucket that holds the rank. */
function quantile(q, vector) {
  const groups = new Map();
  for (const { labels, value } of vector) {
    const { le, ...rest } = labels;
    const key = keyOf(rest);
    if (!groups.has(key)) groups.set(key, { labels: rest, buckets: [] });
    groups.get(key).buckets.push({ le: le === '+Inf' ? Infinity : Number(le), count: value });
  }
  const result = [];
  for (const { labels, buckets } of groups.values()) {
    buckets.sort((a, b) => a.le - b.le);
    const total = buckets.at(-1)?.count ?? 0;
    if (!(total > 0)) continue;
    const rank = q * total;
    const index = buckets.findIndex((b) => b.count >= rank);
    const upper = buckets[index];
    const lower = index > 0 ? buckets[index - 1] : { le: 0, count: 0 };
    if (upper.le === Infinity) {
      result.push({ labels, value: lower.le });
      continue;
    }
    const inBucket = upper.count - lower.count;
    result.push({ labels, value: inBucket > 0 ? lower.le + (upper.le - lower.le) * ((rank - lower.count) / inBucket) : upper.le });
  }
  return result;
}

/** The instant vector of `expr` at scrape index i. Throws on a shape the dashboard does not use. */
export function evaluate(expr, pages, i) {
  expr = expr.trim();
  const division = splitTop(expr, ' / ');
  if (division) {
    const [a, b] = division.map((part) => evaluate(part, pages, i));
    return a.flatMap((x) => {
      const y = b.find((candidate) => keyOf(candidate.labels) === keyOf(x.labels));
      return y && y.value !== 0 ? [{ labels: x.labels, value: x.value / y.value }] : [];
    });
  }
  const equal = splitTop(expr, ' == ');
  if (equal) return evaluate(equal[0], pages, i).filter((x) => x.value === Number(equal[1]));
  let m = /^histogram_quantile\(([\d.]+),\s*(.*)\)$/s.exec(expr);
  if (m) return quantile(Number(m[1]), evaluate(m[2], pages, i));
  m = /^(sum|min|max)(?:\s+by\s+\(([^)]*)\))?\s*\((.*)\)$/s.exec(expr);
  if (m) return aggregate(m[1], m[2] ? m[2].split(',').map((s) => s.trim()) : [], evaluate(m[3], pages, i));
  m = /^(rate|increase)\((\w+)(\{[^}]*\})?\[\$__rate_interval\]\)$/.exec(expr);
  if (m) {
    const j = windowStart(pages, i);
    if (j === i) return [];
    const list = matchers(m[3]);
    const before = new Map(selectAt(pages, j, m[2], list).map((s) => [keyOf(s.labels), s.value]));
    const seconds = pages[i].t - pages[j].t;
    // A series born inside the window started from 0 (the gateway creates a counter at its first increment).
    return selectAt(pages, i, m[2], list).map(({ labels, value }) => {
      const delta = Math.max(0, value - (before.get(keyOf(labels)) ?? 0));
      return { labels, value: m[1] === 'rate' ? delta / seconds : delta };
    });
  }
  m = /^(\w+)(\{[^}]*\})?$/.exec(expr);
  if (m) return selectAt(pages, i, m[1], matchers(m[2]));
  throw new Error(`render-dashboard cannot evaluate this expression: ${expr}`);
}

// ---- drawing ----

function legendName(format, labels) {
  const name = format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label) => labels[label] ?? '');
  return name.length > 38 ? `${name.slice(0, 37)}…` : name;
}

/** Every series of a panel over the run: [{ name, points: [[t, v]] }]. */
export function panelSeries(panel, pages) {
  const series = new Map();
  for (const target of panel.targets) {
    for (let i = 0; i < pages.length; i++) {
      for (const { labels, value } of evaluate(target.expr, pages, i)) {
        if (!Number.isFinite(value)) continue;
        const name = legendName(target.legendFormat ?? '', labels) || target.refId;
        if (!series.has(name)) series.set(name, []);
        series.get(name).push([pages[i].t, value]);
      }
    }
  }
  return [...series.entries()].map(([name, points]) => ({ name, points })).sort((a, b) => a.name.localeCompare(b.name));
}

function formatValue(value, unit) {
  const trim = (n) => String(Number(n.toPrecision(3)));
  switch (unit) {
    case 'reqps':
      return `${trim(value)}/s`;
    case 'percentunit':
      return `${trim(value * 100)}%`;
    case 's':
      return value === 0 ? '0' : value < 1 ? `${trim(value * 1000)} ms` : `${trim(value)} s`;
    case 'bytes':
      return `${trim(value / 1024 / 1024)} MB`;
    default:
      return trim(value);
  }
}

/** Axis ticks: a step of 1, 2, 2.5 or 5 × 10^k, and at most five of them up to `max`. */
function ticks(max) {
  if (!(max > 0)) return { step: 0.25, count: 4 };
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((f) => f * power >= raw * (1 - 1e-9)) * power;
  return { step, count: Math.max(1, Math.ceil(max / step - 1e-9)) };
}

const escapeXml = (text) => String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);

/** One panel as an SVG line chart; `phases` are shaded bands ({ from, to, label }). */
export function panelSvg(panel, series, { width, height, duration, phases }) {
  const unit = panel.fieldConfig?.defaults?.unit ?? 'short';
  const columns = series.length > 9 ? 4 : 3;
  const legendRows = Math.min(3, Math.ceil(series.length / columns));
  const plot = { left: 58, right: width - 12, top: 8, bottom: height - 24 - legendRows * 15 };
  // Byte axes tick in whole MiB steps, not in powers of ten of bytes.
  const scale = unit === 'bytes' ? 1024 * 1024 : 1;
  const { step: scaledStep, count } = ticks(Math.max(0, ...series.flatMap((s) => s.points.map(([, v]) => v))) / scale);
  const step = scaledStep * scale;
  const maxValue = step * count;
  const x = (t) => plot.left + (t / duration) * (plot.right - plot.left);
  const y = (v) => plot.bottom - (v / maxValue) * (plot.bottom - plot.top);
  const parts = [];
  for (const phase of phases) {
    parts.push(`<rect x="${x(phase.from).toFixed(1)}" y="${plot.top}" width="${(x(phase.to) - x(phase.from)).toFixed(1)}" height="${plot.bottom - plot.top}" fill="${phase.tint}"/>`);
  }
  for (let k = 0; k <= count; k++) {
    const v = step * k;
    parts.push(`<line x1="${plot.left}" x2="${plot.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e4e7eb"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="axis">${escapeXml(formatValue(v, unit))}</text>`);
  }
  for (let t = 0; t <= duration; t += 15) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${plot.bottom + 14}" text-anchor="middle" class="axis">${t}s</text>`);
  }
  const columnWidth = (plot.right - plot.left) / columns;
  const fit = (name) => (name.length * 5.6 > columnWidth - 18 ? `${name.slice(0, Math.floor((columnWidth - 18) / 5.6) - 1)}…` : name);
  series.slice(0, columns * 3).forEach((s, index) => {
    const color = PALETTE[index % PALETTE.length];
    const path = s.points.map(([t, v], k) => `${k === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.6" stroke-linejoin="round"/>`);
    const column = index % columns;
    const row = Math.floor(index / columns);
    if (row < legendRows) {
      const lx = plot.left + column * columnWidth;
      const ly = plot.bottom + 30 + row * 15;
      parts.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${color}"/><text x="${lx + 14}" y="${ly}" class="legend">${escapeXml(fit(s.name))}</text>`);
    }
  });
  if (series.length === 0) parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle" class="nodata">No data</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

const TITLE_HEIGHT = 22;

/** The whole page: the dashboard's panels on its 24-column grid, with the run's phases above. */
export function dashboardHtml(dashboard, pages, { width, height, phases, subtitle, duration }) {
  const rows = Math.max(...dashboard.panels.map((p) => p.gridPos.y + p.gridPos.h));
  const header = 64;
  const unitX = (width - 16) / 24;
  const unitY = (height - header - 8) / rows;
  const panels = dashboard.panels.map((panel) => {
    const { x, y, w, h } = panel.gridPos;
    const size = { width: Math.floor(w * unitX) - 8, height: Math.floor(h * unitY) - 8 };
    const chart = { width: size.width, height: size.height - TITLE_HEIGHT };
    const svg = panelSvg(panel, panelSeries(panel, pages), { ...chart, duration, phases });
    const style = `left:${8 + x * unitX}px;top:${header + y * unitY}px;width:${size.width}px;height:${size.height}px`;
    return `<div class="panel" style="${style}"><div class="title">${escapeXml(panel.title)}</div>${svg}</div>`;
  });
  const phaseKey = phases.map((p) => `<span class="phase"><i style="background:${p.solid}"></i>${escapeXml(p.label)} ${p.from}–${p.to} s</span>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin:0; width:${width}px; height:${height}px; background:#f4f5f5; font-family: Inter, "DejaVu Sans", Arial, sans-serif; color:#24292e; position:relative; overflow:hidden }
    h1 { font-size:17px; margin:0; position:absolute; left:12px; top:8px }
    .sub { position:absolute; right:12px; top:10px; font-size:11px; color:#555 }
    .phases { position:absolute; left:12px; top:36px; font-size:11px; color:#333 }
    .phase { margin-right:12px } .phase i { display:inline-block; width:10px; height:10px; margin-right:4px; vertical-align:-1px; border-radius:2px }
    .panel { position:absolute; background:#fff; border:1px solid #dcdee1; border-radius:3px; box-sizing:border-box; overflow:hidden }
    .title { font-size:12px; font-weight:600; padding:4px 8px 2px; height:16px }
    .axis { font-size:9.5px; fill:#6c737a } .legend { font-size:10px; fill:#24292e } .nodata { font-size:12px; fill:#9aa0a6 }
  </style></head><body><h1>${escapeXml(dashboard.title)}</h1><div class="sub">${escapeXml(subtitle)}</div><div class="phases">${phaseKey}</div>${panels.join('')}</body></html>`;
}
