// Sockets, TLS and HTTP client pools as the Sample shows them. Pure: the net probe's reading in,
// the documented JSON shape out, plus the notes that answer "why more connections than the
// pool size?" from one screen.

import type { Connection } from '../platform/proc';
import type { RawNet, RawPool, RawPoolOrigin, RawSocket, RawSocketGroup } from '../probes/net';

/** The probe's group (counts and bytes as the target read them), keyed for the JSON shape. */
export interface SocketGroup extends Omit<RawSocketGroup, 'key' | 'byPool'> {
  /** client: remote host:port; server: local host:port of the listener. */
  endpoint: string;
  /** Connections per owning pool ("(no pool)" for net.connect, agent:false, or unknown). */
  byPool: Record<string, number>;
  /** Of `count`, those only the kernel saw (see Sockets.kernel); 0 without it. */
  unseen: number;
}

export interface SocketRow {
  kind: 'tcp' | 'tls';
  direction: 'client' | 'server' | null;
  state: string;
  local: string | null;
  remote: string | null;
  bytesRead: number | null;
  bytesWritten: number | null;
  pendingWriteBytes: number;
  pendingReadBytes: number;
  ageMs: number | null;
  pool: string | null;
  idle: boolean;
  tls: RawSocket['tls'];
}

export interface Sockets {
  /** Live TCP/TLS connections of the main thread, each counted once (client and server halves apart). */
  total: number;
  byKind: { tcp: number; tls: number };
  byDirection: { client: number; server: number };
  byState: Record<string, number>;
  /** Idle in a keep-alive pool. */
  idle: number;
  groups: SocketGroup[];
  /** Groups not listed (the smallest), and the connections in them. */
  groupsOmitted: { groups: number; connections: number };
  /** The top N by pendingWriteBytes, then bytes moved. */
  top: SocketRow[];
  found: RawNet['found'];
  census: null | { wallMs: number | null };
  /** Time the walk took inside the target, ms. */
  probeMs: number;
  /**
   * When the walk ran (ISO time). Older than the sample when the walk was rationed: a walk that
   * costs the target more than 0.5% of a core at the tick rate runs less often (src/sampler.ts).
   */
  readAt: string | null;
  /** What this sample cannot see, and why. */
  notSeen: string[];
  /** httpPools left out (the busiest 50 are listed) and origins left out of listed pools (50 each). */
  poolsOmitted: { pools: number; origins: number };
  /** Partial failures in the target (the rest of the reading stands). */
  errors: string[];
  /** One line per remote whose connection count needs explaining, and per queue: see findings(). */
  findings: string[];
  /**
   * The kernel's count of the process's established TCP connections (local targets: /proc), and
   * those the main thread's JavaScript did not reach: idle pooled sockets of an agent nothing
   * leads to, unref'd sockets, a worker's or a native addon's. They are included in `total`,
   * `byKind`, `byDirection` and `groups` (each group's `unseen`); `tls` for them is inferred from
   * where they go (this process's own TLS listener, or an endpoint all of whose seen connections
   * are TLS). null when the kernel was not asked (a remote target).
   */
  kernel: null | { total: number; unseen: number; unseenTls: number };
}

/** A pool's origin as the probe reads it; the model keeps it as it is. */
export type HttpPoolOrigin = RawPoolOrigin;

export interface HttpPool {
  kind: RawPool['kind'];
  name: string;
  protocol: string | null;
  /** Per origin. null: unlimited. */
  maxSockets: number | null;
  maxFreeSockets: number | null;
  maxTotalSockets: number | null;
  keepAlive: boolean | null;
  origins: HttpPoolOrigin[];
  totals: { inUse: number; free: number; queued: number };
  note: string | null;
}

export interface NetView {
  sockets: Sockets;
  httpPools: HttpPool[];
}

const hostPort = (addr: string | null, port: number | null): string | null =>
  addr === null && port === null ? null : `${addr && addr.includes(':') ? `[${addr}]` : (addr ?? '?')}:${port ?? '?'}`;

/** "http://127.0.0.1:8080" and "127.0.0.1:8080" and "[::1]:443" name the same place. */
export function endpointOf(origin: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/]+)/i.exec(origin);
  const hp = m ? m[1]! : origin;
  if (/:\d+$/.test(hp)) return hp;
  const scheme = /^([a-z]+):/i.exec(origin)?.[1]?.toLowerCase();
  return scheme === 'https' ? `${hp}:443` : scheme === 'http' ? `${hp}:80` : hp;
}

function poolTotals(p: RawPool): HttpPool['totals'] {
  let inUse = 0;
  let free = 0;
  let queued = 0;
  for (const o of p.origins) {
    inUse += o.inUse ?? 0;
    free += o.free ?? 0;
    queued += o.queued ?? (p.kind === 'fetch' ? (o.pending ?? 0) : 0);
  }
  return { inUse, free, queued };
}

// Each entry: "<what>: <why>" (the text sink shows what, --json both).
const NOT_SEEN = [
  'native addons’ sockets: they have no JavaScript socket object',
  'HTTP/2 streams: the session’s TCP/TLS socket is counted, the streams multiplexed on it are not',
  'UDP, unix-domain sockets, pipes, raw fds: not TCP connections (the fd count in the process line counts every fd)',
  'worker threads’ sockets: each thread has its own; this is the main thread',
  'native memory per TLS connection: OpenSSL’s buffers and session state have no per-socket reading from JavaScript; they are in rssBytes (pendingWriteBytes and pendingReadBytes are the JavaScript-side buffers)',
];
const NOT_SEEN_WITHOUT_CENSUS =
  'idle keep-alive sockets of agents nothing live leads to: idle pooled sockets are unref’d, so the handle list skips them, and only their agent knows them (an agent in a closure with no request in flight); also sockets the program unref’d itself. --census finds them';

const hostPortOf = (addr: string, port: number): string => `${addr.includes(':') && !addr.startsWith('::ffff:') ? `[${addr}]` : addr.replace(/^::ffff:/, '')}:${port}`;

/**
 * Adds the connections the kernel knows and JavaScript did not reach. Compared group by group
 * (direction and endpoint, as the probe groups them); a connection nodetop's own inspector
 * session holds (on `inspectorPort`) is not the program's and is left out.
 */
export function addKernel(sockets: Sockets, conns: Connection[], inspectorPort: number | null): void {
  const norm = (e: string): string => e.replace(/^::ffff:/, '').replace(/^\[::ffff:([\d.]+)\]/, '$1');
  const kernelGroups = new Map<string, { direction: 'client' | 'server'; endpoint: string; count: number }>();
  let total = 0;
  for (const c of conns) {
    if (inspectorPort !== null && c.direction === 'server' && c.localPort === inspectorPort) continue;
    total++;
    const endpoint = c.direction === 'server' ? hostPortOf(c.localAddress, c.localPort) : hostPortOf(c.remoteAddress, c.remotePort);
    const key = `${c.direction} ${endpoint}`;
    const g = kernelGroups.get(key) ?? { direction: c.direction, endpoint, count: 0 };
    g.count++;
    kernelGroups.set(key, g);
  }
  const unseenTotal = Math.max(0, total - sockets.total);
  let unseenTls = 0;
  if (unseenTotal > 0) {
    const tlsListeners = new Set(sockets.groups.filter((g) => g.direction === 'server' && g.tls > 0).map((g) => norm(g.endpoint)));
    let placed = 0;
    for (const kg of kernelGroups.values()) {
      const jsGroup = sockets.groups.find((g) => g.direction === kg.direction && norm(g.endpoint) === norm(kg.endpoint));
      const extra = kg.count - (jsGroup?.count ?? 0);
      if (extra <= 0) continue;
      // groups the probe left out (it returns the 50 largest) are already in its total
      if (!jsGroup && sockets.groupsOmitted.groups > 0) continue;
      const isTls =
        (kg.direction === 'client' && tlsListeners.has(norm(kg.endpoint))) ||
        (kg.direction === 'server' && tlsListeners.has(norm(kg.endpoint))) ||
        (!!jsGroup && jsGroup.count > 0 && jsGroup.tls === jsGroup.count);
      const n = Math.min(extra, unseenTotal - placed);
      if (n <= 0) break;
      placed += n;
      if (isTls) unseenTls += n;
      sockets.byDirection[kg.direction] += n;
      if (jsGroup) {
        jsGroup.count += n;
        jsGroup.unseen += n;
        if (isTls) jsGroup.tls += n;
      } else {
        sockets.groups.push({
          direction: kg.direction,
          endpoint: kg.endpoint,
          count: n,
          tls: isTls ? n : 0,
          idle: 0,
          bytesRead: 0,
          bytesWritten: 0,
          pendingWriteBytes: 0,
          pendingReadBytes: 0,
          byPool: { '(not reached from JavaScript)': n },
          unseen: n,
        });
      }
    }
    sockets.groups.sort((a, b) => b.count - a.count);
    sockets.total += unseenTotal;
    sockets.byKind.tls += unseenTls;
    sockets.byKind.tcp += unseenTotal - unseenTls;
  }
  sockets.kernel = { total, unseen: unseenTotal, unseenTls };
  if (unseenTotal > 0) {
    sockets.notSeen = sockets.notSeen.filter((n) => !n.startsWith('idle keep-alive sockets'));
    sockets.notSeen.unshift(
      `details of ${unseenTotal} connection${unseenTotal === 1 ? '' : 's'} only the kernel sees: they are counted (from /proc), but JavaScript on the main thread did not reach them (idle in a pool no live object leads to, unref'd, a worker's or a native addon's); --census finds the JavaScript ones`,
    );
  }
}

export function buildNet(raw: RawNet, kernel: { connections: Connection[]; inspectorPort: number | null } | null = null, readAtMs: number | null = null): NetView {
  const omittedConns = raw.total - raw.groups.reduce((n, g) => n + g.count, 0);
  const sockets: Sockets = {
    total: raw.total,
    byKind: { tcp: raw.byKind.tcp ?? 0, tls: raw.byKind.tls ?? 0 },
    byDirection: { client: raw.byDirection.client ?? 0, server: raw.byDirection.server ?? 0 },
    byState: { ...raw.byState },
    idle: raw.idle,
    groups: raw.groups.map((g) => {
      const byPool: Record<string, number> = {};
      for (const [k, v] of Object.entries(g.byPool ?? {})) byPool[k === '' ? '(no pool)' : k] = v;
      return {
        direction: g.direction,
        endpoint: g.key,
        count: g.count,
        tls: g.tls,
        idle: g.idle,
        bytesRead: g.bytesRead,
        bytesWritten: g.bytesWritten,
        pendingWriteBytes: g.pendingWriteBytes,
        pendingReadBytes: g.pendingReadBytes ?? 0,
        byPool,
        unseen: 0,
      };
    }),
    groupsOmitted: { groups: Math.max(0, raw.groupsTotal - raw.groups.length), connections: Math.max(0, omittedConns) },
    top: raw.top.map((s) => ({
      kind: s.kind,
      direction: s.direction,
      state: s.state,
      local: hostPort(s.localAddress, s.localPort),
      remote: hostPort(s.remoteAddress, s.remotePort),
      bytesRead: s.bytesRead,
      bytesWritten: s.bytesWritten,
      pendingWriteBytes: s.pendingWriteBytes,
      pendingReadBytes: s.pendingReadBytes ?? 0,
      ageMs: s.ageMs,
      pool: s.pool,
      idle: s.idle,
      tls: s.tls,
    })),
    found: raw.found,
    census: raw.census ? { wallMs: raw.censusWallMs } : null,
    probeMs: raw.probeMs,
    readAt: readAtMs !== null && Number.isFinite(readAtMs) ? new Date(readAtMs).toISOString() : null,
    notSeen: raw.census ? [...NOT_SEEN] : [NOT_SEEN_WITHOUT_CENSUS, ...NOT_SEEN],
    poolsOmitted: { ...(raw.poolsOmitted ?? { pools: 0, origins: 0 }) },
    errors: [...raw.errors],
    findings: [],
    kernel: null,
  };
  if (raw.fetch && !raw.fetch.present && raw.fetch.note) sockets.notSeen.push(`fetch’s pool: ${raw.fetch.note}`);
  const httpPools: HttpPool[] = raw.pools.map((p) => ({
    kind: p.kind,
    name: p.name,
    protocol: p.protocol,
    maxSockets: p.maxSockets,
    maxFreeSockets: p.maxFreeSockets,
    maxTotalSockets: p.maxTotalSockets,
    keepAlive: p.keepAlive,
    origins: p.origins.map((o) => ({ ...o })),
    totals: poolTotals(p),
    note: p.note,
  }));
  if (kernel) addKernel(sockets, kernel.connections, kernel.inspectorPort);
  sockets.findings = findings(sockets, httpPools);
  return { sockets, httpPools };
}

/**
 * The answers to "why more connections than the pool size?" and "why do requests queue?": for
 * each remote, who holds its client connections (several pools, per-origin keys, sockets no
 * pool owns, this process's own server at the other end) and which pools have a queue.
 */
export function findings(sockets: Sockets, pools: HttpPool[]): string[] {
  const out: string[] = [];
  // pools that reach each endpoint, with the limit that applies to each origin key
  const reach = new Map<string, Array<{ pool: HttpPool; origin: HttpPoolOrigin }>>();
  for (const p of pools) {
    for (const o of p.origins) {
      const ep = o.endpoint ?? endpointOf(o.origin);
      const list = reach.get(ep) ?? [];
      list.push({ pool: p, origin: o });
      reach.set(ep, list);
    }
  }
  const serverBy = new Map<string, number>();
  for (const g of sockets.groups) if (g.direction === 'server') serverBy.set(g.endpoint, g.count);

  for (const g of sockets.groups) {
    if (g.direction !== 'client') continue;
    const owners = reach.get(g.endpoint) ?? [];
    const poolNames = Object.keys(g.byPool);
    const limits = owners.map((x) => x.pool.maxSockets);
    const finite = limits.every((l) => l !== null) && limits.length > 0;
    const allowed = finite ? limits.reduce<number>((n, l) => n + (l ?? 0), 0) : null;
    const keysPerPool = new Map<string, number>();
    for (const x of owners) keysPerPool.set(x.pool.name, (keysPerPool.get(x.pool.name) ?? 0) + 1);
    const reasons: string[] = [];
    // WebSocket connections are no pool's by design: neither a pool nor a socket missing one
    const realPools = poolNames.filter((n) => n !== '(no pool)' && n !== '(WebSocket)');
    if (realPools.length > 1) reasons.push(`${realPools.length} pools connect to it`);
    if (g.byPool['(no pool)']) reasons.push(`${g.byPool['(no pool)']} belong to no pool (net/tls.connect, agent:false, or an agent nodetop cannot reach)`);
    for (const [name, keys] of keysPerPool) if (keys > 1) reasons.push(`${name} has ${keys} origin keys for it (maxSockets is per key: TLS options, localAddress, family split them)`);
    const withServer = serverBy.get(g.endpoint);
    const maxSingle = owners.length === 1 ? owners[0]!.pool.maxSockets : null;
    const over = (allowed !== null && g.count > allowed) || (maxSingle !== null && g.count > maxSingle) || reasons.length > 0;
    if (!over && !withServer) continue;
    const parts = Object.entries(g.byPool)
      .sort((a, b) => b[1] - a[1])
      .map(([n, c]) => {
        const pool = pools.find((p) => p.name === n || (n === 'fetch' && p.kind === 'fetch'));
        // a pool whose owner was not reached has no known limit: say nothing rather than "unlimited"
        const lim = pool && !pool.name.includes('not reached') ? pool.maxSockets : undefined;
        return `${n} ${c}${lim !== undefined ? ` (maxSockets ${lim ?? 'unlimited'})` : ''}`;
      });
    let line = `${g.endpoint}: ${g.count} client connection${g.count === 1 ? '' : 's'}${g.tls ? ` (${g.tls} TLS)` : ''}: ${parts.join(', ')}`;
    if (reasons.length) line += `; ${reasons.join('; ')}`;
    if (withServer) line += `; this process also holds the ${withServer} server side${withServer === 1 ? '' : 's'} of its connections to ${g.endpoint} (each loopback connection is counted twice: once per end)`;
    out.push(line);
  }
  for (const p of pools) {
    for (const o of p.origins) {
      const q = o.queued ?? 0;
      if (q > 0) {
        const inUse = o.inUse ?? o.running;
        out.push(
          `${p.name} ${o.origin}: ${q} request${q === 1 ? '' : 's'} queued with ${inUse ?? '?'} in use of maxSockets ${p.maxSockets ?? 'unlimited'}: the pool is too small for the request rate times latency`,
        );
      }
    }
  }
  return out;
}
