import { defineProbe } from './probe';

export interface NetArg {
  /** How many sockets come back one by one (the rest only in counts and groups). */
  top: number;
  /** How many remote groups come back (largest first); the rest are summed into `groupsOmitted`. */
  groups: number;
}

/** What an explicit census (Runtime.queryObjects) found, handed to the probe by nodetop. */
export interface NetCensus {
  /** net, tls, http, https: callFunctionOn has no `require`. */
  modules: { net: unknown; tls: unknown; http: unknown; https: unknown };
  /** Every object in the heap whose prototype chain holds net.Socket.prototype. */
  sockets: unknown[];
  /** Every object in the heap whose prototype chain holds http.Agent.prototype. */
  agents: unknown[];
}

export interface RawTls {
  protocol: string | null;
  cipher: string | null;
  servername: string | null;
  authorized: boolean | null;
  sessionReused: boolean | null;
}

export interface RawSocket {
  kind: 'tcp' | 'tls';
  direction: 'client' | 'server' | null;
  state: string;
  localAddress: string | null;
  localPort: number | null;
  remoteAddress: string | null;
  remotePort: number | null;
  bytesRead: number | null;
  bytesWritten: number | null;
  pendingWriteBytes: number;
  /** Received and buffered, not yet read by the program (readableLength). */
  pendingReadBytes: number;
  ageMs: number | null;
  /** The pool that owns it (an http.Agent's name, or "fetch"), when known. */
  pool: string | null;
  /** Idle in a keep-alive pool (a free socket: unref'd, absent from the handle list). */
  idle: boolean;
  tls: RawTls | null;
}

export interface RawSocketGroup {
  /** client: the remote host:port; server: the local listener host:port. */
  direction: 'client' | 'server' | null;
  key: string;
  count: number;
  tls: number;
  idle: number;
  bytesRead: number;
  bytesWritten: number;
  pendingWriteBytes: number;
  pendingReadBytes: number;
  /** Connections per owning pool name ("" when no pool is known: net.connect, agent:false, server side). */
  byPool: Record<string, number>;
}

export interface RawPoolOrigin {
  origin: string;
  /** The remote address:port its sockets are connected to (what socket groups are keyed by); null with no socket. */
  endpoint: string | null;
  /** TLS server name (SNI) its sockets asked for: one host can be several origin keys, one per name. */
  servername: string | null;
  /** The agent's own key for the origin (http.Agent.getName), or the undici origin. */
  key: string;
  inUse: number | null;
  free: number | null;
  queued: number | null;
  /** undici only: connected, pending, running, size. */
  connected: number | null;
  pending: number | null;
  running: number | null;
  size: number | null;
}

export interface RawPool {
  kind: 'http.Agent' | 'fetch';
  name: string;
  protocol: string | null;
  /** null: unlimited (Infinity) or not exposed. */
  maxSockets: number | null;
  maxFreeSockets: number | null;
  maxTotalSockets: number | null;
  keepAlive: boolean | null;
  origins: RawPoolOrigin[];
  /** Why some numbers are null (an older undici without `stats`, say). */
  note: string | null;
}

export interface RawNet {
  /** Live (not destroyed) connections, each counted once. */
  total: number;
  byKind: Record<string, number>;
  byDirection: Record<string, number>;
  /** Includes "destroyed" for sockets still referenced after they closed (census only). */
  byState: Record<string, number>;
  idle: number;
  groups: RawSocketGroup[];
  groupsTotal: number;
  top: RawSocket[];
  pools: RawPool[];
  /** Whether `fetch`'s global dispatcher exists and why its numbers may be missing. */
  fetch: { present: boolean; note: string | null };
  /** Pools left out (at most 50 come back: agent:false makes one agent per request), and origins left out of the listed ones. */
  poolsOmitted: { pools: number; origins: number };
  /** Where the sockets were found: handle list, agents, undici, census. */
  found: { handles: number; agents: number; fetch: number; census: number | null };
  census: boolean;
  /** Census only: wall time of the whole census as nodetop saw it (GCs and heap walks included). */
  censusWallMs: number | null;
  /** Time the probe took inside the target, ms. */
  probeMs: number;
  errors: string[];
}

/**
 * Sockets, TLS and HTTP client pools of the main thread, grouped inside the target: one round
 * trip brings back counts, groups by remote and the top N sockets, never the whole list.
 *
 * Sockets come from the handle list (ref'd handles), the http/https global agents and every
 * agent reachable from a socket (idle keep-alive sockets are unref'd and missing from the handle
 * list), https servers' connection lists (the TLS side of accepted connections) and the fetch
 * dispatcher's clients; with a census, from every socket and agent in the heap.
 * Never throws: any failure leaves partial data and a string in `errors`.
 */
export const netProbe = defineProbe<NetArg, RawNet>(
  'net',
  'walks the handle list, the agents and the fetch dispatcher: linear in sockets',
  function nodetopNet(arg: NetArg, census?: NetCensus): RawNet {
    /* eslint-disable @typescript-eslint/no-explicit-any */
    const perf = (globalThis as any).performance as { now(): number } | undefined;
    const t0 = perf ? perf.now() : Date.now();
    const errors: string[] = [];
    const fail = (where: string, e: unknown): void => {
      if (errors.length < 20) errors.push(`${where}: ${String((e as any)?.message ?? e)}`);
    };
    const out: RawNet = {
      total: 0,
      byKind: {},
      byDirection: {},
      byState: {},
      idle: 0,
      groups: [],
      groupsTotal: 0,
      top: [],
      pools: [],
      fetch: { present: false, note: null },
      poolsOmitted: { pools: 0, origins: 0 },
      found: { handles: 0, agents: 0, fetch: 0, census: census ? 0 : null },
      census: !!census,
      censusWallMs: null,
      probeMs: 0,
      errors,
    };
    const top = Math.max(0, Math.min(1000, Math.floor(Number(arg?.top) || 0)));
    const maxGroups = Math.max(1, Math.min(1000, Math.floor(Number(arg?.groups) || 50)));
    let net: any, tls: any, http: any, https: any;
    try {
      if (census) ({ net, tls, http, https } = census.modules as any);
      else {
        net = require('net');
        tls = require('tls');
        http = require('http');
        https = require('https');
      }
    } catch (e) {
      fail('modules', e);
      out.probeMs = (perf ? perf.now() : Date.now()) - t0;
      return out;
    }
    const isSocket = (s: unknown): s is any => !!s && typeof s === 'object' && s instanceof net.Socket;
    const isAgent = (a: unknown): a is any => !!a && typeof a === 'object' && a instanceof http.Agent;
    // host:port, IPv6 in brackets: "::1:443" would be ambiguous
    const hp = (host: unknown, port: unknown): string =>
      `${typeof host === 'string' && host.includes(':') ? `[${host}]` : String(host ?? '?')}:${String(port ?? '?')}`;
    const endpointOfSockets = (list: any[]): string | null => {
      for (const s of list) if (s && s.remoteAddress && s.remotePort) return hp(s.remoteAddress, s.remotePort);
      return null;
    };

    interface Entry {
      sock: any;
      tls: any;
      pool: string | null;
      idle: boolean;
    }
    const conns = new Map<any, Entry>();
    // the innermost socket is the connection: a TLSSocket made over an accepted net.Socket
    // (https servers, tls.connect({socket})) is the same connection as its _parent
    const canonical = (s: any): any => {
      let c = s;
      for (let i = 0; i < 4 && c && isSocket(c._parent); i++) c = c._parent;
      return c;
    };
    const add = (s: unknown, pool: string | null, idle: boolean): Entry | null => {
      // a census also finds the prototypes (TLSSocket.prototype inherits from net.Socket's)
      if (!isSocket(s) || (census && Object.prototype.hasOwnProperty.call(s, 'constructor'))) return null;
      const c = canonical(s);
      // stdio and IPC pipes are net.Sockets too: only TCP (and TLS over it) is a connection here
      const hn = c._handle?.constructor?.name;
      if (hn === 'Pipe' || hn === 'TTY') return null;
      let e = conns.get(c);
      if (!e) {
        e = { sock: c, tls: c instanceof tls.TLSSocket ? c : null, pool: null, idle: false };
        conns.set(c, e);
      }
      if (s !== c && s instanceof tls.TLSSocket) e.tls = s;
      if (pool && !e.pool) e.pool = pool;
      if (idle) e.idle = true;
      return e;
    };

    // --- the agents: global ones, then any reachable from a socket ---
    const agents = new Map<any, string>();
    let agentSeq = 0;
    const addAgent = (a: unknown, name?: string): void => {
      if (!isAgent(a) || agents.has(a) || Object.prototype.hasOwnProperty.call(a, 'constructor')) return;
      agents.set(a, name ?? `${a instanceof https.Agent ? 'https' : 'http'}.Agent#${++agentSeq}`);
    };
    try {
      addAgent(http.globalAgent, 'http.globalAgent');
      addAgent(https.globalAgent, 'https.globalAgent');
    } catch (e) {
      fail('globalAgent', e);
    }

    // --- the handle list ---
    const servers = new Set<any>();
    try {
      const p = process as unknown as { _getActiveHandles?: () => unknown[] };
      for (const h of p._getActiveHandles?.() ?? []) {
        try {
          const e = add(h, null, false);
          if (!e) continue;
          out.found.handles++;
          const s = e.sock;
          const srv = s.server ?? s._server;
          if (srv && typeof srv === 'object') servers.add(srv);
          const msg = s._httpMessage;
          if (msg && isAgent(msg.agent)) addAgent(msg.agent);
        } catch (err) {
          fail('handle', err); // one odd socket does not hide the others
        }
      }
    } catch (e) {
      fail('handles', e);
    }

    // --- census: every socket and agent in the heap (explicit option) ---
    if (census) {
      try {
        for (const s of census.sockets) {
          try {
            const e = add(s, null, false);
            if (!e) continue;
            out.found.census!++;
            const srv = e.sock.server ?? e.sock._server;
            if (srv && typeof srv === 'object') servers.add(srv);
          } catch (err) {
            fail('census socket', err);
          }
        }
        for (const a of census.agents) {
          try {
            addAgent(a);
          } catch (err) {
            fail('census agent', err);
          }
        }
      } catch (e) {
        fail('census', e);
      }
    }

    // --- each agent's sockets, free sockets and queued requests (agents found on the way are
    // added to the map while it is iterated: a Map iterator visits them too) ---
    for (const [a, name] of agents) {
      try {
        const pool: RawPool = {
          kind: 'http.Agent',
          name,
          protocol: typeof a.protocol === 'string' ? a.protocol : null,
          maxSockets: Number.isFinite(a.maxSockets) ? a.maxSockets : null,
          maxFreeSockets: Number.isFinite(a.maxFreeSockets) ? a.maxFreeSockets : null,
          maxTotalSockets: Number.isFinite(a.maxTotalSockets) ? a.maxTotalSockets : null,
          keepAlive: typeof a.keepAlive === 'boolean' ? a.keepAlive : null,
          origins: [],
          note: null,
        };
        const keys = new Set<string>([
          ...Object.keys(a.sockets ?? {}),
          ...Object.keys(a.freeSockets ?? {}),
          ...Object.keys(a.requests ?? {}),
        ]);
        for (const key of keys) {
          const used: unknown[] = Array.isArray(a.sockets?.[key]) ? a.sockets[key] : [];
          const free: unknown[] = Array.isArray(a.freeSockets?.[key]) ? a.freeSockets[key] : [];
          const queued: unknown[] = Array.isArray(a.requests?.[key]) ? a.requests[key] : [];
          let origin: string | null = null;
          for (const s of used) {
            const e = add(s, name, false);
            if (e) out.found.agents++;
            const msg = (s as any)?._httpMessage;
            if (msg && isAgent(msg.agent)) addAgent(msg.agent);
          }
          for (const s of free) if (add(s, name, true)) out.found.agents++;
          const endpoint = endpointOfSockets([...used, ...free] as any[]);
          // the name the program asked for (the agent's key starts host:port:), else the address
          const m = /^([^:]+):(\d+):/.exec(key);
          if (m) origin = `${m[1]}:${m[2]}`;
          else {
            const s0 = ([...used, ...free] as any[]).find((x) => x && x._host && x.remotePort);
            origin = s0 ? hp(s0._host, s0.remotePort) : (endpoint ?? key);
          }
          const withSni = ([...used, ...free] as any[]).find((x) => x && typeof x.servername === 'string' && x.servername);
          pool.origins.push({
            origin,
            endpoint,
            servername: withSni ? withSni.servername : null,
            key,
            inUse: used.length,
            free: free.length,
            queued: queued.length,
            connected: null,
            pending: null,
            running: null,
            size: null,
          });
        }
        out.pools.push(pool);
      } catch (e) {
        fail(`agent ${name}`, e);
      }
    }

    // --- fetch: undici's global dispatcher (Node 18+, once fetch has been used) ---
    try {
      const d = (globalThis as any)[Symbol.for('undici.globalDispatcher.1')];
      if (!d || typeof d !== 'object') {
        out.fetch.note = 'no global fetch dispatcher: fetch has not been used in this process (or this Node has none)';
      } else {
        out.fetch.present = true;
        const sym = (o: any, n: string): symbol | undefined =>
          o && typeof o === 'object' ? Object.getOwnPropertySymbols(o).find((s) => s.description === n) : undefined;
        const protoSym = (o: any, n: string): symbol | undefined => {
          for (let p = o && Object.getPrototypeOf(o), i = 0; p && i < 4; p = Object.getPrototypeOf(p), i++) {
            const s = Object.getOwnPropertySymbols(p).find((x) => x.description === n);
            if (s) return s;
          }
          return undefined;
        };
        const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
        const kClients = sym(d, 'clients');
        const opts = (sym(d, 'options') && d[sym(d, 'options')!]) || {};
        const pool: RawPool = {
          kind: 'fetch',
          name: `fetch (undici ${String(d.constructor?.name ?? 'dispatcher')})`,
          protocol: null,
          maxSockets: num(opts.connections),
          maxFreeSockets: null,
          maxTotalSockets: null,
          keepAlive: true,
          origins: [],
          note: null,
        };
        if (!kClients || !(d[kClients] instanceof Map)) {
          pool.note = 'this undici keeps its clients where nodetop cannot see them';
        } else {
          const notes = new Set<string>();
          for (const [origin, ref] of d[kClients] as Map<string, any>) {
            const p = ref && typeof ref.deref === 'function' ? ref.deref() : ref;
            if (!p) continue;
            const row: RawPoolOrigin = {
              origin: String(origin),
              endpoint: null,
              servername: null,
              key: String(origin),
              inUse: null,
              free: null,
              queued: null,
              connected: null,
              pending: null,
              running: null,
              size: null,
            };
            // a Pool keeps Clients; an Agent with connections: 1 keeps Clients directly
            const kPoolClients = sym(p, 'clients');
            const clients: any[] = kPoolClients && Array.isArray(p[kPoolClients]) ? p[kPoolClients] : [p];
            const st = p.stats;
            if (st && typeof st === 'object' && kPoolClients) {
              row.connected = num(st.connected);
              row.free = num(st.free);
              row.pending = num(st.pending);
              row.queued = num(st.queued);
              row.running = num(st.running);
              row.size = num(st.size);
            } else {
              // older undici: count from each client's symbol getters
              const c0 = clients[0];
              const kc = protoSym(c0, 'connected');
              const kp = protoSym(c0, 'pending');
              const kr = protoSym(c0, 'running');
              const kb = protoSym(c0, 'busy');
              if (kc && kp && kr) {
                let connected = 0;
                let free = 0;
                let pending = 0;
                let running = 0;
                for (const c of clients) {
                  const on = !!c[kc];
                  if (on) connected++;
                  if (on && kb && !c[kb]) free++;
                  pending += num(c[kp]) ?? 0;
                  running += num(c[kr]) ?? 0;
                }
                row.connected = connected;
                row.free = kb ? free : null;
                row.pending = pending;
                row.running = running;
                row.size = pending + running;
                const kq = sym(p, 'queued');
                row.queued = kq ? num(p[kq]) : null;
                if (row.queued === null) notes.add('queued not exposed by this undici');
              } else notes.add('this undici exposes neither stats nor client counters');
            }
            if (row.connected !== null && row.free !== null) row.inUse = Math.max(0, row.connected - row.free);
            const socks: any[] = [];
            const kRun = protoSym(clients[0], 'running');
            const kPend = protoSym(clients[0], 'pending');
            for (const c of clients) {
              const ks = sym(c, 'socket');
              // a connected client with nothing running or pending idles in the pool (unref'd)
              const idle = !!kRun && !!kPend && (num(c[kRun]) ?? 1) + (num(c[kPend]) ?? 1) === 0;
              if (ks && add(c[ks], 'fetch', idle)) {
                out.found.fetch++;
                socks.push(c[ks]);
              }
            }
            row.endpoint = endpointOfSockets(socks);
            pool.origins.push(row);
          }
          if (notes.size) pool.note = [...notes].join('; ');
        }
        out.pools.push(pool);
      }
    } catch (e) {
      fail('fetch', e);
    }

    // --- at most 50 pools of at most 50 origins come back: the busiest (queued first) ---
    try {
      const MAX = 50;
      const weight = (o: RawPoolOrigin): number => (o.queued ?? 0) * 1e6 + (o.inUse ?? o.running ?? 0) + (o.free ?? 0);
      for (const p of out.pools) {
        if (p.origins.length > MAX) {
          p.origins.sort((x, y) => weight(y) - weight(x));
          out.poolsOmitted.origins += p.origins.length - MAX;
          p.origins.length = MAX;
        }
      }
      if (out.pools.length > MAX) {
        const named = (p: RawPool): boolean => p.kind === 'fetch' || p.name.endsWith('.globalAgent');
        const w = (p: RawPool): number => (named(p) ? 1e15 : 0) + p.origins.reduce((n, o) => n + weight(o), 0);
        out.pools.sort((x, y) => w(y) - w(x));
        out.poolsOmitted.pools = out.pools.length - MAX;
        out.pools.length = MAX;
      }
    } catch (e) {
      fail('pools cap', e);
    }

    // --- the TLS side of connections accepted by https servers (the handle list holds the
    // plain net.Socket underneath) ---
    for (const srv of servers) {
      try {
        if (!(srv instanceof tls.Server)) continue;
        const k = Object.getOwnPropertySymbols(srv).find((s) => s.description === 'http.server.connections');
        const list = k ? (srv as any)[k] : null;
        if (!list || typeof list.all !== 'function') continue;
        for (const parser of list.all()) {
          const ts = parser?.socket;
          if (ts instanceof tls.TLSSocket && conns.has(canonical(ts))) add(ts, null, false);
        }
      } catch (e) {
        fail('https server connections', e);
      }
    }

    // --- shape: counts, groups, top N ---
    const inc = (rec: Record<string, number>, k: string): void => {
      rec[k] = (rec[k] ?? 0) + 1;
    };
    const groups = new Map<string, RawSocketGroup>();
    type Row = { e: Entry; pending: number; unread: number; bytes: number; bRead: number | null; bWritten: number | null; direction: 'client' | 'server' | null; isTls: boolean; state: string };
    // the top N, kept sorted while walking: no row object nor sort for the other thousands
    const rows: Row[] = [];
    const beats = (pending: number, bytes: number, r: Row): boolean => pending > r.pending || (pending === r.pending && bytes > r.bytes);
    const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    for (const e of conns.values()) {
      try {
        const s = e.sock;
        const state = s.destroyed ? 'destroyed' : s.connecting ? 'connecting' : String(s.readyState ?? 'unknown');
        inc(out.byState, state);
        if (s.destroyed) continue;
        const srv = s.server ?? s._server;
        // a socket no server accepted was connected from here
        const direction: 'client' | 'server' = srv ? 'server' : 'client';
        const isTls = !!e.tls || s.encrypted === true || s instanceof tls.TLSSocket || (!!srv && srv instanceof tls.Server);
        const pending = (n(s.writableLength) ?? 0) + (e.tls && e.tls !== s ? (n(e.tls.writableLength) ?? 0) : 0);
        const unread = (n(s.readableLength) ?? 0) + (e.tls && e.tls !== s ? (n(e.tls.readableLength) ?? 0) : 0);
        // application bytes, as the TLS socket counts them, when nodetop holds it; else the wire
        const b = e.tls ?? s;
        const bRead = n(b.bytesRead) ?? n(s.bytesRead);
        const bWritten = n(b.bytesWritten) ?? n(s.bytesWritten);
        const bytes = (bRead ?? 0) + (bWritten ?? 0);
        out.total++;
        inc(out.byKind, isTls ? 'tls' : 'tcp');
        inc(out.byDirection, direction ?? 'unknown');
        if (e.idle) out.idle++;
        const key = direction === 'server' ? hp(s.localAddress, s.localPort) : hp(s.remoteAddress ?? s._host, s.remotePort);
        const gk = `${direction ?? ''}|${key}`;
        let g = groups.get(gk);
        if (!g) {
          g = { direction, key, count: 0, tls: 0, idle: 0, bytesRead: 0, bytesWritten: 0, pendingWriteBytes: 0, pendingReadBytes: 0, byPool: {} };
          groups.set(gk, g);
        }
        g.count++;
        inc(g.byPool, e.pool ?? '');
        if (isTls) g.tls++;
        if (e.idle) g.idle++;
        g.bytesRead += bRead ?? 0;
        g.bytesWritten += bWritten ?? 0;
        g.pendingWriteBytes += pending;
        g.pendingReadBytes += unread;
        if (top > 0 && (rows.length < top || beats(pending, bytes, rows[rows.length - 1]!))) {
          let i = rows.length;
          while (i > 0 && beats(pending, bytes, rows[i - 1]!)) i--;
          rows.splice(i, 0, { e, pending, unread, bytes, bRead, bWritten, direction, isTls, state });
          if (rows.length > top) rows.pop();
        }
      } catch (err) {
        fail('socket', err);
      }
    }
    out.groupsTotal = groups.size;
    out.groups = [...groups.values()].sort((a, b) => b.count - a.count || b.pendingWriteBytes - a.pendingWriteBytes).slice(0, maxGroups);
    for (const r of rows) {
      try {
        const s = r.e.sock;
        const t = r.e.tls;
        let tlsInfo: RawTls | null = null;
        if (r.isTls) {
          tlsInfo = { protocol: null, cipher: null, servername: null, authorized: null, sessionReused: null };
          if (t) {
            const call = (f: () => unknown): unknown => {
              try {
                return f();
              } catch {
                return null;
              }
            };
            const p = call(() => t.getProtocol());
            tlsInfo.protocol = typeof p === 'string' ? p : null;
            const c = call(() => t.getCipher()) as { name?: unknown } | null;
            tlsInfo.cipher = c && typeof c.name === 'string' ? c.name : null;
            tlsInfo.servername = typeof t.servername === 'string' ? t.servername : null;
            tlsInfo.authorized = typeof t.authorized === 'boolean' ? t.authorized : null;
            const reused = call(() => t.isSessionReused());
            tlsInfo.sessionReused = typeof reused === 'boolean' ? reused : null;
          }
        }
        out.top.push({
          kind: r.isTls ? 'tls' : 'tcp',
          direction: r.direction,
          state: r.state,
          localAddress: s.localAddress ?? null,
          localPort: n(s.localPort),
          remoteAddress: s.remoteAddress ?? null,
          remotePort: n(s.remotePort),
          bytesRead: r.bRead,
          bytesWritten: r.bWritten,
          pendingWriteBytes: r.pending,
          pendingReadBytes: r.unread,
          ageMs: null,
          pool: r.e.pool,
          idle: r.e.idle,
          tls: tlsInfo,
        });
      } catch (err) {
        fail('top socket', err);
      }
    }
    out.probeMs = (perf ? perf.now() : Date.now()) - t0;
    return out;
    /* eslint-enable @typescript-eslint/no-explicit-any */
  },
);
