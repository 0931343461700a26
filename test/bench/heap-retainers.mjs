// What holds the memory in a V8 heap snapshot (.heapsnapshot, e.g. from
// rss-distinct-tokens.mjs with HEAP_SNAPSHOTS): retained sizes from the
// dominator tree (as Chrome DevTools computes them), the biggest retainers,
// a per-class summary, strings by kind, and a close look at the gateway's
// bounded structures (verified-token cache, throttle window store).
//
//   node --max-old-space-size=8000 test/bench/heap-retainers.mjs /tmp/snaps/Heap.*.heapsnapshot [--min-mb=1] [--depth=14]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const opt = (name, fallback) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};
const MIN_BYTES = opt('min-mb', 1) * 2 ** 20;
const MAX_DEPTH = opt('depth', 14);
const MB = (n) => (n / 2 ** 20).toFixed(2);

for (const file of files) analyse(file);

function parseNumbers(buf, from) {
  // from: index just after '['; returns { values: Float64Array-ish (Uint32Array), end }
  let cap = 1 << 20;
  let out = new Uint32Array(cap);
  let n = 0;
  let cur = 0;
  let inNum = false;
  let i = from;
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      cur = cur * 10 + (c - 48);
      inNum = true;
    } else {
      if (inNum) {
        if (n === cap) {
          const bigger = new Uint32Array((cap *= 2));
          bigger.set(out);
          out = bigger;
        }
        out[n++] = cur;
        cur = 0;
        inNum = false;
      }
      if (c === 93 /* ] */) break;
    }
  }
  return { values: out.subarray(0, n), end: i };
}

function load(file) {
  const buf = readFileSync(file);
  const metaEnd = buf.indexOf('\n"nodes":[');
  const head = JSON.parse(`${buf.subarray(0, metaEnd).toString('utf8').replace(/,\s*$/, '')}}`);
  const nodes = parseNumbers(buf, metaEnd + '\n"nodes":['.length);
  const edgesStart = buf.indexOf('"edges":[', nodes.end) + '"edges":['.length;
  const edges = parseNumbers(buf, edgesStart);
  const stringsAt = buf.indexOf('"strings":[', edges.end) + '"strings":'.length;
  let end = buf.length - 1;
  while (buf[end] !== 93) end--;
  const strings = JSON.parse(buf.subarray(stringsAt, end + 1).toString('utf8'));
  return { meta: head.snapshot.meta, nodes: nodes.values, edges: edges.values, strings };
}

function analyse(file) {
  const t0 = Date.now();
  const { meta, nodes, edges, strings } = load(file);
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSelf = meta.node_fields.indexOf('self_size');
  const nEdgeCount = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const WEAK = edgeTypes.indexOf('weak');
  const SHORTCUT = edgeTypes.indexOf('shortcut');
  const ELEMENT = edgeTypes.indexOf('element');
  const HIDDEN_EDGE = edgeTypes.indexOf('hidden');
  const N = nodes.length / NF;

  const firstEdge = new Uint32Array(N + 1);
  for (let i = 0, e = 0; i < N; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + nEdgeCount] * EF;
    firstEdge[i + 1] = e;
  }
  const typeOf = (o) => nodeTypes[nodes[o * NF + nType]];
  const nameOf = (o) => strings[nodes[o * NF + nName]];
  const selfOf = (o) => nodes[o * NF + nSelf];
  const edgeName = (e) => {
    const t = edges[e + eType];
    return t === ELEMENT || t === HIDDEN_EDGE ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
  };
  const essential = (e) => {
    const t = edges[e + eType];
    return t !== WEAK && t !== SHORTCUT;
  };

  // Post order from the root (ordinal 0), iterative DFS over essential edges.
  const post2ord = new Uint32Array(N);
  const ord2post = new Int32Array(N).fill(-1);
  const visited = new Uint8Array(N);
  const stackNode = new Uint32Array(N);
  const stackEdge = new Uint32Array(N);
  let sp = 0;
  let postIndex = 0;
  stackNode[0] = 0;
  stackEdge[0] = firstEdge[0];
  visited[0] = 1;
  while (sp >= 0) {
    const o = stackNode[sp];
    const e = stackEdge[sp];
    if (e < firstEdge[o + 1]) {
      stackEdge[sp] += EF;
      if (!essential(e)) continue;
      const child = edges[e + eTo] / NF;
      if (visited[child]) continue;
      visited[child] = 1;
      sp++;
      stackNode[sp] = child;
      stackEdge[sp] = firstEdge[child];
    } else {
      ord2post[o] = postIndex;
      post2ord[postIndex++] = o;
      sp--;
    }
  }
  const R = postIndex; // reachable nodes; root has post index R-1

  // Predecessors (essential edges, reachable nodes only).
  const predCount = new Uint32Array(N + 1);
  for (let o = 0; o < N; o++) {
    if (ord2post[o] < 0) continue;
    for (let e = firstEdge[o]; e < firstEdge[o + 1]; e += EF) if (essential(e)) predCount[edges[e + eTo] / NF]++;
  }
  const predStart = new Uint32Array(N + 1);
  for (let o = 0; o < N; o++) predStart[o + 1] = predStart[o] + predCount[o];
  const preds = new Uint32Array(predStart[N]);
  const fill = predStart.slice(0, N);
  for (let o = 0; o < N; o++) {
    if (ord2post[o] < 0) continue;
    for (let e = firstEdge[o]; e < firstEdge[o + 1]; e += EF) if (essential(e)) preds[fill[edges[e + eTo] / NF]++] = o;
  }

  // Cooper, Harvey, Kennedy: "A Simple, Fast Dominance Algorithm", on post-order indices.
  const NONE = 0xffffffff;
  const dom = new Uint32Array(R).fill(NONE);
  const root = R - 1;
  dom[root] = root;
  let changed = true;
  while (changed) {
    changed = false;
    for (let p = R - 2; p >= 0; p--) {
      const o = post2ord[p];
      let idom = NONE;
      for (let k = predStart[o]; k < predStart[o + 1]; k++) {
        const q = ord2post[preds[k]];
        if (q < 0 || dom[q] === NONE) continue;
        if (idom === NONE) {
          idom = q;
          continue;
        }
        let a = q;
        let b = idom;
        while (a !== b) {
          while (a < b) a = dom[a];
          while (b < a) b = dom[b];
        }
        idom = a;
      }
      if (idom !== NONE && dom[p] !== idom) {
        dom[p] = idom;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(R);
  for (let p = 0; p < R; p++) retained[p] = selfOf(post2ord[p]);
  for (let p = 0; p < R - 1; p++) if (dom[p] !== NONE) retained[dom[p]] += retained[p];

  // Children in the dominator tree.
  const childCount = new Uint32Array(R + 1);
  for (let p = 0; p < R - 1; p++) if (dom[p] !== NONE) childCount[dom[p]]++;
  const childStart = new Uint32Array(R + 1);
  for (let p = 0; p < R; p++) childStart[p + 1] = childStart[p] + childCount[p];
  const children = new Uint32Array(childStart[R]);
  const cfill = childStart.slice(0, R);
  for (let p = 0; p < R - 1; p++) if (dom[p] !== NONE) children[cfill[dom[p]]++] = p;

  const label = (o) => {
    const t = typeOf(o);
    let name = nameOf(o);
    if (t === 'string') name = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) + ` (${nameOf(o).length} chars)`;
    return `${t === 'object' || t === 'closure' ? '' : `(${t}) `}${name}`;
  };
  const edgeBetween = (from, to) => {
    for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += EF) if (edges[e + eTo] / NF === to) return edgeName(e);
    return '?';
  };

  let total = 0;
  for (let p = 0; p < R; p++) total += selfOf(post2ord[p]);
  console.log(`\n=== ${file}\n${N} nodes (${R} reachable), ${edges.length / EF} edges, ${MB(total)} MB reachable self size; parsed+dominators in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // 1. Dominator tree, nodes retaining >= MIN_BYTES.
  console.log(`\n-- dominator tree (retained >= ${MB(MIN_BYTES)} MB): retained MB  [edge] node`);
  const print = (p, depth) => {
    const kids = Array.from(children.subarray(childStart[p], childStart[p + 1])).sort((a, b) => retained[b] - retained[a]);
    for (const k of kids) {
      if (retained[k] < MIN_BYTES) break;
      const o = post2ord[k];
      const n = childStart[k + 1] - childStart[k];
      console.log(`${'  '.repeat(depth)}${MB(retained[k]).padStart(8)}  [${edgeBetween(post2ord[p], o)}] ${label(o)}  self ${selfOf(o)} B, ${n} dominated children`);
      if (depth < MAX_DEPTH) print(k, depth + 1);
    }
  };
  print(root, 0);

  // 2. Summary by class (shallow).
  const byClass = new Map();
  for (let p = 0; p < R; p++) {
    const o = post2ord[p];
    const t = typeOf(o);
    const key = t === 'object' || t === 'closure' ? `${t === 'closure' ? 'closure ' : ''}${nameOf(o)}` : `(${t})${t === 'hidden' || t === 'array' || t === 'code' || t === 'native' ? ` ${nameOf(o)}` : ''}`;
    const row = byClass.get(key) ?? { count: 0, self: 0 };
    row.count++;
    row.self += selfOf(o);
    byClass.set(key, row);
  }
  console.log('\n-- top classes by shallow size: MB  count  class');
  for (const [key, row] of [...byClass].sort((a, b) => b[1].self - a[1].self).slice(0, 30)) {
    console.log(`${MB(row.self).padStart(8)} ${String(row.count).padStart(8)}  ${key.slice(0, 100)}`);
  }

  // 3. Strings by length bucket (the token text is the big one).
  const strBuckets = new Map();
  for (let p = 0; p < R; p++) {
    const o = post2ord[p];
    const t = typeOf(o);
    if (!t.includes('string')) continue;
    const len = nameOf(o).length;
    const bucket = t !== 'string' ? t : `${t} len ${len < 16 ? '<16' : len < 64 ? '16-63' : len < 256 ? '64-255' : len < 1024 ? '256-1023' : '>=1024'}`;
    const row = strBuckets.get(bucket) ?? { count: 0, self: 0 };
    row.count++;
    row.self += selfOf(o);
    strBuckets.set(bucket, row);
  }
  console.log('\n-- strings: MB  count  kind');
  for (const [k, row] of [...strBuckets].sort((a, b) => b[1].self - a[1].self)) console.log(`${MB(row.self).padStart(8)} ${String(row.count).padStart(8)}  ${k}`);

  // 4. The gateway's structures: instances by class name, their retained size, and their Maps.
  const probes = ['VerifiedTokenCache', 'AccessTokenVerifier', 'MemoryWindowStore', 'UnauthenticatedBudget', 'IssuerKeySet', 'IssuerRegistry', 'JwksClient', 'Registry', 'GatewayMetrics', 'ThrottlePlan', 'UpstreamPools', 'Pool', 'Agent', 'Server', 'Fastify', 'NestApplication', 'Logger', 'Socket'];
  console.log('\n-- gateway structures: retained MB  class  (own Map/Set/array members: entries, retained MB)');
  for (let p = 0; p < R; p++) {
    const o = post2ord[p];
    if (typeOf(o) !== 'object' || !probes.includes(nameOf(o))) continue;
    if (retained[p] < 64 * 1024 && nameOf(o) !== 'VerifiedTokenCache' && nameOf(o) !== 'MemoryWindowStore') continue;
    const members = [];
    for (let e = firstEdge[o]; e < firstEdge[o + 1]; e += EF) {
      const to = edges[e + eTo] / NF;
      const cls = nameOf(to);
      if (typeOf(to) === 'object' && (cls === 'Map' || cls === 'Set' || cls === 'Array' || cls === 'WeakMap')) {
        const q = ord2post[to];
        members.push(`${edgeName(e)}: ${cls} ${mapSize(to)} entries, ${q >= 0 ? MB(retained[q]) : '?'} MB`);
      }
    }
    console.log(`${MB(retained[p]).padStart(8)}  ${nameOf(o)}  ${members.join('; ')}`);
    if (nameOf(o) === 'VerifiedTokenCache' || nameOf(o) === 'MemoryWindowStore') describeEntries(o);
  }

  function mapSize(mapOrd) {
    // A JS Map/Set: its 'table' is an OrderedHashMap/Set (hidden array); count key edges that are not the hole.
    for (let e = firstEdge[mapOrd]; e < firstEdge[mapOrd + 1]; e += EF) {
      if (edgeName(e) === 'table') {
        const table = edges[e + eTo] / NF;
        let n = 0;
        for (let f = firstEdge[table]; f < firstEdge[table + 1]; f += EF) if (typeOf(edges[f + eTo] / NF) !== 'hidden' || nameOf(edges[f + eTo] / NF) !== 'system / Oddball') n++;
        return `~${n}${nameOf(mapOrd) === 'Map' ? '/2' : ''} refs, table self ${selfOf(table)} B`;
      }
    }
    return '?';
  }

  // One structure's entries: the Map's table, then per-entry costs of a sample of keys and values.
  function describeEntries(owner) {
    for (let e = firstEdge[owner]; e < firstEdge[owner + 1]; e += EF) {
      const map = edges[e + eTo] / NF;
      if (nameOf(map) !== 'Map') continue;
      let table;
      for (let f = firstEdge[map]; f < firstEdge[map + 1]; f += EF) if (edgeName(f) === 'table') table = edges[f + eTo] / NF;
      if (table === undefined) continue;
      const refs = [];
      for (let f = firstEdge[table]; f < firstEdge[table + 1]; f += EF) refs.push(edges[f + eTo] / NF);
      const keys = refs.filter((r) => typeOf(r).includes('string'));
      const values = refs.filter((r) => typeOf(r) === 'object');
      const tableRetained = retained[ord2post[table]];
      console.log(`          ${edgeName(e)}: table ${selfOf(table)} B self, ${MB(tableRetained)} MB retained; ${keys.length} string keys, ${values.length} object values`);
      if (keys.length === 0) continue;
      // Bytes per entry: everything the table dominates, divided by entries; and a breakdown of one entry.
      console.log(`          ≈ ${Math.round(tableRetained / keys.length)} B per entry (table + keys + values, everything only the map holds)`);
      const keyKinds = new Map();
      let keyBytes = 0;
      for (const k of keys) {
        keyKinds.set(typeOf(k), (keyKinds.get(typeOf(k)) ?? 0) + 1);
        keyBytes += retained[ord2post[k]];
      }
      console.log(`          keys: ${[...keyKinds].map(([t, n]) => `${n} ${t}`).join(', ')}; ${Math.round(keyBytes / keys.length)} B retained per key (avg ${Math.round(keys.reduce((s, k) => s + nameOf(k).length, 0) / keys.length)} chars)`);
      let valueBytes = 0;
      for (const v of values) valueBytes += retained[ord2post[v]];
      console.log(`          values: ${Math.round(valueBytes / Math.max(1, values.length))} B retained per value (dominated by the value alone)`);
      // Breakdown of one entry value, two levels down, with its own retained sizes and what is shared.
      const sample = values[Math.floor(values.length / 2)];
      const sampleKey = keys[Math.floor(keys.length / 2)];
      console.log(`          sample key: ${label(sampleKey)}, self ${selfOf(sampleKey)} B, retained ${retained[ord2post[sampleKey]]} B`);
      for (let f = firstEdge[sampleKey]; f < firstEdge[sampleKey + 1]; f += EF) {
        const to = edges[f + eTo] / NF;
        console.log(`            .${edgeName(f)} -> ${label(to)} self ${selfOf(to)} B`);
      }
      walk(sample, 0, 'value');
    }
  }

  function walk(o, depth, via) {
    const p = ord2post[o];
    console.log(`          ${'  '.repeat(depth)}${via}: ${label(o)} self ${selfOf(o)} B, retained ${p >= 0 ? retained[p] : '?'} B${dom[p] !== undefined && depth > 0 ? '' : ''}`);
    if (depth >= 3) return;
    for (let e = firstEdge[o]; e < firstEdge[o + 1]; e += EF) {
      const to = edges[e + eTo] / NF;
      const t = typeOf(to);
      const name = edgeName(e);
      if (name === 'map' || name === '__proto__' || t === 'hidden' && selfOf(to) < 64) continue;
      if (t === 'number' || t === 'code') continue;
      walk(to, depth + 1, `.${name}`);
    }
  }
}
