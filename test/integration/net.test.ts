// Sockets, TLS and HTTP client pools in `nodetop stats`: real servers, real pools, real TLS with
// certificates made for the test, exact counts the fixtures control.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Sample } from '../../src/model/sample';
import { eventually, parseJson, runCli, startTarget } from '../helpers/target';
import { attachTo } from '../helpers/harm';
import { NET_SHARE, Sampler } from '../../src/sampler';

const NODE_ARGS = ['--inspect-port=0'];

async function stats(pid: number, ...extra: string[]): Promise<Sample> {
  const r = await runCli(['stats', String(pid), '--json', '--window', '50', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return parseJson<Sample>(r);
}

describe('sockets, TLS and HTTP pools', () => {
  let certDir = '';
  before(() => {
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-certs-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', path.join(certDir, 'k'), '-out', path.join(certDir, 'c')],
      { stdio: 'ignore' },
    );
  });
  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  it('counts the 8 TLS connections of a keep-alive pool of 4 connected to its own https server (--census)', async () => {
    const t = await startTarget('tls-pool.js', { args: [certDir], nodeArgs: NODE_ARGS });
    try {
      const port = t.facts.port as number;
      const before = await t.ask('state');
      const s = await stats(t.pid, '--census');
      const k = s.sockets!;
      assert.equal(k.total, 8);
      assert.equal(k.byKind.tls, 8);
      assert.equal(k.byKind.tcp, 0);
      assert.deepEqual(k.byDirection, { client: 4, server: 4 });
      assert.equal(k.idle, 4);
      assert.ok(k.census);
      const out = k.groups.find((g) => g.direction === 'client' && g.endpoint === `127.0.0.1:${port}`);
      const inb = k.groups.find((g) => g.direction === 'server' && g.endpoint === `127.0.0.1:${port}`);
      assert.equal(out?.count, 4);
      assert.equal(out?.tls, 4);
      assert.equal(out?.idle, 4);
      assert.equal(inb?.count, 4);
      assert.equal(inb?.tls, 4);
      const pool = s.httpPools!.find((p) => p.origins.some((o) => o.origin === `127.0.0.1:${port}`));
      assert.ok(pool, JSON.stringify(s.httpPools));
      assert.equal(pool.kind, 'http.Agent');
      assert.equal(pool.protocol, 'https:');
      assert.equal(pool.maxSockets, 4);
      assert.equal(pool.keepAlive, true);
      assert.deepEqual(pool.totals, { inUse: 0, free: 4, queued: 0 });
      assert.equal(out?.byPool[pool.name], 4);
      // TLS details of both ends: the client sockets and the accepted ones behind the handle list
      const top = k.top;
      assert.equal(top.length, 8);
      for (const x of top) {
        assert.equal(x.kind, 'tls');
        assert.match(x.tls?.protocol ?? '', /^TLSv1\.[23]$/);
        assert.ok(x.tls?.cipher);
      }
      assert.ok(top.some((x) => x.direction === 'client' && x.idle && x.tls?.authorized === false && x.pool === pool.name));
      assert.ok(top.some((x) => x.direction === 'server' && x.tls?.servername === 'localhost'));
      // "why more connections than the pool size?" is answered on the same screen
      assert.ok(k.findings.some((f) => f.includes(`127.0.0.1:${port}`) && f.includes('4 server sides')), k.findings.join('\n'));
      assert.equal(k.errors.length, 0, k.errors.join('\n'));
      assert.ok(t.alive());
      // the census leaves nothing behind: same globals, symbols and listeners. (Not resources:
      // attach's locate step sends GET /json/list to each loopback port of a target started with
      // --inspect-port=0, this https server's too; the TLS error that makes there opens the
      // target's stderr pipe, one more PipeWrap. That is attach, not the census.)
      const afterState = await t.ask('state');
      for (const k of ['globals', 'symbols', 'listeners'] as const) assert.deepEqual(afterState[k], before[k], k);
    } finally {
      await t.kill();
    }
  });

  it('without --census sees the accepted TLS connections and says the idle pool is not seen', async () => {
    const t = await startTarget('tls-pool.js', { args: [certDir], nodeArgs: NODE_ARGS });
    try {
      const s = await stats(t.pid);
      const k = s.sockets!;
      // the 4 idle client sockets are unref'd and their agent is reachable from nothing live:
      // JavaScript misses them, the kernel does not, and they go to this process's own TLS listener
      assert.equal(k.total, 8);
      assert.equal(k.byKind.tls, 8);
      assert.deepEqual(k.byDirection, { client: 4, server: 4 });
      assert.deepEqual(k.kernel, { total: 8, unseen: 4, unseenTls: 4 });
      const out = k.groups.find((g) => g.direction === 'client');
      assert.equal(out?.count, 4);
      assert.equal(out?.unseen, 4);
      assert.equal(k.census, null);
      assert.ok(k.notSeen.some((n) => /only the kernel sees/.test(n) && /--census/.test(n)));
      const text = await runCli(['stats', String(t.pid), '--window', '50']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^sockets +8: tls 8, tcp 0; client 4, server 4; idle in pools 0; 4 only the kernel sees/m);
    } finally {
      await t.kill();
    }
  });

  it('answers "why more TLS connections than the pool size?" (story 1)', async () => {
    const t = await startTarget('tls-overpool.js', { args: [certDir], nodeArgs: NODE_ARGS });
    try {
      const port = t.facts.port as number;
      const ep = `127.0.0.1:${port}`;
      const s = await stats(t.pid);
      const k = s.sockets!;
      const out = k.groups.find((g) => g.direction === 'client' && g.endpoint === ep);
      assert.equal(out?.count, 6);
      assert.equal(out?.tls, 6);
      // the server side: 6 accepted TLS connections (the raw tls.connect one included)
      assert.equal(k.groups.find((g) => g.direction === 'server' && g.endpoint === ep)?.tls, 6);
      assert.equal(k.byKind.tls, 12);
      const pool = s.httpPools!.find((p) => p.maxSockets === 2)!;
      assert.ok(pool, JSON.stringify(s.httpPools));
      // two origin keys for one host:port, 2 sockets each
      const keys = pool.origins.filter((o) => o.endpoint === ep);
      assert.equal(keys.length, 2);
      for (const o of keys) assert.deepEqual([o.inUse, o.free, o.queued], [2, 0, 0]);
      assert.deepEqual(keys.map((o) => o.servername).sort(), ['a.localhost', 'b.localhost']);
      assert.equal(out?.byPool[pool.name], 4);
      assert.equal(out?.byPool['(no pool)'], 1);
      assert.equal(Object.values(out!.byPool).reduce((a, b) => a + b, 0), 6);
      const f = k.findings.find((x) => x.startsWith(`${ep}: 6 client connections (6 TLS)`));
      assert.ok(f, k.findings.join('\n'));
      assert.match(f, new RegExp(`${pool.name.replace(/[.#]/g, '\\$&')} has 2 origin keys for it`));
      assert.match(f, /1 belong to no pool/);
      assert.match(f, /2 pools connect to it/);
      const text = await runCli(['stats', String(t.pid), '--window', '50']);
      assert.match(text.stdout, /127\.0\.0\.1:\d+ sni a\.localhost +in use +2/);
      assert.match(text.stdout, /^findings\n {2}127\.0\.0\.1:\d+: 6 client connections \(6 TLS\)/m);
    } finally {
      await t.kill();
    }
  });

  it('sees a pool driven over its limit: 2 in use, 3 queued', async () => {
    const t = await startTarget('pool-queue.js', { nodeArgs: NODE_ARGS });
    try {
      const port = t.facts.port as number;
      const s = await stats(t.pid);
      const pool = s.httpPools!.find((p) => p.origins.some((o) => o.origin === `127.0.0.1:${port}`));
      assert.ok(pool, JSON.stringify(s.httpPools));
      assert.equal(pool.maxSockets, 2);
      const o = pool.origins.find((x) => x.origin === `127.0.0.1:${port}`)!;
      assert.equal(o.inUse, 2);
      assert.equal(o.free, 0);
      assert.equal(o.queued, 3);
      assert.deepEqual(pool.totals, { inUse: 2, free: 0, queued: 3 });
      // 2 client sockets and their 2 server sides: the queued requests have no socket yet
      assert.equal(s.sockets!.total, 4);
      assert.deepEqual(s.sockets!.byDirection, { client: 2, server: 2 });
      assert.ok(s.sockets!.findings.some((f) => /3 requests queued with 2 in use of maxSockets 2/.test(f)), s.sockets!.findings.join('\n'));
      const text = await runCli(['stats', String(t.pid), '--window', '50']);
      assert.match(text.stdout, new RegExp(`127\\.0\\.0\\.1:${port} +in use +2 +free +0 +queued +3 +max 2`));
      // the queue drains when the server answers: the sample follows
      await t.ask('release');
      let after: Sample | null = null;
      for (let i = 0; i < 10; i++) {
        after = await stats(t.pid);
        const q = after.httpPools!.flatMap((p) => p.origins).find((x) => x.origin === `127.0.0.1:${port}`);
        if (!q || q.queued === 0) break;
      }
      const q = after!.httpPools!.flatMap((p) => p.origins).find((x) => x.origin === `127.0.0.1:${port}`);
      assert.equal(q?.queued ?? 0, 0);
    } finally {
      await t.kill();
    }
  });

  describe('plain TCP', () => {
    const servers: net.Server[] = [];
    const accepted: net.Socket[] = [];
    const ports: number[] = [];
    before(async () => {
      for (let i = 0; i < 2; i++) {
        // pauseOnConnect: the server never reads, so what the client writes stays buffered
        const srv = net.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
        await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
        servers.push(srv);
        ports.push((srv.address() as net.AddressInfo).port);
      }
    });
    after(() => {
      for (const s of accepted) s.destroy();
      for (const s of servers) s.close();
    });

    it('groups client connections by remote and puts the backpressured socket first', async () => {
      const [a, b] = ports as [number, number];
      const t = await startTarget('tcp-clients.js', { args: [String(a), String(b)], nodeArgs: NODE_ARGS });
      try {
        // the server side of the connections to b sends what the paused clients leave unread
        for (const s of accepted) if (s.localPort === b) s.write(Buffer.alloc(256 * 1024, 2));
        const unread = await eventually(
          async () => (await t.ask('unread')).bytes as number,
          (n) => n > 0,
        );
        assert.ok(unread > 0);
        const s = await stats(t.pid, '--top', '2');
        const k = s.sockets!;
        assert.equal(k.total, 5);
        assert.deepEqual(k.byKind, { tcp: 5, tls: 0 });
        assert.deepEqual(k.byDirection, { client: 5, server: 0 });
        assert.equal(k.byState.open, 5);
        const ga = k.groups.find((g) => g.endpoint === `127.0.0.1:${a}`);
        const gb = k.groups.find((g) => g.endpoint === `127.0.0.1:${b}`);
        assert.equal(ga?.count, 3);
        assert.equal(gb?.count, 2);
        assert.deepEqual(ga?.byPool, { '(no pool)': 3 });
        assert.equal(k.groups[0]?.endpoint, `127.0.0.1:${a}`);
        // --top 2: two sockets one by one, the first the one with 64 MiB written and unread
        assert.equal(k.top.length, 2);
        const first = k.top[0]!;
        assert.equal(first.local, `127.0.0.1:${t.facts.firstLocalPort as number}`);
        assert.equal(first.remote, `127.0.0.1:${a}`);
        assert.ok(first.pendingWriteBytes > 0);
        assert.ok(ga!.pendingWriteBytes >= first.pendingWriteBytes);
        assert.equal(gb?.pendingWriteBytes, 0);
        assert.ok(gb!.pendingReadBytes > 0);
        assert.equal(ga?.pendingReadBytes, 0);
        assert.equal(first.tls, null);
      } finally {
        await t.kill();
      }
    });
  });

  it('reads the fetch dispatcher: connections and running requests per origin', async () => {
    const t = await startTarget('fetch-pool.js', { nodeArgs: NODE_ARGS });
    try {
      const origin = t.facts.origin as string;
      const s = await stats(t.pid);
      const pool = s.httpPools!.find((p) => p.kind === 'fetch');
      assert.ok(pool, JSON.stringify(s.httpPools));
      const o = pool.origins.find((x) => x.origin === origin);
      assert.ok(o, JSON.stringify(pool));
      assert.equal(o.connected, 3);
      assert.equal(o.running, 3);
      assert.equal(o.free, 0);
      assert.equal(o.inUse, 3);
      assert.equal(o.queued, 0);
      // the fetch sockets are found through the dispatcher: 3 out, 3 in
      assert.deepEqual(s.sockets!.byDirection, { client: 3, server: 3 });
      const g = s.sockets!.groups.find((x) => x.direction === 'client');
      assert.equal(g?.byPool.fetch, 3);
      // answered and idle: undici unrefs its idle sockets, the dispatcher still knows them
      await t.ask('release');
      const idle = await stats(t.pid);
      const io = idle.httpPools!.find((p) => p.kind === 'fetch')!.origins.find((x) => x.origin === origin)!;
      assert.deepEqual([io.connected, io.free, io.running, io.inUse], [3, 3, 0, 0]);
      assert.deepEqual(idle.sockets!.byDirection, { client: 3, server: 3 });
      assert.equal(idle.sockets!.found.handles, 3); // the server sides only
      assert.equal(idle.sockets!.found.fetch, 3);
      assert.equal(idle.sockets!.idle, 3);
      assert.equal(idle.sockets!.groups.find((x) => x.direction === 'client')?.idle, 3);
      assert.equal(s.sockets!.idle, 0); // while they ran
    } finally {
      await t.kill();
    }
  });

  // undici from npm (5, 6, 7: pinned dev dependencies), each dispatcher held only in a closure,
  // 10 connections and 30 requests in flight: nodetop's figures are the dispatcher's own `stats`
  // (its counters where that undici has no stats). Before: "(no pool) 10", the 20 queued nowhere,
  // and a finding blaming net/tls.connect.
  for (const major of ['5', '6', '7']) {
    for (const kind of ['pool', 'agent', 'client', 'balanced']) {
      it(`undici ${major} ${kind} held in a closure: the dispatcher's own figures`, async () => {
        const t = await startTarget('undici.js', { args: [major, kind, '10', '30'], nodeArgs: NODE_ARGS });
        try {
          const origin = t.facts.origin as string;
          const own = (await t.ask('stats')).stats as Record<string, number> | Array<Record<string, number>>;
          const s = await stats(t.pid);
          const pools = s.httpPools!.filter((p) => p.kind === 'undici');
          assert.equal(pools.length, 1, JSON.stringify(s.httpPools));
          const pool = pools[0]!;
          assert.doesNotMatch(pool.name, /not reached/);
          const g = s.sockets!.groups.find((x) => x.direction === 'client')!;
          assert.equal(g.byPool['(no pool)'], undefined, JSON.stringify(g));
          assert.equal(g.byPool[pool.name], kind === 'balanced' ? 20 : kind === 'client' ? 1 : 10);
          assert.doesNotMatch(s.sockets!.findings.join('\n'), /belong to no pool/);
          const sum = (k: 'connected' | 'running' | 'queued'): number => pool.origins.reduce((n, o) => n + (o[k] ?? 0), 0);
          if (kind === 'client') {
            const c = own as Record<string, number>;
            assert.deepEqual([sum('connected'), sum('running'), pool.origins[0]!.pending], [c.connected, c.running, c.pending]);
            assert.equal(pool.maxSockets, 1);
          } else if (kind === 'balanced') {
            const b = own as Record<string, number>;
            assert.equal(sum('running'), b.running);
            assert.equal(sum('queued'), b.queued);
            assert.equal(sum('connected'), 20);
          } else {
            const p = (Array.isArray(own) ? own[0] : own) as Record<string, number>;
            const o = pool.origins.find((x) => x.origin === origin)!;
            assert.ok(o, JSON.stringify(pool));
            assert.deepEqual(
              [o.connected, o.free, o.pending, o.queued, o.running, o.size],
              [p.connected, p.free, p.pending, p.queued, p.running, p.size],
            );
            assert.equal(pool.maxSockets, 10);
            // the queue is a finding, named for the pool
            assert.match(s.sockets!.findings.join('\n'), new RegExp(`${pool.name} ${origin}: 20 requests queued`));
          }
        } finally {
          await t.kill();
        }
      });
    }
  }

  // undici 7's Agent registers arrow functions on its Pools, so nothing but the heap leads to an
  // Agent held in a closure: the sample reads its Pool on its own; --census finds the Agent itself
  // (Runtime.queryObjects on each undici copy's Dispatcher.prototype). Before, the census handed
  // in no dispatcher and the sample's note sent users to it for nothing.
  for (const major of ['5', '7']) {
    it(`undici ${major} Agent held in a closure: --census names the Agent, with its own figures, each client once`, async () => {
      const t = await startTarget('undici.js', { args: [major, 'agent', '10', '30'], nodeArgs: NODE_ARGS });
      try {
        const origin = t.facts.origin as string;
        const own = ((await t.ask('stats')).stats as Array<Record<string, number>>)[0]!;
        const s = await stats(t.pid, '--census');
        const pools = s.httpPools!.filter((p) => p.kind === 'undici');
        assert.deepEqual(pools.map((p) => p.name), ['undici Agent#1'], JSON.stringify(s.httpPools));
        const o = pools[0]!.origins.find((x) => x.origin === origin)!;
        assert.deepEqual([o.connected, o.free, o.queued, o.running], [own.connected, own.free, own.queued, own.running]);
        assert.equal(s.sockets!.groups.find((x) => x.direction === 'client')!.byPool['undici Agent#1'], 10);
      } finally {
        await t.kill();
      }
    });
  }

  it('fetch with --census: the global dispatcher once, none of its clients listed again', async () => {
    const t = await startTarget('undici.js', { args: ['fetch', 'x', '10', '30'], nodeArgs: NODE_ARGS });
    try {
      const s = await stats(t.pid, '--census');
      assert.deepEqual(s.httpPools!.filter((p) => p.kind === 'undici').map((p) => p.name), []);
      const o = s.httpPools!.find((p) => p.kind === 'fetch')!.origins.find((x) => x.origin === t.facts.origin)!;
      assert.deepEqual([o.connected, o.running], [30, 30]);
    } finally {
      await t.kill();
    }
  });

  // 200 WebSocket clients read "200 belong to no pool": a WebSocket is no HTTP pool's
  it('WebSocket client connections are counted apart, not as sockets no pool owns', async () => {
    const t = await startTarget('ws.js', { args: ['20'], nodeArgs: NODE_ARGS });
    try {
      const s = await stats(t.pid);
      const g = s.sockets!.groups.find((x) => x.direction === 'client' && x.endpoint === `127.0.0.1:${t.facts.port as number}`)!;
      assert.ok(g, JSON.stringify(s.sockets!.groups));
      assert.deepEqual(g.byPool, { '(WebSocket)': 20 });
      assert.doesNotMatch(s.sockets!.findings.join('\n'), /belong to no pool/);
    } finally {
      await t.kill();
    }
  });

  // fetch on this Node: the bundled undici's global dispatcher (an Agent; undici 7 from Node 22)
  it('fetch: the global dispatcher holds every connection, none queued', async () => {
    const t = await startTarget('undici.js', { args: ['fetch', 'x', '10', '30'], nodeArgs: NODE_ARGS });
    try {
      const origin = t.facts.origin as string;
      const s = await stats(t.pid);
      const pool = s.httpPools!.find((p) => p.kind === 'fetch')!;
      assert.equal(pool.note, null);
      const o = pool.origins.find((x) => x.origin === origin)!;
      assert.deepEqual([o.connected, o.running, o.queued, o.free], [30, 30, 0, 0]);
      assert.equal(s.sockets!.groups.find((x) => x.direction === 'client')!.byPool.fetch, 30);
    } finally {
      await t.kill();
    }
  });

  it('rations the walk to 0.5% of a core: the next walk waits its own cost / 0.005', async () => {
    const t = await startTarget('tls-pool.js', { args: [certDir], nodeArgs: NODE_ARGS });
    const att = await attachTo(t.pid, { timeoutMs: 10_000 });
    try {
      const sampler = new Sampler(att, { net: { top: 10, groups: 50 } });
      await sampler.baseline();
      const first = await sampler.sample();
      assert.equal(first.sockets?.total, 8);
      assert.equal(first.sockets.readAt, first.time);
      assert.equal(sampler.netRationed, false);
      const holdMs = first.sockets.probeMs / NET_SHARE;
      const walkedAt = Date.now();
      // at once: the walk is held, the rest of the sample is not
      const next = await sampler.sample();
      if (Date.now() - walkedAt < holdMs) {
        assert.equal(sampler.netRationed, true);
        assert.equal(next.sockets, null);
        assert.ok(next.memory.heapUsedBytes! > 0);
      }
      // once its cost is paid off, the next sample walks again
      await new Promise((r) => setTimeout(r, holdMs + 20));
      const later = await sampler.sample();
      assert.equal(sampler.netRationed, false);
      assert.equal(later.sockets?.total, 8);
    } finally {
      await att.detach();
      await t.kill();
    }
  });

  it('reports no pools and no sockets for a process with none, without errors', async () => {
    const t = await startTarget('idle.js', { nodeArgs: NODE_ARGS });
    try {
      const s = await stats(t.pid);
      assert.equal(s.sockets!.total, 0);
      assert.deepEqual(s.sockets!.groups, []);
      assert.deepEqual(s.sockets!.errors, []);
      assert.deepEqual(
        s.httpPools!.map((p) => p.name),
        ['http.globalAgent', 'https.globalAgent'],
      );
      assert.ok(s.sockets!.notSeen.some((n) => /fetch has not been used/.test(n)));
      const off = await stats(t.pid, '--no-sockets');
      assert.equal(off.sockets, null);
      assert.equal(off.httpPools, null);
    } finally {
      await t.kill();
    }
  });
});
