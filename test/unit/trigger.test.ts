// The trigger language (src/model/trigger.ts) and engine (src/model/triggers.ts), pure: tables
// of conditions that parse (to what threshold) and that do not (at which position, expecting
// what), properties of "for" windows and growth rates against a direct computation, and the
// engine's budget, cooldown and one-firing-at-a-time rule on made-up samples.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildSample, type Sample, type WorkerRow } from '../../src/model/sample';
import { Condition, ConditionError, parseCondition, type Node } from '../../src/model/trigger';
import { ActionError, parseAction, splitWords, TriggerEngine, type TriggerSpec } from '../../src/model/triggers';
import type { RawSample } from '../../src/probes/sample';
import { triggerValuesText } from '../../src/sinks/line';

const MiB = 2 ** 20;
const T0 = Date.parse('2026-01-01T00:00:00Z');

function raw(): RawSample {
  return {
    timeMs: T0,
    pid: 4242,
    uptimeSec: 10,
    memory: { rss: 100 * MiB, heapTotal: 60 * MiB, heapUsed: 50 * MiB, external: MiB, arrayBuffers: 1024 },
    heap: { heapSizeLimit: 100 * MiB, totalAvailableSize: 0, mallocedMemory: 0, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
    spaces: [],
    handles: { Timeout: 3, TCPSocketWrap: 5 },
    requests: {},
    cpuUsageMicros: { user: 0, system: 0 },
    fds: null,
    window: {
      ms: 1000,
      resolutionMs: 10,
      lag: { min: 10.1e6, max: 250e6, mean: 12e6, stddev: 1, p50: 10.2e6, p90: 11e6, p99: 210e6, count: 90 },
      elu: { idle: 50, active: 950, utilization: 0.95 },
      gc: { minor: { count: 4, ms: 3 }, major: { count: 1, ms: 20 } },
    },
    blocked: null,
    unavailable: {},
  };
}

const BASE: Sample = buildSample({
  identity: { pid: 4242, ppid: 1, title: 'node', argv: [], execPath: '/usr/bin/node', nodeVersion: 'v20.0.0', v8Version: '11', uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0 } as never,
  inspector: { url: 'ws://127.0.0.1:1/x', openedByNodetop: true },
  prev: null,
  raw: raw(),
  proc: { fdsOpen: 950, fdsLimit: 1000, threads: 7, nodetop: null },
  host: null,
});

/** A sample at T0 + sec seconds, changed by `patch`. */
function at(sec: number, patch: (s: Sample) => void = () => {}): Sample {
  const s = structuredClone(BASE);
  s.time = new Date(T0 + sec * 1000).toISOString();
  patch(s);
  return s;
}

const heap = (mib: number) => (s: Sample) => {
  s.memory.heapUsedBytes = mib * MiB;
};

function cmp(text: string): Extract<Node, { type: 'cmp' }> {
  const n = parseCondition(text);
  assert.equal(n.type, 'cmp', text);
  return n as Extract<Node, { type: 'cmp' }>;
}

function worker(threadId: number, heapMiB: number, limitMiB = 100): WorkerRow {
  return {
    threadId,
    name: `w${threadId}`,
    title: '',
    state: 'running',
    error: null,
    heapUsedBytes: heapMiB * MiB,
    heapTotalBytes: heapMiB * MiB,
    heapLimitBytes: limitMiB * MiB,
    externalBytes: 0,
    arrayBuffersBytes: 0,
    eventLoop: { windowMs: 1000, lagMs: null, utilization: 0.1, blocked: null },
    gc: null,
    handles: null,
    cpuPercent: null,
    readAt: BASE.time,
  };
}

describe('trigger language: parsing', () => {
  it('reads the thresholds in the field’s unit (table)', () => {
    const table: Array<[string, number, boolean?]> = [
      ['heap.used > 85% of limit', 0.85, true],
      ['heap.used > 512MB', 512e6],
      ['heap.used > 512MiB', 512 * MiB],
      ['heap.used > 1.5 GiB', 1.5 * 1024 * MiB],
      ['rss >= 2GB', 2e9],
      ['external > 100KB', 1e5],
      ['external > 100KiB', 102_400],
      ['rss > 1000', 1000],
      ['lag.p99 > 200ms', 200],
      ['lag.max > 2s', 2000],
      ['lag.p50 > 1.5 s', 1500],
      ['cpu > 80%', 80],
      ['cpu > 150', 150],
      ['elu > 0.9', 0.9],
      ['utilization > 90%', 0.9],
      ['fds > 90% of limit', 0.9, true],
      ['fds > 900', 900],
      ['handles.TCPSocketWrap > 100', 100],
      ['gc.pause > 100ms', 100],
      ['gc.major.count >= 3', 3],
      ['worker.heap.used > 80% of limit', 0.8, true],
      ['worker[3].heap.used > 10MB', 1e7],
      ['blocked > 1s', 1000],
      ['rss grows > 50MB/min', 50e6 / 60],
      ['heap.used grows > 1MiB/s', MiB],
      ['handles grows > 60/h', 60 / 3600],
    ];
    for (const [text, want, ofLimit] of table) {
      const n = cmp(text);
      assert.ok(Math.abs(n.threshold - want) < 1e-9 * Math.max(1, want), `${text}: ${n.threshold} != ${want}`);
      assert.equal(n.ofLimit, Boolean(ofLimit), text);
    }
  });

  it('parses the issue’s three conditions', () => {
    const a = parseCondition('heap.used > 85% of limit for 30s');
    assert.equal(a.type, 'for');
    assert.equal(a.type === 'for' && a.ms, 30_000);
    const b = parseCondition('lag.p99 > 200ms for 10s');
    assert.equal(b.type === 'for' && b.ms, 10_000);
    assert.equal(parseCondition('fds > 90% of limit').type, 'cmp');
  });

  it('binds and tighter than or, "for" to the comparison or group before it', () => {
    const n = parseCondition('cpu > 90% or heap.used > 1GB and rss > 2GB for 5m');
    assert.equal(n.type, 'or');
    if (n.type !== 'or') return;
    assert.equal(n.right.type, 'and');
    if (n.right.type !== 'and') return;
    assert.equal(n.right.right.type, 'for');
    const g = parseCondition('(cpu > 90% or elu > 0.9) for 1m');
    assert.equal(g.type, 'for');
    assert.equal(g.type === 'for' && g.inner.type, 'or');
    // a growth's own "for" is its window, not a "held in every sample"
    const r = parseCondition('rss grows > 50MB/min for 5m');
    assert.equal(r.type, 'cmp');
    assert.equal(r.type === 'cmp' && r.windowMs, 300_000);
  });

  it('says where a condition goes wrong and what was expected (table)', () => {
    const table: Array<[string, number, RegExp]> = [
      ['heap.used > 85% of limt', 20, /expected "limit" after "of", found "limt"/],
      ['heap.usd > 1GB', 1, /"heap\.usd" is not a field; the fields are heap\.used/],
      ['heap.used 1GB', 11, /expected a comparison .* after "heap\.used", found "1GB"/],
      ['heap.used >', 12, /expected a size such as 512MB .* found the end of the condition/],
      ['heap.used > 200ms', 13, /heap\.used is not a duration: expected a size/],
      ['lag.p99 > 1GB', 11, /lag\.p99 is not a size: expected a duration such as 200ms/],
      ['rss > 85% of limit', 11, /rss has no limit/],
      ['heap.used > 85%', 13, /needs "of limit"/],
      ['heap.used > 1GB of limit', 17, /"of limit" goes after a percentage/],
      ['elu > 5', 7, /share from 0 to 1/],
      ['rss grows > 50MB', 13, /expected a rate such as 50MB\/min/],
      ['rss > 50MB/min', 7, /is a rate: a rate goes after "grows"/],
      ['rss > 1GB for', 14, /a duration such as 30s, 5m or 1h after "for"/],
      ['rss > 1GB for 10MB', 15, /a duration such as 30s/],
      ['rss > 1GB and', 14, /expected a field/],
      ['(rss > 1GB', 11, /expected "\)"/],
      ['rss > 1GB cpu > 1', 11, /expected "and", "or", "for" or the end/],
      ['rss > 1GB; rm -rf /', 10, /found ";"/],
      ['', 1, /expected a field .* found the end of the condition/],
    ];
    for (const [text, pos, re] of table) {
      assert.throws(
        () => parseCondition(text),
        (e: unknown) => {
          assert.ok(e instanceof ConditionError, `${text}: ${String(e)}`);
          assert.equal(e.position, pos, `${text}: ${e.message}`);
          assert.match(e.message, re, text);
          assert.match(e.message, new RegExp(`^at position ${pos}, `));
          return true;
        },
      );
    }
  });

  it('never throws anything but a ConditionError, whatever the text (property)', () => {
    const pieces = fc.constantFrom('heap.used', 'rss', 'lag.p99', 'fds', 'grows', '>', '<=', '==', '85%', 'of', 'limit', 'for', '30s', '2GB', '50MB/min', 'and', 'or', '(', ')', '0.5', 'x', ';');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(pieces, { maxLength: 12 }).map((a) => a.join(' '))), (text) => {
        try {
          const c = new Condition(text);
          c.observe(at(0), T0);
        } catch (e) {
          if (!(e instanceof ConditionError)) throw e;
          assert.ok(e.position >= 1 && e.position <= text.length + 1, `${text}: ${e.position}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('trigger language: evaluation', () => {
  it('compares levels, shares of the limit, and reports the readings', () => {
    const c = new Condition('heap.used > 85% of limit');
    assert.equal(c.observe(at(0, heap(80)), T0).holds, false);
    const v = c.observe(at(1, heap(90)), T0 + 1000);
    assert.equal(v.holds, true);
    assert.deepEqual(v.values, { 'heap.used': 90 * MiB, 'heap.used.limit': 100 * MiB });
    assert.equal(triggerValuesText(v.values), 'heap.used 90.0 MiB (90.0% of limit 100 MiB)');
    assert.equal(new Condition('fds > 90% of limit').observe(at(0), T0).holds, true); // 950 of 1000
    assert.equal(new Condition('lag.p99 > 150ms').observe(at(0), T0).holds, true); // 210 less the 10 ms resolution
    assert.equal(new Condition('sockets >= 5 and handles.Timeout == 3').observe(at(0), T0).holds, true);
    assert.equal(new Condition('cpu > 1 or elu > 0.9').observe(at(0), T0).holds, true);
  });

  it('an unknown reading never holds', () => {
    const c = new Condition('rss > 1B');
    assert.equal(c.observe(at(0, (s) => (s.process.rssBytes = null)), T0).holds, false);
    assert.equal(new Condition('rss < 1GB').observe(at(0, (s) => (s.process.rssBytes = null)), T0).holds, false);
    assert.equal(new Condition('fds > 90% of limit').observe(at(0, (s) => (s.process.fds.limit = null)), T0).holds, false);
  });

  it('a loop stuck for the whole window has its stall for its lag', () => {
    const stuck = at(0, (s) => {
      s.eventLoop.lagMs = null;
      s.eventLoop.blocked = { forMs: 4000, stack: [] };
    });
    assert.equal(new Condition('lag.p99 > 200ms').observe(stuck, T0).holds, true);
    assert.equal(new Condition('blocked > 3s').observe(stuck, T0).holds, true);
    // a stale percentile from before the block does not hide it
    const stale = at(0, (s) => (s.eventLoop.blocked = { forMs: 4000, stack: [] }));
    assert.equal(new Condition('lag.p50 > 3s').observe(stale, T0).holds, true);
    assert.equal(new Condition('lag.p50 > 3s').observe(at(0), T0).holds, false);
  });

  it('a worker field holds on any worker and names the one that tripped', () => {
    const s = at(0, (x) => (x.workers = [worker(1, 10), worker(2, 90), worker(3, 20)]));
    const v = new Condition('worker.heap.used > 80% of limit').observe(s, T0);
    assert.equal(v.holds, true);
    assert.equal(v.threadId, 2);
    assert.equal(new Condition('worker[3].heap.used > 80% of limit').observe(s, T0).holds, false);
    assert.equal(new Condition('worker.heap.used > 1B').readsWorkers, true);
    assert.equal(new Condition('heap.used > 1B').readsWorkers, false);
  });

  it('"for D" holds exactly when every sample of the last D held (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 10 }), (bits, forSec) => {
        const c = new Condition(`heap.used > 50MiB for ${forSec}s`);
        let run = 0; // samples in the current streak of true, one a second
        for (const [i, b] of bits.entries()) {
          run = b ? run + 1 : 0;
          const got = c.observe(at(i, heap(b ? 60 : 40)), T0 + i * 1000).holds;
          // the streak's first sample is at i - run + 1: it spans (run - 1) seconds
          assert.equal(got, b && run - 1 >= forSec, `i=${i} run=${run}`);
        }
      }),
    );
  });

  it('a growth rate is measured over its window (property against a direct computation)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 200 }), (mibs, windowSec, rateMiBPerMin) => {
        const c = new Condition(`rss grows > ${rateMiBPerMin}MiB/min for ${windowSec}s`);
        for (const [i, m] of mibs.entries()) {
          const got = c.observe(at(i, (s) => (s.process.rssBytes = m * MiB)), T0 + i * 1000);
          // the oldest reading at least windowSec old that is kept: the one windowSec ago (1 s apart)
          const j = i - windowSec;
          const want = j >= 0 && ((mibs[i]! - mibs[j]!) / windowSec) * 60 > rateMiBPerMin;
          assert.equal(got.holds, want, `i=${i}`);
        }
      }),
    );
  });

  it('reset() makes the condition hold anew for its whole duration', () => {
    const c = new Condition('heap.used > 50MiB for 2s');
    for (let i = 0; i < 3; i++) c.observe(at(i, heap(60)), T0 + i * 1000);
    assert.equal(c.observe(at(3, heap(60)), T0 + 3000).holds, true);
    c.reset();
    assert.equal(c.observe(at(4, heap(60)), T0 + 4000).holds, false);
    assert.equal(c.observe(at(5, heap(60)), T0 + 5000).holds, false);
    assert.equal(c.observe(at(6, heap(60)), T0 + 6000).holds, true);
  });
});

describe('trigger actions', () => {
  it('parses the actions (table) and refuses others in one sentence', () => {
    assert.deepEqual(parseAction('snapshot'), { kind: 'snapshot', text: 'snapshot', worker: null });
    assert.deepEqual(parseAction('snapshot worker'), { kind: 'snapshot', text: 'snapshot worker', worker: 'tripped' });
    assert.deepEqual(parseAction('snapshot worker 3'), { kind: 'snapshot', text: 'snapshot worker 3', worker: 3 });
    assert.deepEqual(parseAction('profile 10s'), { kind: 'profile', text: 'profile 10s', durationMs: 10_000 });
    assert.deepEqual(parseAction('profile'), { kind: 'profile', text: 'profile', durationMs: 5000 });
    assert.deepEqual(parseAction('gc'), { kind: 'gc', text: 'gc' });
    assert.deepEqual(parseAction('stats'), { kind: 'stats', text: 'stats' });
    assert.deepEqual(parseAction('exec ./page-oncall.sh').kind === 'exec' && parseAction('exec ./page-oncall.sh'), { kind: 'exec', text: 'exec ./page-oncall.sh', argv: ['./page-oncall.sh'] });
    for (const bad of ['snap', 'profile forever', 'profile 1h', 'snapshot worker x', 'gc now', 'exec', 'exec "unclosed']) {
      assert.throws(() => parseAction(bad), ActionError, bad);
    }
  });

  it('splits exec words as a shell would, expanding nothing', () => {
    assert.deepEqual(splitWords(`a 'b c' "d \\"e\\"" f\\ g $HOME;rm`), ['a', 'b c', 'd "e"', 'f g', '$HOME;rm']);
    assert.deepEqual(splitWords(`sh -c 'echo $NODETOP_PID > x'`), ['sh', '-c', 'echo $NODETOP_PID > x']);
    assert.deepEqual(splitWords(`  `), []);
    assert.deepEqual(splitWords(`''`), ['']);
  });
});

describe('trigger engine', () => {
  const spec = (when: string, actions = [parseAction('stats')]): TriggerSpec => ({ index: 1, when, actions });

  it('runs one firing at a time; a condition that holds meanwhile waits, and fires after', () => {
    const e = new TriggerEngine([spec('heap.used > 1B'), { ...spec('rss > 1B'), index: 2 }], { maxActions: 10, cooldownMs: 0, keepWatching: false });
    const f = e.observe(1, at(0), 0);
    assert.deepEqual(
      f.map((x) => [x.trigger, x.number]),
      [[1, 1]],
    );
    assert.equal(e.busy, true);
    assert.deepEqual(e.observe(2, at(1), 1000), []); // another target: waits too
    e.end(f[0]!, 2000);
    const g = e.observe(2, at(2), 2000);
    assert.deepEqual(
      g.map((x) => [x.trigger, x.pid, x.number]),
      [[1, 2, 2]],
    );
  });

  it('holds the budget, then reports firings as skipped only with keepWatching (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 30 }), fc.boolean(), (max, samples, keep) => {
        const e = new TriggerEngine([spec('heap.used > 1B')], { maxActions: max, cooldownMs: 0, keepWatching: keep });
        let ran = 0;
        let skipped = 0;
        for (let i = 0; i < samples; i++) {
          for (const f of e.observe(1, at(i), i * 1000)) {
            if (f.skipped) skipped++;
            else {
              ran++;
              e.end(f, i * 1000);
            }
          }
        }
        assert.equal(ran, Math.min(max, samples));
        assert.equal(e.spent, samples >= max);
        assert.equal(skipped, keep ? Math.max(0, samples - max) : 0);
      }),
    );
  });

  it('holds the cooldown from the end of the actions, per trigger and target', () => {
    const e = new TriggerEngine([spec('heap.used > 1B')], { maxActions: 100, cooldownMs: 10_000, keepWatching: false });
    const f = e.observe(1, at(0), 0)[0]!;
    e.end(f, 5000);
    let fired = 0;
    for (let s = 1; s < 15; s++) fired += e.observe(1, at(s), s * 1000).length;
    // the end was at 5 s: nothing before 15 s
    assert.equal(fired, 0);
    assert.equal(e.observe(1, at(15), 15_000).length, 1);
    // the other target has its own cooldown
    const other = new TriggerEngine([spec('heap.used > 1B')], { maxActions: 100, cooldownMs: 10_000, keepWatching: false });
    other.end(other.observe(1, at(0), 0)[0]!, 0);
    assert.equal(other.observe(2, at(1), 1000).length, 1);
  });

  it('a trigger without actions reports its firings and spends nothing', () => {
    const e = new TriggerEngine([spec('heap.used > 1B', [])], { maxActions: 1, cooldownMs: 0, keepWatching: false });
    for (let i = 0; i < 3; i++) assert.equal(e.observe(1, at(i), i * 1000)[0]!.number, null);
    assert.equal(e.spent, false);
    assert.equal(e.busy, false);
  });
});
