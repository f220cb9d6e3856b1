// Property-based: any raw sample, however odd (fields missing as on an old Node, zeros, huge
// numbers, NaN, negatives), goes through buildSample, the text sink and every TUI page without
// throwing, serialises to JSON, and renders exactly `height` lines no wider than `width`.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildSample } from '../../src/model/sample';
import type { RawSample } from '../../src/probes/sample';
import { renderStats } from '../../src/sinks/text';
import { initialState, newHistory, PAGES, renderScreen, stripTags, type History } from '../../src/tui/render';
import { PAGE_RENDERERS } from '../../src/tui/pages';

const odd = fc.oneof(
  fc.constantFrom(0, -1, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 1e300, -1e300, 2 ** 53 + 2),
  fc.double(),
  fc.integer(),
  fc.nat(),
);
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const name = fc.oneof(fc.string(), fc.constantFrom('{red-fg}', '{open}', 'Timeout', '}{', '\u001b[31m', '\n', 'x'.repeat(500)));
const counts = fc.dictionary(name, odd, { maxKeys: 8 });

const rawArb: fc.Arbitrary<RawSample> = fc.record({
  timeMs: odd,
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  uptimeSec: odd,
  memory: fc.record({ rss: odd, heapTotal: odd, heapUsed: odd, external: odd, arrayBuffers: odd }, { requiredKeys: [] }),
  heap: fc.record({ heapSizeLimit: odd, totalAvailableSize: odd, mallocedMemory: odd, numberOfNativeContexts: odd, numberOfDetachedContexts: odd }, { requiredKeys: [] }),
  spaces: fc.array(fc.record({ name, size: odd, used: odd, available: odd }), { maxLength: 6 }),
  handles: counts,
  requests: counts,
  cpuUsageMicros: fc.record({ user: odd, system: odd }, { requiredKeys: [] }),
  fds: fc.option(fc.record({ open: fc.option(odd), limit: fc.option(odd) })),
  window: fc.option(
    fc.record(
      {
        ms: odd,
        resolutionMs: odd,
        lag: fc.record({ min: odd, max: odd, mean: odd, stddev: odd, p50: odd, p90: odd, p99: odd, count: odd }, { requiredKeys: [] }),
        elu: fc.record({ idle: odd, active: odd, utilization: odd }, { requiredKeys: [] }),
        gc: fc.dictionary(name, fc.record({ count: odd, ms: odd }, { requiredKeys: [] }), { maxKeys: 5 }),
      },
      { requiredKeys: [] },
    ),
  ),
  blocked: fc.option(fc.record({ forMs: odd, stack: fc.array(name, { maxLength: 5 }) }, { requiredKeys: [] })),
}) as unknown as fc.Arbitrary<RawSample>;

const identity = {
  pid: 1, ppid: 0, title: 'node', argv: ['node', '/srv/{app}.js'], execPath: '/usr/bin/node', nodeVersion: 'v20.0.0', v8Version: '11',
  uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0,
};

const pages = PAGE_RENDERERS;

describe('property: odd samples', () => {
  it('build, serialise, print and render at any size without throwing', () => {
    fc.assert(
      fc.property(
        fc.option(rawArb, { nil: null }),
        rawArb,
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 120 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(...PAGES.map((p) => p.id)),
        maybe(fc.boolean()),
        (prevRaw, raw, width, height, color, unicode, page, help) => {
          const prev = prevRaw ? buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: true }, prev: null, raw: prevRaw, proc: null, host: null }) : null;
          const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: true }, prev: prevRaw, raw, proc: null, host: null });
          const json = JSON.stringify(s);
          assert.equal(typeof json, 'string');
          JSON.parse(json);
          assert.equal(typeof renderStats(s), 'string');
          const hist: History = newHistory(20);
          for (const x of [prev, s]) {
            if (!x) continue;
            hist.heapUsed.push(x.memory.heapUsedBytes);
            hist.lagP99.push(x.eventLoop.lagMs?.p99);
            hist.elu.push(x.eventLoop.utilization);
            hist.cpu.push(x.process.cpuPercent);
            hist.rss.push(x.process.rssBytes);
          }
          const st = initialState(1000);
          st.page = page;
          st.help = help ?? false;
          const lines = renderScreen(s, prev, hist, st, { width, height, color, unicode, readonly: false }, pages);
          assert.equal(lines.length, height, `exactly ${height} lines`);
          for (const l of lines) {
            const visible = stripTags(l);
            assert.ok(visible.length <= width, `a line of ${visible.length} > ${width}: ${JSON.stringify(visible)}`);
            assert.ok(!visible.includes('\n'), 'no line break inside a line');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('property: readings that make no sense', () => {
  // what a size or count the target reported may be once built: a reading, or null with the reason
  const fine = (v: number | null): boolean => v === null || (Number.isFinite(v) && v >= 0 && v <= 2 ** 53);
  it('every size and count is a reading or null with its reason; the text prints none of them', () => {
    fc.assert(
      fc.property(rawArb, (raw) => {
        const s = buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: true }, prev: null, raw, proc: null, host: null });
        const m = s.memory;
        const fields: Array<[string, number | null]> = [
          ['process.rssBytes', s.process.rssBytes],
          ['memory.heapUsedBytes', m.heapUsedBytes],
          ['memory.heapTotalBytes', m.heapTotalBytes],
          ['memory.heapLimitBytes', m.heapLimitBytes],
          ['memory.externalBytes', m.externalBytes],
          ['memory.arrayBuffersBytes', m.arrayBuffersBytes],
          ['memory.mallocedBytes', m.mallocedBytes],
          ['memory.nativeContexts', m.nativeContexts],
          ['memory.detachedContexts', m.detachedContexts],
          ...m.spaces.flatMap((x, i): Array<[string, number | null]> => [
            [`memory.spaces.${i}.sizeBytes`, x.sizeBytes],
            [`memory.spaces.${i}.usedBytes`, x.usedBytes],
            [`memory.spaces.${i}.availableBytes`, x.availableBytes],
          ]),
        ];
        for (const [path, v] of fields) {
          assert.ok(fine(v), `${path}: ${v}`);
          if (v === null) assert.match(s.unavailable[path] ?? '', /^invalid: the target reported /, path);
        }
        for (const rec of [s.handles?.byType, s.requests?.byType]) for (const v of Object.values(rec ?? {})) assert.ok(fine(v), String(v));
        // the reasons may quote the figure ("(invalid: the target reported NaN ...)"): not a value
        const text = renderStats(s)
          .replace(/\(invalid: [^)]*\)/g, '')
          .replace(/^n\/a {6}\S+: invalid: .*$/gm, '');
        assert.doesNotMatch(text, /(\de\+\d+|NaN|Infinity) ?(B|KiB|MiB|GiB|TiB|ms|s|%)(?!\w)|(^|\s)-\d[\d.]* (B|KiB|MiB|GiB|TiB)\b/m, text);
      }),
      { numRuns: 1000 },
    );
  });
});
