import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { buildNet, endpointOf, findings } from '../../src/model/net';
import { renderPools, renderSockets } from '../../src/sinks/text';
import { netProbe, type RawNet, type RawPool } from '../../src/probes/net';
import { composeProbes, defineProbe, partFailure, probeExpression } from '../../src/probes/probe';

function raw(over: Partial<RawNet> = {}): RawNet {
  return {
    total: 0,
    byKind: {},
    byDirection: {},
    byState: {},
    idle: 0,
    groups: [],
    groupsTotal: 0,
    top: [],
    pools: [],
    fetch: { present: false, note: 'no dispatcher' },
    undiciUnowned: 0,
    poolsOmitted: { pools: 0, origins: 0 },
    found: { handles: 0, agents: 0, fetch: 0, census: null },
    census: false,
    censusWallMs: null,
    probeMs: 0.5,
    errors: [],
    ...over,
  };
}

const agent = (name: string, maxSockets: number | null, origins: Array<[string, number, number, number]>): RawPool => ({
  kind: 'http.Agent',
  name,
  protocol: 'https:',
  maxSockets,
  maxFreeSockets: 256,
  maxTotalSockets: null,
  keepAlive: true,
  origins: origins.map(([origin, inUse, free, queued]) => ({ origin, endpoint: null, servername: null, key: `${origin}:`, inUse, free, queued, connected: null, pending: null, running: null, size: null })),
  note: null,
});

describe('net model', () => {
  it('names an endpoint the same way from an origin, a key and a URL', () => {
    assert.equal(endpointOf('http://127.0.0.1:8080'), '127.0.0.1:8080');
    assert.equal(endpointOf('https://db.example'), 'db.example:443');
    assert.equal(endpointOf('http://db.example/'), 'db.example:80');
    assert.equal(endpointOf('[::1]:443'), '[::1]:443');
    assert.equal(endpointOf('10.0.0.1:5432'), '10.0.0.1:5432');
  });

  it('fills zeros for absent kinds, renames the unowned pool, counts omitted groups', () => {
    const v = buildNet(
      raw({
        total: 7,
        byKind: { tls: 7 },
        byDirection: { client: 7 },
        groups: [{ direction: 'client', key: 'a:1', count: 5, tls: 5, idle: 0, bytesRead: 1, bytesWritten: 2, pendingWriteBytes: 3, pendingReadBytes: 0, byPool: { '': 5 } }],
        groupsTotal: 3,
      }),
    );
    assert.deepEqual(v.sockets.byKind, { tcp: 0, tls: 7 });
    assert.deepEqual(v.sockets.byDirection, { client: 7, server: 0 });
    assert.deepEqual(v.sockets.groups[0]?.byPool, { '(no pool)': 5 });
    assert.deepEqual(v.sockets.groupsOmitted, { groups: 2, connections: 2 });
    assert.ok(v.sockets.notSeen.some((n) => /--census/.test(n)));
    assert.ok(v.sockets.notSeen.some((n) => /fetch’s pool: no dispatcher/.test(n)));
  });

  it('explains more connections to a remote than one pool allows', () => {
    const v = buildNet(
      raw({
        total: 14,
        groups: [
          { direction: 'client', key: 'db:443', count: 14, tls: 14, idle: 2, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: { 'https.Agent#1': 10, 'https.Agent#2': 2, '': 2 } },
        ],
        groupsTotal: 1,
        pools: [agent('https.Agent#1', 10, [['db:443', 8, 2, 0]]), agent('https.Agent#2', 2, [['db:443', 2, 0, 5]])],
      }),
    );
    const f = v.sockets.findings;
    assert.equal(f.length, 2, f.join('\n'));
    assert.ok(f[0]!.startsWith('db:443: 14 client connections (14 TLS): https.Agent#1 10 (maxSockets 10), https.Agent#2 2 (maxSockets 2), (no pool) 2;'), f[0]);
    assert.match(f[0]!, /2 pools connect to it/);
    assert.match(f[0]!, /2 belong to no pool/);
    assert.match(f[1]!, /https\.Agent#2 db:443: 5 requests queued with 2 in use of maxSockets 2/);
    assert.deepEqual(v.httpPools[1]?.totals, { inUse: 2, free: 0, queued: 5 });
  });

  it('says nothing about a remote within its single pool, and flags split origin keys', () => {
    const quiet = findings(
      buildNet(raw({ groups: [{ direction: 'client', key: 'h:80', count: 3, tls: 0, idle: 0, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: { a: 3 } }], groupsTotal: 1 })).sockets,
      buildNet(raw({ pools: [agent('a', 4, [['h:80', 3, 0, 0]])] })).httpPools,
    );
    assert.deepEqual(quiet, []);
    const split = buildNet(
      raw({
        groups: [{ direction: 'client', key: 'h:443', count: 6, tls: 6, idle: 0, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: { a: 6 } }],
        groupsTotal: 1,
        pools: [agent('a', 4, [['h:443', 3, 0, 0], ['h:443', 3, 0, 0]])],
      }),
    );
    assert.match(split.sockets.findings[0]!, /a has 2 origin keys for it/);
  });

  it('matches a pool origin named by host to the sockets grouped by address', () => {
    const pool = agent('https.Agent#1', 2, [['db.example:443', 2, 0, 0]]);
    pool.origins[0]!.endpoint = '10.0.0.5:443';
    const v = buildNet(
      raw({
        groups: [{ direction: 'client', key: '10.0.0.5:443', count: 3, tls: 3, idle: 0, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: { 'https.Agent#1': 2, '': 1 } }],
        groupsTotal: 1,
        pools: [pool],
      }),
    );
    assert.equal(v.sockets.findings.length, 1);
    assert.match(v.sockets.findings[0]!, /^10\.0\.0\.5:443: 3 client connections \(3 TLS\): https\.Agent#1 2 \(maxSockets 2\), \(no pool\) 1; 1 belong to no pool/);
  });

  it('uses fetch pending as the queue when queued is not exposed', () => {
    const v = buildNet(
      raw({
        pools: [
          {
            kind: 'fetch',
            name: 'fetch',
            protocol: null,
            maxSockets: null,
            maxFreeSockets: null,
            maxTotalSockets: null,
            keepAlive: true,
            origins: [{ origin: 'http://x:1', endpoint: null, servername: null, key: 'http://x:1', inUse: 1, free: 0, queued: null, connected: 1, pending: 4, running: 1, size: 5 }],
            note: 'queued not exposed by this undici',
          },
        ],
      }),
    );
    assert.deepEqual(v.httpPools[0]?.totals, { inUse: 1, free: 0, queued: 4 });
    assert.ok(renderPools(v.httpPools).some((l) => /pending 4/.test(l)));
    assert.ok(renderPools(v.httpPools).some((l) => /queued not exposed/.test(l)));
    assert.ok(renderSockets(v.sockets)[0]!.startsWith('sockets  0:'));
  });
});

describe('net probe, in-process', () => {
  it('counts real loopback connections both ways and never throws on odd input', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted: net.Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    const clients = await Promise.all(
      [1, 2, 3].map(() => new Promise<net.Socket>((r) => { const c = net.connect(port, '127.0.0.1', () => r(c)); })),
    );
    while (accepted.length < 3) await new Promise((r) => setImmediate(r));
    try {
      const r = netProbe.fn({ top: 1, groups: 50 }) as RawNet;
      const mine = r.groups.filter((g) => g.key === `127.0.0.1:${port}`);
      assert.deepEqual(mine.map((g) => [g.direction, g.count]).sort(), [['client', 3], ['server', 3]]);
      assert.equal(r.top.length, 1);
      assert.deepEqual(r.errors, []);
      // junk arguments: clamped, not thrown
      const j = netProbe.fn({ top: -5, groups: Number.NaN } as never) as RawNet;
      assert.equal(j.top.length, 0);
      assert.ok(j.groups.length >= 2);
    } finally {
      for (const c of [...clients, ...accepted]) c.destroy();
      server.close();
    }
  });

  it('brings back at most 50 pools, the busiest, and counts the rest', async () => {
    const held: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    // agent:false: a throwaway agent per request, 60 of them
    const reqs = Array.from({ length: 60 }, () => http.get({ host: '127.0.0.1', port, agent: false }).on('error', () => {}));
    while (held.length < 60) await new Promise((r) => setImmediate(r));
    try {
      const r = netProbe.fn({ top: 0, groups: 50 }) as RawNet;
      assert.equal(r.pools.length, 50);
      assert.equal(r.poolsOmitted.pools, 62 - 50);
      // the named ones stay listed
      assert.ok(r.pools.some((p) => p.name === 'http.globalAgent'));
      assert.ok(r.pools.some((p) => p.name === 'https.globalAgent'));
      assert.equal(r.pools.filter((p) => p.origins.length === 1 && p.origins[0]!.inUse === 1).length, 48);
      const v = buildNet(r);
      assert.match(renderPools(v.httpPools, v.sockets.poolsOmitted)[0]!, /not listed: 12 more pools/);
    } finally {
      for (const q of reqs) q.destroy();
      for (const res of held) res.destroy();
      server.close();
    }
  });

  it('composes probes into one self-contained expression', () => {
    const a = defineProbe('a', 'nothing', (x: { n: number }) => x.n + 1);
    const b = defineProbe('b', 'nothing', (x: string) => x.toUpperCase());
    const c = composeProbes('ab', { a, b });
    assert.deepEqual(c.fn({ a: { n: 1 }, b: 'x' }), { a: 2, b: 'X' });
    assert.deepEqual(c.fn({ a: { n: 1 }, b: null }), { a: 2 });
    // a part that throws leaves the others standing
    const bad = defineProbe('bad', 'nothing', (): number => {
      throw new Error('boom');
    });
    const cb = composeProbes('ok-bad', { a, bad });
    const rb = (0, eval)(probeExpression(cb, { a: { n: 1 }, bad: {} as never })) as Record<string, unknown>;
    assert.equal(rb.a, 2);
    assert.match(partFailure(rb.bad) ?? '', /boom/);
    assert.equal(partFailure(rb.a), null);
    assert.match(partFailure((cb.fn({ a: { n: 1 }, bad: {} as never }) as Record<string, unknown>).bad) ?? '', /boom/);
    // the text sent to the target evaluates on its own to the same result
    const v = (0, eval)(probeExpression(c, { a: { n: 41 }, b: 'ok' }));
    assert.deepEqual(v, { a: 42, b: 'OK' });
  });
});

describe('kernel connections', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { addKernel } = require('../../src/model/net') as typeof import('../../src/model/net');
  type S = import('../../src/model/net').Sockets;
  const base = (): S => ({
    total: 4,
    byKind: { tcp: 0, tls: 4 },
    byDirection: { client: 0, server: 4 },
    byState: {},
    idle: 0,
    groups: [{ direction: 'server', endpoint: '127.0.0.1:8443', count: 4, tls: 4, idle: 0, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: {}, unseen: 0 }],
    groupsOmitted: { groups: 0, connections: 0 },
    top: [],
    found: { handles: 4, agents: 0, fetch: 0, census: null },
    census: null,
    probeMs: 1,
    readAt: null,
    notSeen: ['idle keep-alive sockets of agents nothing live leads to: ...'],
    poolsOmitted: { pools: 0, origins: 0 },
    errors: [],
    findings: [],
    kernel: null,
  });
  const conn = (direction: 'client' | 'server', lp: number, rp: number) => ({ direction, localAddress: '127.0.0.1', localPort: lp, remoteAddress: '127.0.0.1', remotePort: rp });

  it('counts what JavaScript missed, as TLS when it goes to this process’s own TLS listener', () => {
    const s = base();
    const conns = [
      ...[1, 2, 3, 4].map((i) => conn('server', 8443, 50000 + i)),
      ...[1, 2, 3, 4].map((i) => conn('client', 50000 + i, 8443)),
      conn('server', 9229, 60000), // nodetop's own inspector session: not the program's
    ];
    addKernel(s, conns, 9229);
    assert.deepEqual(s.kernel, { total: 8, unseen: 4, unseenTls: 4 });
    assert.equal(s.total, 8);
    assert.deepEqual(s.byKind, { tcp: 0, tls: 8 });
    assert.deepEqual(s.byDirection, { client: 4, server: 4 });
    const out = s.groups.find((g) => g.direction === 'client');
    assert.deepEqual([out?.endpoint, out?.count, out?.tls, out?.unseen], ['127.0.0.1:8443', 4, 4, 4]);
    assert.match(s.notSeen[0] ?? '', /4 connections only the kernel sees/);
  });

  it('adds nothing when JavaScript saw every connection', () => {
    const s = base();
    addKernel(s, [1, 2, 3, 4].map((i) => conn('server', 8443, 50000 + i)), null);
    assert.deepEqual(s.kernel, { total: 4, unseen: 0, unseenTls: 0 });
    assert.equal(s.total, 4);
  });
});
