// The target matrix: fixture targets run under each supported Node (18, 20, 22, 24, 26: real
// binaries from the npm registry, see install-nodes.js), attached to by the built CLI running on
// this machine's Node, asserting the same facts as the main tests. Plus what differs between
// versions: --disable-sigusr1, the gc entry's `kind`, an inspector that is already open.
//
// To cover another command, add one row to COMMANDS below: every row runs against every Node in
// the matrix, wrapped in the checks all commands share (exit 0, the target alive, nothing left
// behind, the inspector closed again, no warning printed in the target).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { listeningSockets } from '../../src/platform/proc';
import { eventually, parseJson, runCli, startTarget, type Target } from '../helpers/target';
import { features, nodeOf, SUPPORTED_MAJORS, type MatrixNode } from './nodes';

interface Ctx {
  node: MatrixNode;
  /** A TCP server in this test process that fixtures can connect to. */
  port: number;
}

interface FixtureSpec {
  file: string;
  args?: string[];
  nodeArgs?: string[];
}

interface CommandCase {
  /** Test title. */
  name: string;
  fixture: (ctx: Ctx) => FixtureSpec;
  args: (pid: number) => string[];
  /** Assertions on the command's JSON output (the shared checks are added around it). */
  check: (json: Record<string, unknown>, t: Target, ctx: Ctx) => void | Promise<void>;
  /** The output is NDJSON: `check` gets {lines: [...]} */
  ndjson?: boolean;
}

const snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-matrix-'));
process.on('exit', () => fs.rmSync(snapDir, { recursive: true, force: true }));

const handles = (ctx: Ctx): FixtureSpec => ({ file: 'handles.js', args: [String(ctx.port)] });
const idle = (): FixtureSpec => ({ file: 'idle.js' });

/** Who answered: the fixture's pid, running on exactly the binary the matrix started it with. */
function assertTarget(target: Sample['target'], t: Target, ctx: Ctx): void {
  assert.equal(target.pid, t.pid);
  assert.equal(target.nodeVersion, `v${ctx.node.version}`);
  assert.equal(target.execPath, ctx.node.bin);
}

function checkStats(json: Record<string, unknown>, t: Target, ctx: Ctx): void {
  const s = json as unknown as Sample;
  assert.equal(s.schema, 1);
  assertTarget(s.target, t, ctx);
  assert.equal(s.target.inspector.openedByNodetop, true);
  // test/fixtures/handles.js holds exactly 3 timers and 5 client sockets; the two pipes are the
  // stdin it reads commands from and the stdout it answers on (test/helpers/target.ts)
  assert.deepEqual(s.handles, { total: 10, byType: { Timeout: t.facts.timers, TCPSocketWrap: t.facts.sockets, PipeWrap: 2 } });
  assert.deepEqual(s.unavailable, {}, 'every part of the sample is available on a supported Node');
  assert.ok(s.gc, 'gc observed');
  assert.ok(s.eventLoop.lagMs, 'event-loop lag measured');
  assert.equal(typeof s.eventLoop.utilization, 'number');
  assert.ok(s.memory.heapUsedBytes! > 0 && s.memory.heapUsedBytes! <= s.memory.heapTotalBytes!);
  assert.ok(s.memory.spaces.some((x) => x.name === 'old_space' && x.usedBytes! > 0));
}

/** One line per command; each runs against every Node of the matrix. */
export const COMMANDS: CommandCase[] = [
  { name: 'stats --json', fixture: handles, args: (pid) => ['stats', String(pid), '--json', '--window', '300'], check: checkStats },
  {
    // the undici each Node bundles for fetch (5 on 18, 6 on 20, 7 from 22: an Agent whose client
    // list holds {count, dispatcher}), 30 requests in flight on 30 connections
    name: 'stats --json: fetch’s pool, as its bundled undici keeps it',
    fixture: () => ({ file: 'undici.js', args: ['fetch', 'x', '10', '30'] }),
    args: (pid) => ['stats', String(pid), '--json', '--window', '100'],
    check: (json, t) => {
      const s = json as unknown as Sample;
      const pool = s.httpPools!.find((p) => p.kind === 'fetch')!;
      assert.ok(pool, JSON.stringify(s.httpPools));
      assert.equal(pool.note, null);
      const o = pool.origins.find((x) => x.origin === t.facts.origin)!;
      assert.ok(o, JSON.stringify(pool));
      assert.deepEqual([o.connected, o.running, o.queued, o.free], [30, 30, 0, 0]);
      assert.equal(s.sockets!.groups.find((x) => x.direction === 'client')!.byPool.fetch, 30);
    },
  },
  {
    // 30 MiB dropped, 20 MiB held (test/fixtures/garbage.js): the GC gives back the first only
    name: 'gc --json',
    fixture: () => ({ file: 'garbage.js', args: ['30', '20'], nodeArgs: ['--expose-gc', '--no-memory-reducer'] }),
    args: (pid) => ['gc', String(pid), '--json'],
    check: (json, t) => {
      const r = json as { pid: number; isolates: Array<{ state: string; freedBytes: number; after: { heapUsedBytes: number } }> };
      assert.equal(r.pid, t.pid);
      assert.equal(r.isolates[0]?.state, 'collected');
      assert.ok(r.isolates[0]!.freedBytes >= 25 * 2 ** 20, `freed ${r.isolates[0]!.freedBytes}`);
      assert.ok(r.isolates[0]!.after.heapUsedBytes >= 20 * 2 ** 20, 'what is held stays');
    },
  },
  // the target writing the file itself, and streamed through the inspector
  ...(['target', 'nodetop'] as const).map((by) => ({
    name: `snapshot --json (small heap, ${by === 'target' ? 'the target writes it' : '--stream'})`,
    fixture: () => ({ file: 'leaky.js', args: ['123', '0'] }),
    args: (pid: number) => ['snapshot', String(pid), ...(by === 'nodetop' ? ['--stream'] : []), '--json', '--quiet', '--yes', '-o', path.join(snapDir, `${pid}.heapsnapshot`)],
    check: (json: unknown, t: { pid: number }) => {
      const r = json as { path: string; bytes: number; threadId: number; writtenBy: string };
      assert.equal(r.path, path.join(snapDir, `${t.pid}.heapsnapshot`));
      assert.equal(r.threadId, 0);
      assert.equal(r.writtenBy, by);
      assert.equal(fs.statSync(r.path).size, r.bytes);
      const text = fs.readFileSync(r.path, 'utf8');
      assert.match(text.slice(0, 40), /^\{"snapshot":\{/);
      // the fixture's class is in it, by name
      assert.ok(text.includes('"LeakyThing"'));
      fs.rmSync(r.path);
    },
  })),
  {
    name: 'watch --json (3 samples)',
    fixture: handles,
    args: (pid) => ['watch', String(pid), '--json', '--count', '3', '--interval', '300'],
    ndjson: true,
    check: (json, t, ctx) => {
      const lines = (json as { lines: Array<Sample & { index: number; pid: number }> }).lines;
      assert.deepEqual(lines.map((l) => l.index), [0, 1, 2]);
      for (const l of lines) {
        assert.equal(l.pid, t.pid);
        assertTarget(l.target, t, ctx);
        assert.equal(l.handles?.byType.Timeout, t.facts.timers);
        assert.equal(l.handles?.byType.TCPSocketWrap, t.facts.sockets);
      }
    },
  },
  {
    // below a second the target records its own readings (src/probes/record.ts): its timer,
    // the modules it took while require existed, and its removal, on every Node
    name: 'watch --json at 100 ms (recorded in the target)',
    fixture: handles,
    args: (pid) => ['watch', String(pid), '--json', '--count', '5', '--interval', '100'],
    ndjson: true,
    check: (json, t, ctx) => {
      const lines = (json as { lines: Array<Sample & { index: number; pid: number; recorded?: boolean; fullAt?: string }> }).lines;
      assert.deepEqual(lines.map((l) => l.index), [0, 1, 2, 3, 4]);
      assert.ok(lines.some((l) => l.eventLoop.lagMs), 'event-loop lag measured');
      // the first reading is full, the ones within its second light (the V8 heap read on its own)
      assert.equal(lines[0]!.fullAt, undefined);
      assert.ok(lines.slice(1).some((l) => l.fullAt === lines[0]!.time), 'light readings after the full one');
      for (const l of lines) {
        assert.equal(l.recorded, true);
        assertTarget(l.target, t, ctx);
        assert.equal(l.handles?.byType.Timeout, t.facts.timers);
        assert.equal(l.handles?.byType.TCPSocketWrap, t.facts.sockets);
        // a 100 ms window may end with no tick of the 50 ms timer completed in it (lag null)
        assert.ok(l.eventLoop.windowMs !== null && l.eventLoop.utilization !== null, 'loop window measured');
        assert.ok(l.memory.heapUsedBytes! > 0 && l.memory.heapUsedBytes! <= l.memory.heapTotalBytes!, `heap ${l.memory.heapUsedBytes} of ${l.memory.heapTotalBytes}`);
        assert.ok(l.process.rssBytes! > l.memory.heapUsedBytes! && l.memory.externalBytes! > 0, `rss ${l.process.rssBytes}, external ${l.memory.externalBytes}`);
      }
    },
  },
];

/** Starts the fixture under the matrix's binary, inspector on a random port when opened. */
function start(spec: FixtureSpec, ctx: Ctx, extraNodeArgs: string[] = []): Promise<Target> {
  return startTarget(spec.file, {
    node: ctx.node.bin,
    args: spec.args ?? [],
    nodeArgs: ['--inspect-port=0', ...(spec.nodeArgs ?? []), ...extraNodeArgs],
  });
}

/** Nothing of the target's output may be a warning nodetop caused (DEP0152 and the like). */
function assertNoWarnings(t: Target): void {
  assert.doesNotMatch(t.stderr(), /Warning/, t.stderr());
}

for (const major of SUPPORTED_MAJORS) {
  const { node, skip } = nodeOf(major);
  describe(`target on Node ${major}${node ? ` (${node.version})` : ''}`, { skip: skip ?? false }, () => {
    const ctx = { node: node!, port: 0 };
    let server: net.Server;
    const accepted: net.Socket[] = [];
    before(async () => {
      server = net.createServer((s) => accepted.push(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      ctx.port = (server.address() as net.AddressInfo).port;
    });
    after(() => {
      for (const s of accepted) s.destroy();
      server.close();
    });

    for (const c of COMMANDS) {
      it(`${c.name}: right facts, and no trace after detach`, async () => {
        const t = await start(c.fixture(ctx), ctx);
        try {
          const stateBefore = await t.ask('state');
          const portsBefore = listeningSockets(t.pid).map((s) => s.port).sort();
          const r = await runCli(c.args(t.pid));
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stderr, '');
          // samples only: watch's event records (a lag spike on a loaded host) may come between them
          const out = c.ndjson
            ? { lines: r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event?: string }).filter((l) => l.event === undefined) }
            : parseJson(r);
          await c.check(out, t, ctx);
          // the inspector nodetop opened is closed just after its socket goes
          const portsAfter = await eventually(
            () => listeningSockets(t.pid).map((s) => s.port).sort(),
            (p) => p.length === portsBefore.length,
          );
          assert.deepEqual(portsAfter, portsBefore, 'inspector closed again');
          assert.deepEqual(await t.ask('state'), stateBefore, 'globals, symbols, listeners and resources as before');
          assert.ok(t.alive());
          assertNoWarnings(t);
        } finally {
          await t.kill();
        }
      });
    }

    it('counts the GCs run inside the window, from the gc entry this Node gives', async () => {
      const t = await start(idle(), ctx, ['--expose-gc']);
      try {
        const cli = runCli(['stats', String(t.pid), '--json', '--window', '4000']);
        // act inside the window: once nodetop has read its baseline, not after a guessed delay
        const n = await eventually(() => t.ask('nodetop'), (x) => x.sessions === 1 && x.samples === 1, 15_000);
        assert.deepEqual(n, { reply: 'nodetop', sessions: 1, samples: 1 }, 'the window has begun');
        for (let i = 0; i < 3; i++) await t.ask('gc');
        const r = await cli;
        assert.equal(r.code, 0, r.stderr);
        const s = parseJson<Sample>(r);
        assert.ok(s.gc && s.gc.byKind.major.count >= 3, JSON.stringify(s.gc));
        assert.ok(s.gc.pauseMs > 0);
        assertNoWarnings(t);
      } finally {
        await t.kill();
      }
    });

    const kindAccessor = node ? features(node.version).gcEntryKindAccessor : false;
    it(`the gc entry has detail.kind${kindAccessor ? ', and the old kind accessor warns (DEP0152)' : ', and no old kind accessor'}`, async () => {
      // what the README table says about this version, on the binary itself
      const script =
        "const { PerformanceObserver } = require('perf_hooks'); const alive = setTimeout(() => {}, 10000);" +
        'const o = new PerformanceObserver((l) => { const e = l.getEntries()[0]; o.disconnect(); clearTimeout(alive);' +
        ' const detailKind = e.detail && e.detail.kind; const kind = e.kind;' +
        ' setImmediate(() => console.log(JSON.stringify({ detailKind, kind: kind === undefined ? null : kind }))); });' +
        "o.observe({ entryTypes: ['gc'] }); gc();";
      const r = await runNode(ctx.node.bin, ['--expose-gc', '-e', script]);
      assert.equal(r.code, 0, r.stderr);
      const e = JSON.parse(r.stdout) as { detailKind: number; kind: number | null };
      assert.equal(typeof e.detailKind, 'number');
      assert.equal(e.kind !== null, kindAccessor, r.stdout);
      assert.equal(/DEP0152/.test(r.stderr), kindAccessor, r.stderr);
    });

    it('says where the main thread is stuck when it spins in JavaScript', async () => {
      const t = await start({ file: 'blocked.js' }, ctx);
      try {
        await t.ask('block 5000');
        const r = await runCli(['stats', String(t.pid), '--json', '--window', '1000']);
        assert.equal(r.code, 0, r.stderr);
        const s = parseJson<Sample>(r);
        assert.ok(s.eventLoop.blocked, 'blocked is reported');
        assert.match(s.eventLoop.blocked.stack[0] ?? '', /spinTheWheel .*blocked\.js/);
        assert.ok(t.alive());
      } finally {
        await t.kill();
      }
    });

    it('finds an inspector that is already open by pid, without a signal, and leaves it open', async () => {
      const t = await startTarget('idle.js', { node: ctx.node.bin, nodeArgs: ['--inspect=127.0.0.1:0'] });
      try {
        const m = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(t.stderr());
        assert.ok(m, t.stderr());
        const port = Number(m[1]);
        // the HTTP side this Node serves: the target list nodetop reads, and the domains the
        // other commands rely on (NodeWorker for workers), without opening a session
        const list = JSON.parse(await get(port, '/json/list')) as Array<Record<string, unknown>>;
        assert.equal(list.length, 1);
        assert.equal(list[0]!.type, 'node');
        assert.match(String(list[0]!.webSocketDebuggerUrl), new RegExp(`^ws://127\\.0\\.0\\.1:${port}/`));
        const protocol = JSON.parse(await get(port, '/json/protocol')) as { domains: Array<{ domain: string }> };
        const domains = protocol.domains.map((d) => d.domain);
        for (const d of ['Runtime', 'HeapProfiler', 'NodeWorker']) assert.ok(domains.includes(d), `${d} in ${domains.join(',')}`);

        const r = await runCli(['stats', String(t.pid), '--json', '--window', '100']);
        assert.equal(r.code, 0, r.stderr);
        const s = parseJson<Sample>(r);
        assertTarget(s.target, t, ctx);
        assert.equal(s.target.inspector.openedByNodetop, false);
        assert.match(s.target.inspector.url, new RegExp(`:${port}/`));
        await new Promise((res) => setTimeout(res, 300));
        assert.ok(listeningSockets(t.pid).some((x) => x.port === port), 'an inspector nodetop did not open stays open');
      } finally {
        await t.kill();
      }
    });

    const sigusr1 = node ? features(node.version).disableSigusr1 : false;
    it(`--disable-sigusr1 ${sigusr1 ? 'exists: nodetop refuses to signal such a target (exit 6)' : 'does not exist in this Node'}`, async () => {
      const probe = await runNode(ctx.node.bin, ['--disable-sigusr1', '-e', '0']);
      assert.equal(probe.code === 0, sigusr1, `node --disable-sigusr1 -e 0: exit ${probe.code} ${probe.stderr}`);
      if (!sigusr1) {
        assert.match(probe.stderr, /bad option: --disable-sigusr1/);
        return;
      }
      for (const how of ['command line', 'NODE_OPTIONS'] as const) {
        const t = await startTarget('idle.js', {
          node: ctx.node.bin,
          ...(how === 'command line'
            ? { nodeArgs: ['--disable-sigusr1'] }
            : { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_OPTIONS: '--disable-sigusr1' } }),
        });
        try {
          const r = await runCli(['stats', String(t.pid), '--timeout', '1000']);
          assert.equal(r.code, 6, `${how}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`pid ${t.pid} was started with --disable-sigusr1`), how);
          assert.ok(t.alive(), `${how}: the target is still alive`);
          assert.deepEqual(listeningSockets(t.pid), [], `${how}: no inspector was opened`);
        } finally {
          await t.kill();
        }
      }
    });
  });
}

function get(port: number, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
  });
}

async function runNode(bin: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
