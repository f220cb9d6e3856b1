// The dashboard's pure parts: events from samples, braille charts, colours by terminal, the
// interval ladder.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EventDetector, EventLog } from '../../src/model/events';
import { buildSample, type Sample } from '../../src/model/sample';
import { HISTORY_POINTS, pairPoints, Series } from '../../src/model/series';
import type { RawSample } from '../../src/probes/sample';
import { colorDepth } from '../../src/tui/app';
import { lineChart, niceBytes } from '../../src/tui/charts';
import { formatInterval, painter, stepInterval, stripTags } from '../../src/tui/render';

const T0 = 1_700_000_000_000;

function raw(at: number, over: Partial<RawSample> = {}, lagMs = 1): RawSample {
  return {
    timeMs: at,
    pid: 7,
    uptimeSec: 10,
    memory: { rss: 100 * 2 ** 20, heapTotal: 60 * 2 ** 20, heapUsed: 20 * 2 ** 20, external: 0, arrayBuffers: 0 },
    heap: { heapSizeLimit: 64 * 2 ** 20, totalAvailableSize: 0, mallocedMemory: 0, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
    spaces: [],
    handles: {},
    requests: {},
    cpuUsageMicros: { user: 0, system: 0 },
    fds: null,
    window: { ms: 1000, resolutionMs: 0, lag: { min: 1e5, max: lagMs * 1e6, mean: 1e6, stddev: 0, p50: 1e6, p90: 1e6, p99: lagMs * 1e6, count: 50 }, elu: { idle: 900, active: 100, utilization: 0.1 }, gc: {} },
    blocked: null,
    unavailable: {},
    ...over,
  };
}

const identity = { pid: 7, ppid: 1, title: 'node', argv: ['node', 'app.js'], execPath: '/usr/bin/node', nodeVersion: 'v20.0.0', v8Version: '11', uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0 };

function sample(r: RawSample): Sample {
  return buildSample({ identity, inspector: { url: 'ws://x', openedByNodetop: false }, prev: null, raw: r, proc: null, host: null });
}

describe('events from samples', () => {
  it('a blocked episode: one event when it is seen, one with its length and frames when the loop turns again', () => {
    const d = new EventDetector(7);
    assert.deepEqual(d.fromSample(sample(raw(T0))), []);
    const stack = ['    at spinTheWheel (/srv/app.js:8:3)', '    at main (/srv/app.js:20:1)', '    at a', '    at b'];
    const began = d.fromSample(sample(raw(T0 + 1000, { blocked: { forMs: 900, stack } })));
    assert.deepEqual(began.map((e) => [e.kind, e.text]), [['blocked', 'main thread blocked in JavaScript for 0.9 s so far, at spinTheWheel (/srv/app.js:8:3)']]);
    // still blocked: no news
    assert.deepEqual(d.fromSample(sample(raw(T0 + 2000, { blocked: { forMs: 1900, stack } }))).filter((e) => e.kind === 'blocked'), []);
    // the loop turned; the window's longest delay says how long it was in all
    const ended = d.fromSample(sample(raw(T0 + 3000, {}, 2600))).filter((e) => e.kind === 'blocked');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.text, 'main thread was blocked in JavaScript for 2.6 s, now running again; at spinTheWheel (/srv/app.js:8:3)');
    assert.deepEqual(ended[0]!.frames, ['spinTheWheel (/srv/app.js:8:3)', 'main (/srv/app.js:20:1)', 'a']);
    assert.equal(ended[0]!.time, new Date(T0 + 3000).toISOString());
  });

  it('a lag spike is one event when it passes the line and one when it is back, not one per sample', () => {
    const d = new EventDetector(7);
    const lagged = (i: number, ms: number): string[] => d.fromSample(sample(raw(T0 + i * 1000, {}, ms))).filter((e) => e.kind === 'lag').map((e) => `${e.level} ${e.text}`);
    assert.deepEqual(lagged(0, 5), []);
    assert.deepEqual(lagged(1, 50), [], 'warn level alone is not news');
    assert.deepEqual(lagged(2, 2978), ['bad event loop lag p99 2978 ms, max 2978 ms (over 100 ms)']);
    assert.deepEqual(lagged(3, 400), []);
    assert.deepEqual(lagged(4, 3), ['good event loop lag back to p99 3.00 ms after 2.0 s (worst p99 2978 ms)']);
  });

  it('workers started and ended, a full pool and when it stops queueing, no answer once', () => {
    const d = new EventDetector(7);
    const withWorkers = (at: number, ids: number[], pool: { inUse: number; queued: number } | null): Sample => {
      const s = sample(raw(at));
      s.workers = ids.map((id) => ({ threadId: id, name: `w${id}`, state: 'running', eventLoop: { blocked: null, lagMs: null, utilization: null } }) as unknown as NonNullable<Sample['workers']>[number]);
      s.httpPools = pool
        ? ([{ name: 'https.globalAgent', kind: 'agent', maxSockets: 6, origins: [{ key: 'k', origin: 'https://api:443', inUse: pool.inUse, free: 0, queued: pool.queued }], totals: { inUse: pool.inUse, free: 0, queued: pool.queued } }] as unknown as Sample['httpPools'])
        : null;
      return s;
    };
    assert.deepEqual(d.fromSample(withWorkers(T0, [1], null)), []);
    const texts = (s: Sample): string[] => d.fromSample(s).map((e) => e.text);
    assert.deepEqual(texts(withWorkers(T0 + 1000, [1, 2], { inUse: 6, queued: 4 })), ['pool https.globalAgent to https://api:443 is full: 6 of 6 sockets in use, 4 requests queued', 'worker 2 (w2) started']);
    assert.deepEqual(texts(withWorkers(T0 + 2000, [2], { inUse: 6, queued: 9 })), ['worker 1 (w1) ended']);
    assert.deepEqual(texts(withWorkers(T0 + 3000, [2], { inUse: 2, queued: 0 })), ['pool https.globalAgent to https://api:443 no longer queues (after 2.0 s, up to 9 queued)']);
    assert.equal(d.noAnswer(T0 + 4000, 'timed out').length, 1);
    assert.equal(d.noAnswer(T0 + 5000, 'timed out').length, 0);
    assert.deepEqual(texts(withWorkers(T0 + 9000, [2], null)), ['answering again after 5.0 s']);
    const log = new EventLog(2);
    log.add(d.event(T0, 'gc', 'info', 'a'), d.event(T0, 'gc', 'info', 'b'), d.event(T0, 'gc', 'info', 'c'));
    assert.deepEqual(log.list().map((e) => e.text), ['b', 'c']);
    assert.equal(log.dropped, 1);
  });
});

describe('charts and colours', () => {
  const p = painter({ color: true, colors: 256, unicode: true });

  it('a series keeps ten minutes at 1 s and more', () => {
    assert.ok(HISTORY_POINTS >= 600);
    const s = new Series();
    for (let i = 0; i < 700; i++) s.push(i, T0 + i * 1000);
    assert.equal(s.size, 700);
    assert.equal(s.points(T0 + 100 * 1000).length, 600);
  });

  it("a chart's window: the readings in it and the one before, which the line enters from, after the ring wrapped", () => {
    const s = new Series(100);
    for (let i = 0; i < 250; i++) s.push(i === 240 ? null : i, T0 + i * 1000);
    // kept: 150..249; from 200.5 s: the reading at 200 (before) and 201..249
    const w = s.window(T0 + 200_500);
    assert.equal(w.length, 50);
    assert.deepEqual(w[0], [T0 + 200_000, 200]);
    assert.deepEqual(w.at(-1), [T0 + 249_000, 249]);
    assert.deepEqual(w[40], [T0 + 240_000, null]);
    // a window older than anything kept: all of it; newer than the last reading: the last alone
    assert.equal(s.window(T0).length, 100);
    assert.deepEqual(s.window(T0 + 999_000), [[T0 + 249_000, 249]]);
    assert.deepEqual(new Series(10).window(T0), []);
  });

  it('draws a line in braille with a value axis and a time axis, and leaves a gap for a missing reading', () => {
    const pts: Array<[number, number | null]> = [];
    for (let i = 0; i <= 60; i++) pts.push([T0 + i * 1000, i >= 28 && i <= 32 ? null : 50]);
    const lines = lineChart({ title: 'Lag', legend: 'now 50', lines: [{ label: 'x', points: pairPoints(pts), paint: 'good' }], fromMs: T0, toMs: T0 + 60_000, min: 0, max: 100, format: (v) => `${v}ms` }, 40, 6, p).map(stripTags);
    assert.equal(lines.length, 6);
    assert.match(lines[0]!, /^Lag now 50/);
    assert.match(lines[1]!, /^100ms┤/);
    assert.match(lines[4]!, /^ {2}0ms┤/);
    assert.match(lines[5]!, /└-1m.*-30s.*now$/);
    // the middle row holds the line (50 of 100), with a hole where the reading is missing
    const plot = lines.slice(1, 5).map((l) => l.slice(6));
    const row = plot.find((l) => /[⠁-⣿]/.test(l))!;
    assert.match(row, /[⠁-⣿]+ +[⠁-⣿]+/);
  });

  it('scales a bytes axis to a power of two', () => {
    assert.equal(niceBytes(50 * 2 ** 20), 64 * 2 ** 20);
    assert.equal(niceBytes(3 * 2 ** 30), 4 * 2 ** 30);
  });

  it('dim is grey 245 with 256 colours, the default colour with 8, a mark with none', () => {
    assert.equal(p.paint('x', 'dim'), '{245-fg}x{/245-fg}');
    assert.equal(painter({ color: true, colors: 8, unicode: true }).paint('x', 'dim'), 'x');
    const plain = painter({ color: false, unicode: true });
    assert.equal(plain.paint('CPU 95%', 'bad'), 'CPU 95%!!');
    assert.equal(plain.paint('  a row', 'warn'), '! a row');
    assert.equal(plain.paint('fine', 'good'), 'fine');
  });

  it('knows the colours of each TERM, whatever blessed read from terminfo', () => {
    assert.equal(colorDepth({ TERM: 'xterm' }), 8);
    assert.equal(colorDepth({ TERM: 'screen' }), 8);
    assert.equal(colorDepth({ TERM: 'linux' }), 8);
    assert.equal(colorDepth({ TERM: 'xterm-256color' }), 256);
    assert.equal(colorDepth({ TERM: 'screen-256color' }), 256);
    assert.equal(colorDepth({ TERM: 'tmux-256color' }), 256);
    assert.equal(colorDepth({ TERM: 'xterm', COLORTERM: 'truecolor' }), 256);
    assert.equal(colorDepth({ TERM: 'xterm-256color', NO_COLOR: '1' }), 0);
    assert.equal(colorDepth({ TERM: 'dumb' }), 0);
  });

  it('steps the interval along a ladder and says it plainly', () => {
    let v = 60_000;
    for (let i = 0; i < 6; i++) v = stepInterval(v, -1);
    assert.equal(v, 500);
    assert.equal(stepInterval(250, -1), 250);
    assert.equal(stepInterval(937.5, 1), 1000);
    assert.equal(formatInterval(500), '500 ms');
    assert.equal(formatInterval(1000), '1 s');
    assert.equal(formatInterval(60_000), '1 min');
  });
});
