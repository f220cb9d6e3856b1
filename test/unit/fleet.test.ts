import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../src/cli';
import { NodetopError } from '../../src/errors';
import { tickAt } from '../../src/ticker';

describe('ticker', () => {
  it('delivers a late tick once, with its lateness, and counts the ticks it overran as skipped', () => {
    // interval 1000, started at 0: tick k is due at (k + 1) * 1000
    assert.deepEqual(tickAt(0, 1000, 1003, -1), { index: 0, lateMs: 3, skipped: 0, nextDueMs: 2000 });
    assert.deepEqual(tickAt(0, 1000, 2000, 0), { index: 1, lateMs: 0, skipped: 0, nextDueMs: 3000 });
    // the timer was held up for 2.5 intervals: one tick, two skipped, the next due on the grid
    assert.deepEqual(tickAt(0, 1000, 4500, 1), { index: 3, lateMs: 500, skipped: 1, nextDueMs: 5000 });
    // a timer firing a hair early still moves on
    assert.deepEqual(tickAt(0, 1000, 999, -1), { index: 0, lateMs: 0, skipped: 0, nextDueMs: 2000 });
  });
});

describe('watch and ps command lines', () => {
  it('parses watch with several pids and its options', () => {
    const inv = parseCommandLine(['watch', '12', '34', '--count', '3', '--interval', '500ms', '--json', '--fields', 'pid,heap']);
    assert.equal(inv.command, 'watch');
    if (inv.command !== 'watch') return;
    assert.deepEqual(inv.pids, [12, 34]);
    assert.equal(inv.count, 3);
    assert.equal(inv.intervalMs, 500);
    assert.equal(inv.durationMs, null);
    assert.equal(inv.json, true);
    assert.deepEqual(inv.fields, ['pid', 'heap']);
    const d = parseCommandLine(['watch', '12']);
    assert.equal(d.command === 'watch' && d.intervalMs, 1000);
    assert.equal(d.command === 'watch' && d.fields.length, 11);
  });

  it('refuses bad watch usage with exit code 2', () => {
    for (const argv of [['watch'], ['watch', '1', '1'], ['watch', '1', '--count', '0'], ['watch', '1', '--fields', 'x'], ['watch', '1', '--duration', '1s', '--interval', '2s']]) {
      assert.throws(() => parseCommandLine(argv), (e: unknown) => e instanceof NodetopError && e.exitCode === 2, argv.join(' '));
    }
  });

  it('parses ps', () => {
    assert.deepEqual(parseCommandLine(['ps']), { command: 'ps', json: false, cpuWindowMs: 200, mine: false });
    assert.deepEqual(parseCommandLine(['ps', '--json', '--cpu-window', '0', '--mine']), { command: 'ps', json: true, cpuWindowMs: 0, mine: true });
  });
});

describe('prometheus formatter', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prom = require('../../src/sinks/prometheus') as typeof import('../../src/sinks/prometheus');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildSample } = require('../../src/model/sample') as typeof import('../../src/model/sample');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { checkListen, parseListen } = require('../../src/listen') as typeof import('../../src/listen');
  type Raw = import('../../src/probes/sample').RawSample;

  const raw = (timeMs: number, gcCount: number): Raw => ({
    unavailable: {},
    timeMs,
    pid: 4242,
    uptimeSec: 100,
    memory: { rss: 50_000_000, heapTotal: 8_000_000, heapUsed: 6_000_000, external: 1_000, arrayBuffers: 500 },
    heap: { heapSizeLimit: 4e9, totalAvailableSize: 3e9, mallocedMemory: 1e5, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
    spaces: [{ name: 'old_space', size: 4_000_000, used: 3_000_000, available: 1_000_000 }],
    handles: { Timeout: 3, TCPSocketWrap: 5 },
    handleObjects: { Socket: 5 },
    requests: { FSReqCallback: 1 },
    cpuUsageMicros: { user: 1_500_000, system: 500_000 },
    fds: null,
    window: {
      ms: 1000,
      resolutionMs: 10,
      lag: { min: 10e6, max: 30e6, mean: 12e6, stddev: 1e6, p50: 11e6, p90: 15e6, p99: 25e6, count: 90 },
      elu: { idle: 900, active: 100, utilization: 0.1 },
      gc: { minor: { count: gcCount, ms: 4, le: [gcCount, 0, 0, 0, 0, 0] }, major: { count: 1, ms: 20, le: [0, 0, 1, 0, 0, 0] } },
    },
    blocked: null,
  });
  const identity = { pid: 4242, ppid: 1, title: 'my "api"\\prod\nv2', argv: ['node', 'api.js'], execPath: '/usr/bin/node', nodeVersion: 'v20.11.1', v8Version: '11' };
  const target = (): import('../../src/sinks/prometheus').PromTarget => {
    const r = raw(2_000_000, 7);
    const sample = buildSample({ identity: identity as never, inspector: { url: 'ws://x', openedByNodetop: false }, prev: raw(1_999_000, 2), raw: r, proc: { fdsOpen: 12, fdsLimit: 1024, threads: 7, nodetop: null }, host: null });
    return { labels: { pid: 4242, script: identity.title, thread: 'main', extra: {} }, up: true, sample, raw: r, sampleDurationSeconds: 0.002 };
  };

  it('escapes label values: backslash, double quote, newline', () => {
    assert.equal(prom.escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    const body = prom.renderPrometheus([target()]);
    assert.ok(body.includes('script="my \\"api\\"\\\\prod\\nv2"'), body);
    for (const l of body.trimEnd().split('\n')) assert.match(l, /^(# (HELP|TYPE) [a-z0-9_]+ .+|[a-z0-9_]+\{.*\} \S+)$/, 'every line whole: no raw newline inside a series');
  });

  it('writes HELP then TYPE once per family, before its series, with the right types', () => {
    const body = prom.renderPrometheus([target(), { ...target(), labels: { pid: 4343, script: '/srv/t.js', thread: 'main', extra: { service: 'api' } } }]);
    const lines = body.trimEnd().split('\n');
    const types = lines.filter((l) => l.startsWith('# TYPE '));
    assert.equal(new Set(types).size, types.length, 'one TYPE per family');
    for (const [i, l] of lines.entries()) {
      if (!l.startsWith('# TYPE ')) continue;
      const name = l.split(' ')[2]!;
      assert.ok(lines[i - 1]!.startsWith(`# HELP ${name} `), `HELP before TYPE for ${name}`);
      assert.ok(lines[i + 1]!.startsWith(name) || lines[i + 1]!.startsWith('# HELP ') || i + 1 === lines.length, `series (or the next family) after TYPE for ${name}`);
    }
    assert.ok(types.includes('# TYPE nodejs_active_handles gauge'));
    assert.ok(types.includes('# TYPE process_cpu_seconds_total counter'));
    assert.ok(types.includes('# TYPE nodejs_gc_duration_seconds histogram'));
    assert.ok(body.includes('nodejs_active_resources{pid="4242",script="my \\"api\\"\\\\prod\\nv2",thread="main",type="Timeout"} 3\n'));
    assert.ok(body.includes('nodejs_active_resources{pid="4343",script="/srv/t.js",thread="main",service="api",type="FSReqCallback"} 1\n'));
    assert.ok(body.includes('nodejs_active_resources_total{pid="4343",script="/srv/t.js",thread="main",service="api"} 9\n'));
    assert.ok(body.includes('nodejs_active_handles{pid="4343",script="/srv/t.js",thread="main",service="api",type="Socket"} 5\n'));
    assert.ok(body.includes('nodejs_gc_duration_seconds_bucket{pid="4343",script="/srv/t.js",thread="main",service="api",le="0.1",kind="major"} 1\n'));
    assert.ok(body.includes('nodejs_gc_duration_seconds_bucket{pid="4343",script="/srv/t.js",thread="main",service="api",le="+Inf",kind="minor"} 7\n'));
    assert.ok(body.includes('process_cpu_seconds_total{pid="4343",script="/srv/t.js",thread="main",service="api"} 2\n'));
    assert.ok(body.includes('nodejs_gc_duration_seconds_count{pid="4343",script="/srv/t.js",thread="main",service="api",kind="minor"} 7\n'));
    assert.ok(body.includes('nodejs_gc_duration_seconds_sum{pid="4343",script="/srv/t.js",thread="main",service="api",kind="major"} 0.02\n'));
    assert.ok(body.includes('nodejs_eventloop_lag_p99_seconds{pid="4343",script="/srv/t.js",thread="main",service="api"} 0.015\n'));
    assert.ok(body.includes('nodejs_heap_space_size_used_bytes{pid="4343",script="/srv/t.js",thread="main",service="api",space="old"} 3000000\n'));
    assert.ok(body.includes('process_open_fds{pid="4343",script="/srv/t.js",thread="main",service="api"} 12\n'));
    assert.ok(body.includes('nodejs_version_info{pid="4343",script="/srv/t.js",thread="main",service="api",version="v20.11.1",major="20",minor="11",patch="1"} 1\n'));
  });

  it('serves only nodetop_target_up 0 for a target that does not answer, and nothing for none', () => {
    const body = prom.renderPrometheus([{ ...target(), up: false, sample: null, raw: null }]);
    assert.equal(body.split('\n').filter((l) => l && !l.startsWith('#')).join('\n'), 'nodetop_target_up{pid="4242",script="my \\"api\\"\\\\prod\\nv2",thread="main"} 0');
    assert.equal(prom.renderPrometheus([]), '');
    assert.equal(prom.formatValue(NaN), 'NaN');
    assert.equal(prom.formatValue(-Infinity), '-Inf');
  });

  it('--listen: loopback by default, anything else only with --allow-remote-listen', () => {
    assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => checkListen(parseListen('0.0.0.0:9464'), false), (e: unknown) => e instanceof NodetopError && e.exitCode === 2);
    checkListen(parseListen('0.0.0.0:9464'), true);
    assert.throws(() => parseListen('nope'), NodetopError);
    assert.throws(() => parseCommandLine(['export', '1', '--listen', '10.0.0.1:9464']), (e: unknown) => e instanceof NodetopError && e.exitCode === 2);
    const inv = parseCommandLine(['export', '--all']);
    assert.equal(inv.command === 'export' && inv.listen, '127.0.0.1:9464');
    assert.equal(inv.command === 'export' && inv.intervalMs, 5000);
  });
});
