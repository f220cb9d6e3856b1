import { defineProbe } from './probe';

export interface NetArg {
  /** How many sockets come back one by one (the rest only in counts and groups). */
  top: number;
  /** How many remote groups come back (largest first); the rest are summed into `groupsOmitted`. */
  groups: number;
}

/**
 * What nodetop found by protocol and hands to the probe: an explicit census (Runtime.queryObjects)
 * or undici dispatchers reached through their clients' listeners (src/inspector/census.ts).
 */
export interface NetCensus {
  /** net, tls, http, https: callFunctionOn has no `require`. */
  modules: { net: unknown; tls: unknown; http: unknown; https: unknown };
  /** Every object in the heap whose prototype chain holds net.Socket.prototype. */
  sockets: unknown[];
  /** Every object in the heap whose prototype chain holds http.Agent.prototype. */
  agents: unknown[];
  /** undici dispatchers (Agent, Pool, BalancedPool, Client) the program holds where no property leads. */
  dispatchers?: unknown[];
  /** false: only `dispatchers` was looked for (no heap walk); sockets and agents are empty. */
  census?: boolean;
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
  /** fetch: undici's global dispatcher (what fetch uses); undici: any other undici dispatcher. */
  kind: 'http.Agent' | 'fetch' | 'undici';
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
  /**
   * undici clients found from their sockets whose Pool or Agent was not reached (it is held in a
   * closure): nodetop then looks for it through the clients' listeners and reads again.
   */
  undiciUnowned: number;
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
      undiciUnowned: 0,
      poolsOmitted: { pools: 0, origins: 0 },
      found: { handles: 0, agents: 0, fetch: 0, census: census && census.census !== false ? 0 : null },
      census: !!census && census.census !== false,
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
    if (census && census.census !== false) {
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

    // --- undici (npm 5, 6, 7 and the copy bundled for fetch): fetch's global dispatcher, the
    // dispatchers nodetop handed in, and clients found from their sockets. Read by the symbols'
    // descriptions (each undici copy has its own symbols): an Agent keeps Map<origin, Pool|Client>
    // (5: WeakRefs; 7: {count, dispatcher}); a Pool and a BalancedPool keep an array (of Clients;
    // of Pools); a Client holds one socket, which points back to it ('client'). ---
    try {
      const sym = (o: any, n: string): symbol | undefined =>
        o && typeof o === 'object' ? Object.getOwnPropertySymbols(o).find((x) => x.description === n) : undefined;
      const protoSym = (o: any, n: string): symbol | undefined => {
        for (let p = o && Object.getPrototypeOf(o), i = 0; p && i < 6; p = Object.getPrototypeOf(p), i++) {
          const x = Object.getOwnPropertySymbols(p).find((y) => y.description === n);
          if (x) return x;
        }
        return undefined;
      };
      const get = (o: any, n: string): any => {
        const k = sym(o, n) ?? protoSym(o, n);
        return k ? o[k] : undefined;
      };
      const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
      const isClient = (c: any): boolean => !!c && typeof c === 'object' && !!sym(c, 'url') && !Array.isArray(get(c, 'clients')) && !(get(c, 'clients') instanceof Map);
      const seen = new Set<any>();
      const seenClients = new Set<any>();
      const originOf = (d: any): string => {
        const u = get(d, 'url');
        return u && typeof u.origin === 'string' ? u.origin : '?';
      };
      // one Client: its counters, its socket into the pool's sockets
      const readClient = (c: any, poolName: string, sockets: any[]): { connected: number; free: number; pending: number; running: number; size: number } => {
        seenClients.add(c);
        const connected = get(c, 'connected') ? 1 : 0;
        const pending = num(get(c, 'pending')) ?? 0;
        const running = num(get(c, 'running')) ?? 0;
        const busy = !!get(c, 'busy');
        const sock = get(c, 'socket');
        // a connected client with nothing running or pending idles in the pool (unref'd)
        if (sock && add(sock, poolName, connected === 1 && pending + running === 0)) {
          out.found.fetch++;
          sockets.push(sock);
        }
        return { connected, free: connected && !busy ? 1 : 0, pending, running, size: num(get(c, 'size')) ?? pending + running };
      };
      const row = (origin: string, key: string): RawPoolOrigin => ({
        origin,
        endpoint: null,
        servername: null,
        key,
        inUse: null,
        free: null,
        queued: null,
        connected: null,
        pending: null,
        running: null,
        size: null,
      });
      // the rows of one Pool, BalancedPool or Client (an Agent's member, or standing alone)
      const rowsOf = (d: any, key: string, poolName: string, notes: Set<string>): RawPoolOrigin[] => {
        seen.add(d);
        const list = get(d, 'clients');
        if (Array.isArray(list) && list.length > 0 && list.every((x: any) => Array.isArray(get(x, 'clients')))) {
          // a BalancedPool: one row per upstream Pool
          const rows: RawPoolOrigin[] = [];
          for (const sub of list) rows.push(...rowsOf(sub, originOf(sub), poolName, notes));
          // its own queue (requests no upstream took yet) is no upstream's: a row of its own
          const q = num(get(d, 'queued'));
          if (q) rows.push({ ...row(`(balanced over ${list.length} upstreams)`, 'queue'), queued: q, pending: q });
          return rows;
        }
        const r = row(originOf(d) !== '?' ? originOf(d) : key, key);
        const sockets: any[] = [];
        if (Array.isArray(list)) {
          // a Pool: its own stats (what dispatcher.stats says), else its counter getters
          for (const c of list) readClient(c, poolName, sockets);
          const st = d.stats;
          const from = st && typeof st === 'object' && num(st.connected) !== null ? st : null;
          r.connected = num(from ? from.connected : get(d, 'connected'));
          r.free = num(from ? from.free : get(d, 'free'));
          r.pending = num(from ? from.pending : get(d, 'pending'));
          r.queued = num(from ? from.queued : get(d, 'queued'));
          r.running = num(from ? from.running : get(d, 'running'));
          r.size = num(from ? from.size : get(d, 'size'));
          if (r.queued === null) notes.add('queued not exposed by this undici');
        } else if (isClient(d)) {
          const c = readClient(d, poolName, sockets);
          r.connected = c.connected;
          r.free = c.free;
          r.pending = c.pending;
          r.running = c.running;
          r.size = c.size;
          // a Client has no queue of its own but its pending requests: they wait for its one socket
          r.queued = c.pending;
        } else notes.add('this undici exposes neither stats nor client counters');
        if (r.connected !== null && r.free !== null) r.inUse = Math.max(0, r.connected - r.free);
        r.endpoint = endpointOfSockets(sockets);
        return [r];
      };
      const limitOf = (d: any): number | null => {
        const list = get(d, 'clients');
        if (Array.isArray(list)) return num(get(d, 'connections'));
        return isClient(d) ? 1 : null;
      };
      const readDispatcher = (d: any, name: string, kind: 'fetch' | 'undici'): void => {
        // a Client a Pool already counted (the census hands in every dispatcher in the heap)
        if (!d || typeof d !== 'object' || seen.has(d) || seenClients.has(d)) return;
        const pool: RawPool = {
          kind,
          name,
          protocol: null,
          maxSockets: null,
          maxFreeSockets: null,
          maxTotalSockets: null,
          keepAlive: true,
          origins: [],
          note: null,
        };
        const notes = new Set<string>();
        const list = get(d, 'clients');
        // what its sockets' byPool says: "fetch" for fetch's (as before), else the pool's name
        const tag = kind === 'fetch' ? 'fetch' : name;
        if (list instanceof Map) {
          seen.add(d);
          const opts = get(d, 'options') || {};
          pool.maxSockets = num(opts.connections);
          for (const [key, v] of list as Map<string, any>) {
            const sub = v && typeof v.deref === 'function' ? v.deref() : v && typeof v === 'object' && 'dispatcher' in v ? v.dispatcher : v;
            if (!sub || typeof sub !== 'object') continue;
            if (pool.maxSockets === null && isClient(sub)) pool.maxSockets = 1;
            pool.origins.push(...rowsOf(sub, String(key), tag, notes));
          }
        } else {
          pool.maxSockets = limitOf(d);
          pool.origins.push(...rowsOf(d, originOf(d), tag, notes));
        }
        if (notes.size) pool.note = [...notes].join('; ');
        out.pools.push(pool);
      };
      const ctor = (d: any): string => String(d?.constructor?.name ?? 'dispatcher');

      // undici 8 (Node 26) keeps the dispatcher under .2 and a compatibility wrapper under .1
      const g2 = (globalThis as any)[Symbol.for('undici.globalDispatcher.2')];
      const g1 = (globalThis as any)[Symbol.for('undici.globalDispatcher.1')];
      const gd = g2 && typeof g2 === 'object' ? g2 : g1;
      if (!gd || typeof gd !== 'object') {
        out.fetch.note = 'no global fetch dispatcher: fetch has not been used in this process (or this Node has none)';
      } else {
        out.fetch.present = true;
        readDispatcher(gd, `fetch (undici ${ctor(gd)})`, 'fetch');
        // an older undici's setGlobalDispatcher (npm) beside a newer Node's: both are read
        if (g1 && typeof g1 === 'object' && g1 !== gd && sym(g1, 'clients')) readDispatcher(g1, `undici global dispatcher 1 (${ctor(g1)})`, 'undici');
      }
      // handed in: Agents first (their Pools and Clients are theirs), then BalancedPools, Pools, Clients
      const rank = (d: any): number => {
        const l = get(d, 'clients');
        return l instanceof Map ? 0 : Array.isArray(l) ? (l.length > 0 && Array.isArray(get(l[0], 'clients')) ? 1 : 2) : 3;
      };
      const handed = (census?.dispatchers ?? []).filter((d: any) => !!d && typeof d === 'object' && (sym(d, 'url') !== undefined || sym(d, 'clients') !== undefined));
      handed.sort((a, b) => rank(a) - rank(b));
      const seq: Record<string, number> = {};
      for (const d of handed) {
        if (seen.has(d) || seenClients.has(d)) continue; // numbered only when listed
        const c = ctor(d);
        readDispatcher(d, `undici ${c}#${(seq[c] = (seq[c] ?? 0) + 1)}`, 'undici');
      }
      // clients found from their sockets whose dispatcher was not reached: their own rows, under
      // one pool named for what is missing (nodetop then looks for the owners and reads again)
      const orphans: any[] = [];
      let standalone = 0;
      for (const e of conns.values()) {
        const c = get(e.sock, 'client');
        if (!c || typeof c !== 'object' || !isClient(c) || seenClients.has(c) || get(c, 'socket') !== e.sock) continue;
        // nothing listens for its 'drain': no Pool or Agent made it, the program uses it directly
        const drain = c._events?.drain;
        if (!drain || (Array.isArray(drain) && drain.length === 0)) readDispatcher(c, `undici Client#${++standalone}`, 'undici');
        else orphans.push(c);
      }
      if (orphans.length) {
        out.undiciUnowned = orphans.length;
        const name = 'undici (its Pool or Agent not reached)';
        const pool: RawPool = {
          kind: 'undici',
          name,
          protocol: null,
          maxSockets: null,
          maxFreeSockets: null,
          maxTotalSockets: null,
          keepAlive: true,
          origins: [],
          note: 'these clients belong to a Pool or Agent nodetop did not reach: its queued requests are not counted (--census finds it)',
        };
        const byOrigin = new Map<string, RawPoolOrigin & { socks: any[] }>();
        for (const c of orphans) {
          const o = originOf(c);
          let r = byOrigin.get(o);
          if (!r) byOrigin.set(o, (r = { ...row(o, o), connected: 0, free: 0, pending: 0, running: 0, size: 0, socks: [] }));
          const x = readClient(c, name, r.socks);
          r.connected! += x.connected;
          r.free! += x.free;
          r.pending! += x.pending;
          r.running! += x.running;
          r.size! += x.size;
        }
        for (const r of byOrigin.values()) {
          const { socks, ...rest } = r;
          rest.inUse = Math.max(0, rest.connected! - rest.free!);
          rest.endpoint = endpointOfSockets(socks);
          pool.origins.push(rest);
        }
        out.pools.push(pool);
      }
    } catch (e) {
      fail('undici', e);
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
        // a WebSocket's connection (ws marks its socket with a 'websocket' symbol) is no HTTP
        // pool's by design: it is counted apart, not as a socket no pool owns
        const ws = !e.pool && Object.getOwnPropertySymbols(s).some((x) => x.description === 'websocket');
        inc(g.byPool, e.pool ?? (ws ? '(WebSocket)' : ''));
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
