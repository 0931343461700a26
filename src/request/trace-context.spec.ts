import { traceIdFrom } from './trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('traceIdFrom (W3C Trace Context §3.2)', () => {
  it.each([
    { name: 'version 00, sampled', header: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
    { name: 'version 00, not sampled', header: `00-${TRACE_ID}-00f067aa0ba902b7-00` },
    { name: 'a later version with more fields', header: `01-${TRACE_ID}-00f067aa0ba902b7-01-what-ever` },
    { name: 'a later version without more fields', header: `cc-${TRACE_ID}-00f067aa0ba902b7-09` },
  ])('$name → the trace id', ({ header }) => {
    expect(traceIdFrom(header)).toBe(TRACE_ID);
  });

  it.each([
    { name: 'absent', header: undefined },
    { name: 'empty', header: '' },
    { name: 'repeated (an array)', header: [`00-${TRACE_ID}-00f067aa0ba902b7-01`, `00-${TRACE_ID}-00f067aa0ba902b7-01`] },
    { name: 'repeated (joined by Node)', header: `00-${TRACE_ID}-00f067aa0ba902b7-01, 00-${TRACE_ID}-00f067aa0ba902b7-01` },
    { name: 'version ff', header: `ff-${TRACE_ID}-00f067aa0ba902b7-01` },
    { name: 'version 00 with a fifth field', header: `00-${TRACE_ID}-00f067aa0ba902b7-01-extra` },
    { name: 'all-zero trace id', header: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
    { name: 'all-zero parent id', header: `00-${TRACE_ID}-0000000000000000-01` },
    { name: 'uppercase hex', header: `00-${TRACE_ID.toUpperCase()}-00f067aa0ba902b7-01` },
    { name: 'short trace id', header: `00-${TRACE_ID.slice(1)}-00f067aa0ba902b7-01` },
    { name: 'short parent id', header: `00-${TRACE_ID}-00f067aa0ba902b-01` },
    { name: 'missing flags', header: `00-${TRACE_ID}-00f067aa0ba902b7` },
    { name: 'leading space', header: ` 00-${TRACE_ID}-00f067aa0ba902b7-01` },
    { name: 'not hex', header: `00-${TRACE_ID.slice(0, 31)}g-00f067aa0ba902b7-01` },
    { name: 'over 512 characters', header: `01-${TRACE_ID}-00f067aa0ba902b7-01-${'a'.repeat(512)}` },
  ])('$name → undefined (not logged)', ({ header }) => {
    expect(traceIdFrom(header)).toBeUndefined();
  });
});
