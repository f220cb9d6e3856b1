// The live view's pure layer: samples in, screen lines out, at a fixed terminal size.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildSample, buildWorkerRow, type Sample } from '../../src/model/sample';
import { Series } from '../../src/model/series';
import { fit, initialState, newHistory, painter, renderScreen, stripTags, visibleLength, type History } from '../../src/tui/render';
import { eventsPage } from '../../src/tui/views/events';
import { handleRows, handlesPage } from '../../src/tui/views/handles';
import { overviewPage } from '../../src/tui/views/overview';
import { poolsPage } from '../../src/tui/views/pools';
import { socketsPage, walkAge } from '../../src/tui/views/sockets';
import { workersAge, workersPage } from '../../src/tui/views/workers';
import { WORKER_READS_PER_S } from '../../src/sampler';
import type { RawSample } from '../../src/probes/sample';
import { renderStats } from '../../src/sinks/text';

function raw(over: Partial<RawSample> = {}): RawSample {
  return {
    timeMs: 1_700_000_000_000,
    pid: 4242,
    uptimeSec: 3725,
    memory: { rss: 100 * 2 ** 20, heapTotal: 60 * 2 ** 20, heapUsed: 50 * 2 ** 20, external: 2 ** 20, arrayBuffers: 1024 },
    heap: { heapSizeLimit: 64 * 2 ** 20, totalAvailableSize: 0, mallocedMemory: 0, numberOfNativeContexts: 1, numberOfDetachedContexts: 0 },
    spaces: [{ name: 'old_space', size: 40 * 2 ** 20, used: 39 * 2 ** 20, available: 0 }],
    handles: { Timeout: 3, TCPSocketWrap: 5 },
    requests: { FSReqCallback: 1 },
    cpuUsageMicros: { user: 0, system: 0 },
    fds: null,
    window: {
      ms: 1000,
      resolutionMs: 10,
      lag: { min: 10.1e6, max: 250e6, mean: 12e6, stddev: 1, p50: 10.2e6, p90: 11e6, p99: 210e6, count: 90 },
      elu: { idle: 50, active: 950, utilization: 0.95 },
      gc: { minor: { count: 4, ms: 3 }, major: { count: 1, ms: 20 } },
    },
    blocked: { forMs: 3000, stack: ['at spinTheWheel (/srv/app.js:8:3)', 'at main (/srv/app.js:20:1)'] },
    unavailable: {},
    ...over,
  };
}

const identity = {
  pid: 4242, ppid: 1, title: 'node', argv: ['/usr/bin/node', '/srv/app.js', '--port', '8080'], execPath: '/usr/bin/node',
  nodeVersion: 'v20.20.2', v8Version: '11.3', uptimeSec: 1, platform: 'linux', inspectorUrl: null, isMainThread: true, threadId: 0,
};

function sample(over: Partial<RawSample> = {}, prev: RawSample | null = null): Sample {
  return buildSample({
    identity, inspector: { url: 'ws://127.0.0.1:1/x', openedByNodetop: true }, prev, raw: raw(over),
    proc: { fdsOpen: 1000, fdsLimit: 1024, threads: 7, nodetop: null }, host: { cpus: 2, loadAvg: [1, 1, 1], memTotalBytes: 8 * 2 ** 30, memAvailableBytes: 2 ** 30 },
  });
}

function history(): History {
  const h = newHistory(10);
  for (const v of [1, 2, null, 4]) h.heapUsed.push(v);
  return h;
}

const pages = { overview: overviewPage, handles: handlesPage, sockets: socketsPage, workers: workersPage, pools: poolsPage, events: eventsPage };

describe('live view rendering', () => {
  it('fills an 80x24 screen exactly, no line wider than the terminal', () => {
    const lines = renderScreen(sample(), null, history(), initialState(1000), { width: 80, height: 24, color: true, unicode: true, readonly: false }, pages);
    assert.equal(lines.length, 24);
    for (const l of lines) assert.equal(visibleLength(l), 80, stripTags(l));
    const text = lines.map(stripTags).join('\n');
    assert.match(text, /^nodetop {2}pid 4242 {2}\/srv\/app\.js --port 8080 .* node v20\.20\.2 {2}up 1h02m/);
    assert.match(text, /fds 1000\/1024/);
    assert.match(text, /BLOCKED {2}main thread stuck in JavaScript for 3000 ms/);
    assert.match(text, /at spinTheWheel/);
    assert.match(text, /lag p50 0\.20 ms {2}p99 200 ms/);
  });

  it('a snapshot in progress: a bar when V8 counts (streaming), what it does and for how long when it cannot', () => {
    const screen = { width: 80, height: 24, color: false, unicode: false, readonly: false };
    const status = (progress: NonNullable<ReturnType<typeof initialState>['progress']>): string => {
      const st = { ...initialState(1000), progress };
      const lines = renderScreen(sample(), null, history(), st, screen, pages).map(stripTags);
      for (const l of lines) assert.equal(visibleLength(l), 80, l);
      return lines.find((l) => l.startsWith('heap snapshot'))!.trimEnd();
    };
    assert.match(status({ label: 'heap snapshot', done: 0.45, detail: 'building', elapsedMs: 1234 }), /^heap snapshot \[#+\.+\] 45% building, 1\.2 s$/);
    // the target writes the file itself: no percentage, never a bar stuck at 0% or jumping to 100%
    const building = status({ label: 'heap snapshot', done: null, detail: 'building', elapsedMs: 12_345 });
    assert.equal(building, 'heap snapshot: building, 12.3 s');
    assert.equal(status({ label: 'heap snapshot', done: null, detail: 'writing 35.9 MiB', elapsedMs: 15_000 }), 'heap snapshot: writing 35.9 MiB, 15.0 s');
  });

  it('colours what needs attention: fds near the limit, lag, heap near its limit, ELU', () => {
    const lines = renderScreen(sample(), null, history(), initialState(1000), { width: 100, height: 30, color: true, colors: 256, unicode: true, readonly: false }, pages);
    const all = lines.join('\n');
    assert.match(all, /\{red-fg\}\{bold\}fds 1000\/1024/);
    assert.match(all, /p99 \{red-fg\}\{bold\}200 ms/);
    assert.match(all, /heap ▕\{yellow-fg\}█+\{\/yellow-fg\}\{245-fg\}░+\{\/245-fg\}▏ \{yellow-fg\}78% of 64\.0 MiB/); // 78% of the limit: warn
    assert.match(all, /utilization \{red-fg\}\{bold\}0\.95/);
  });

  it('says how old the sockets are when the walk was rationed, and nothing when they are this sample’s', () => {
    const s = sample();
    const at = (msBefore: number): Sample => ({ ...s, sockets: { readAt: new Date(Date.parse(s.time) - msBefore).toISOString() } }) as unknown as Sample;
    assert.equal(walkAge(at(0)), '');
    assert.equal(walkAge(at(1000)), '');
    assert.match(walkAge(at(4000)), /read 4 s ago \(the walk is held to 0\.5% of the target's CPU\)/);
    assert.equal(walkAge({ ...s, sockets: null }), '');
  });

  it('the Pools page at 80x24: every line fits, names cut with …, findings and a pool\'s settings whole, the census cost whole', () => {
    const s = sample({ blocked: null });
    const painterless = painter({ color: true, colors: 256, unicode: true });
    const origin = (o: Record<string, unknown>): Record<string, unknown> => ({
      endpoint: '127.0.0.1:37769', servername: null, key: 'k', inUse: 2, free: 0, queued: 0, connected: null, pending: null, running: null, size: null, ...o,
    });
    s.httpPools = [
      { kind: 'fetch', name: 'fetch (undici Agent)', protocol: null, maxSockets: null, maxFreeSockets: null, maxTotalSockets: null, keepAlive: true,
        origins: [origin({ origin: 'http://127.0.0.1:36709', key: 'http://127.0.0.1:36709', inUse: 3, running: 3, pending: 0 })], totals: { inUse: 3, free: 0, queued: 0 }, note: null },
      { kind: 'http.Agent', name: 'https.Agent#1', protocol: 'https:', maxSockets: 2, maxFreeSockets: 256, maxTotalSockets: null, keepAlive: true,
        origins: [origin({ origin: '127.0.0.1:37769', servername: 'a.localhost.example', key: 'a' }), origin({ origin: '127.0.0.1:37769', servername: 'b.localhost.example', key: 'b', queued: 4 })],
        totals: { inUse: 4, free: 0, queued: 4 }, note: null },
    ] as unknown as Sample['httpPools'];
    const finding = '127.0.0.1:37769: 6 client connections (6 TLS): https.Agent#1 4 (maxSockets 2), https.Agent#2 1 (maxSockets unlimited), (no pool) 1; 2 pools connect to it; 1 belong to no pool (net/tls.connect, agent:false, or an agent nodetop cannot reach); https.Agent#1 has 2 origin keys for it (maxSockets is per key: TLS options, localAddress, family split them); this process also holds the 6 server sides of its connections to 127.0.0.1:37769 (each loopback connection is counted twice: once per end)';
    s.sockets = { findings: [finding], readAt: s.time } as unknown as Sample['sockets'];
    const st = { ...initialState(1000), page: 'pools' as const };
    const body = poolsPage(s, null, history(), st, painterless, 80, 19).map(stripTags);
    for (const l of body) assert.ok(visibleLength(l) <= 80, `${visibleLength(l)} columns: ${l}`);
    const text = body.join('\n');
    // queued first; the SNI name tells the two origin keys apart, cut with … in its column
    assert.match(body[1]!, /^ {2}https\.Agent#1 +127\.0\.0\.1:37769 sni b\.local… +2 +0 +4 +2\s*$/);
    assert.match(text, /^ {2}https\.Agent#1 +127\.0\.0\.1:37769 sni a\.local… +2 +0 +0 +2\s*$/m);
    // the pool's name cut with …, the MAX column whole (fetch's running/pending are on Enter)
    assert.match(text, /^ {2}fetch \(undici Age… http:\/\/127\.0\.0\.1:36709 +3 +0 +0 +∞\s*$/m);
    // the finding whole, though it takes 7 lines of the 19
    assert.equal(body.slice(body.findIndex((l) => l.startsWith('  127.0.0.1:37769: 6 client'))).map((l) => l.trim()).join(' '), finding);
    // at 200 columns fetch's row has its running and pending
    assert.match(poolsPage(s, null, history(), st, painterless, 200, 19).map(stripTags).join('\n'), /∞ {2}running 3 pending 0$/m);
    // Enter: the pool's settings wrapped whole
    const detail = poolsPage(s, null, history(), { ...st, detail: { page: 'pools', key: 'https.Agent#1\u0000a' } }, painterless, 80, 19).map(stripTags);
    for (const l of detail) assert.ok(visibleLength(l) <= 80, `${visibleLength(l)} columns: ${l}`);
    assert.match(detail.join(' ').replace(/\s+/g, ' '), /maxSockets 2 per origin, maxTotalSockets unlimited, maxFreeSockets 256, keepAlive true/);
    // the census question at 80x24: what it costs, whole, on the lines under the question
    const cost = 'It walks the heap twice (Runtime.queryObjects), each a full GC. Heap used 5.43 MiB: each a pause of ~44 ms (0.5-65 ms by the heap\'s shape).';
    const screen = renderScreen(s, null, history(), { ...st, confirm: { question: 'Run the heap census of sockets and pools in pid 4242?', cost } }, { width: 80, height: 24, color: true, colors: 256, unicode: true, readonly: false }, pages).map(stripTags);
    assert.equal(screen.length, 24);
    for (const l of screen) assert.equal(visibleLength(l), 80, l);
    assert.equal(screen.slice(-2).map((l) => l.trim()).join(' '), cost);
  });

  it('says how many worker rows are older readings when worker reads were rationed, and how old', () => {
    const s = sample();
    const row = (threadId: number, msBefore: number, state: 'running' | 'gone' = 'running') =>
      buildWorkerRow({ threadId, name: `w${threadId}`, title: `[worker ${threadId}] w${threadId}`, state, prev: null, raw: state === 'gone' ? null : raw(), readAt: new Date(Date.parse(s.time) - msBefore).toISOString() });
    assert.equal(workersAge({ ...s, workers: [row(1, 0), row(2, 900)] }), null);
    const note = workersAge({ ...s, workers: [row(1, 0), row(2, 2000), row(3, 3800), row(4, 9000, 'gone')] });
    assert.match(note!, new RegExp(`2 of 3 rows read up to 4 s ago \\(worker reads are held to ${WORKER_READS_PER_S} a second`));
    const lines = workersPage({ ...s, workers: [row(1, 0), row(2, 2000)] }, null, history(), { ...initialState(1000), page: 'workers' }, { paint: (t: string) => t, unicode: true, colors: 0 }, 100, 20);
    assert.ok(lines.some((l) => /1 of 2 rows read up to 2 s ago/.test(l)), lines.join('\n'));
  });

  it('plain mode has no colour tags and no block characters', () => {
    const lines = renderScreen(sample(), null, history(), initialState(1000), { width: 80, height: 24, color: false, unicode: false, readonly: true }, pages);
    const all = lines.join('\n');
    assert.doesNotMatch(all, /\{(red|green|yellow|gray)-fg\}/);
    assert.doesNotMatch(all, /[▁▂▃▄▅▆▇█↑↓⠀-⣿]/);
    assert.match(all, /read-only/);
    // warnings without colour: a mark, ! or !!
    assert.match(all, /fds 1000\/1024!!/);
    assert.match(all, /p99 200 ms!!/);
    assert.match(all, /heap \[#+\.*\] 78%!/);
  });

  it('renders a sample with missing readings as n/a, never as zero', () => {
    const s = sample({ window: null, blocked: null });
    const text = renderScreen(s, null, history(), initialState(1000), { width: 80, height: 24, color: false, unicode: true, readonly: false }, pages).join('\n');
    assert.match(text, /lag p50 n\/a/);
    assert.match(text, /utilization n\/a/);
  });

  it('sorts handle rows by count, delta and name, with deltas from the previous sample', () => {
    const prev = sample({ handles: { Timeout: 1, TCPSocketWrap: 5 } });
    const cur = sample({ handles: { Timeout: 3, TCPSocketWrap: 5, Immediate: 1 } });
    assert.deepEqual(handleRows(cur, prev, 0).map((r) => [r.type, r.count, r.delta]), [
      ['TCPSocketWrap', 5, 0], ['Timeout', 3, 2], ['FSReqCallback', 1, 0], ['Immediate', 1, 1],
    ]);
    assert.deepEqual(handleRows(cur, prev, 1).map((r) => r.type).slice(0, 2), ['Timeout', 'Immediate']);
    assert.deepEqual(handleRows(cur, prev, 2).map((r) => r.type), ['FSReqCallback', 'Immediate', 'TCPSocketWrap', 'Timeout']);
  });

  it('cuts long tagged lines without leaving a colour open', () => {
    const cut = fit('{red-fg}' + 'x'.repeat(100) + '{/red-fg}', 10);
    assert.equal(visibleLength(cut), 10);
    assert.match(cut, /\{\/red-fg\}$/);
    assert.equal(stripTags(fit('a{open}b{close}', 8)), 'a{b}    ');
  });

  it('counts the visible characters of a tagged line as stripping its tags does', () => {
    const piece = fc.constantFrom('{red-fg}', '{/red-fg}', '{bold}', '{/245-fg}', '{open}', '{close}', '{', '}', '{/}', '{ x}', 'a', 'é', '⣿', ' ');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (parts) => {
        const line = parts.join('');
        assert.equal(visibleLength(line), stripTags(line).length, line);
      }),
    );
  });

  it('keeps a bounded series, oldest dropped first', () => {
    const s = new Series(3);
    for (const v of [1, 2, 3, 4]) s.push(v);
    assert.deepEqual(s.toArray(), [2, 3, 4]);
  });
});

describe('stats text: fds near the soft limit', () => {
  const withFds = (open: number, limit: number | null): string => {
    const s = sample();
    s.process.fds = { open, limit };
    return renderStats(s).split('\n').find((l) => l.startsWith('process'))!;
  };
  it('says nothing under 75% of ulimit -n, the share from 75%, and that EMFILE is near from 90%', () => {
    assert.match(withFds(700, 1024), / fds 700\/1024 {2}threads/);
    assert.match(withFds(768, 1024), / fds 768\/1024 \(75% of ulimit -n\) {2}threads/);
    assert.match(withFds(922, 1024), / fds 922\/1024 \(90% of ulimit -n: EMFILE is near\) {2}threads/);
    assert.match(withFds(5000, null), / fds 5000\/unlimited {2}threads/);
  });
});
