// The Sample: what every sink shows (human text, JSON, NDJSON, Prometheus, the TUI). Pure: built
// from raw readings (the target's, /proc's, the host's) with no I/O, so it is unit-tested on
// odd inputs. Field names carry their units. `schema` changes only when a field changes meaning.
//
// A missing reading is null, never 0: a gap in a series, not a drop.

import type { Identity } from '../probes/identity';
import type { RawNet } from '../probes/net';
import type { RawLag, RawSample } from '../probes/sample';
import type { Connection } from '../platform/proc';
import { buildNet, type HttpPool, type Sockets } from './net';
import { notAReading, reading } from './readings';

export const SCHEMA = 1;

/** The inspector nodetop is attached through. */
export interface InspectorInfo {
  url: string;
  openedByNodetop: boolean;
  /**
   * Where else it listens, read from the kernel (/proc/<pid>/net/tcp{,6}): addresses off
   * loopback ("0.0.0.0:9229"), where anyone who reaches the host can run code in the target.
   * [] when it listens on loopback only; null when nodetop cannot tell (not a local process).
   */
  exposedOn: string[] | null;
}

export interface LagMs {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  min: number;
}

export interface GcKind {
  count: number;
  pauseMs: number;
}

export interface Sample {
  schema: typeof SCHEMA;
  time: string;
  target: {
    pid: number;
    title: string;
    argv: string[];
    execPath: string;
    nodeVersion: string;
    v8Version: string;
    uptimeSec: number;
    inspector: InspectorInfo;
    /** set for its death (nodetop arm, or its command line); outlives nodetop */
    armed: { oomSnapshot: 'nodetop' | 'flag' | null; reportOnFatalError: boolean } | null;
  };
  /** Every size and count below is null when the target's figure was not one (see model/readings.ts). */
  process: {
    rssBytes: number | null;
    cpuPercent: number | null;
    cpuUserPercent: number | null;
    cpuSystemPercent: number | null;
    fds: { open: number | null; limit: number | null };
    threads: number | null;
    /**
     * What nodetop adds to the target while attached, left out of fds.open and threads: the
     * inspector's fds and io thread when nodetop opened it, its connection; null when not known.
     */
    nodetop: { fds: number; threads: number } | null;
  };
  memory: {
    heapUsedBytes: number | null;
    heapTotalBytes: number | null;
    heapLimitBytes: number | null;
    externalBytes: number | null;
    arrayBuffersBytes: number | null;
    mallocedBytes: number | null;
    nativeContexts: number | null;
    detachedContexts: number | null;
    spaces: Array<{ name: string; sizeBytes: number | null; usedBytes: number | null; availableBytes: number | null }>;
  };
  gc: null | {
    count: number;
    pauseMs: number;
    byKind: Record<'minor' | 'major' | 'incremental' | 'weakcb', GcKind> & Record<string, GcKind>;
  };
  eventLoop: {
    windowMs: number | null;
    lagMs: LagMs | null;
    utilization: number | null;
    blocked: null | { forMs: number; stack: string[] };
  };
  /** Null when the target's Node cannot list them (`unavailable.handles` says why). */
  handles: null | { total: number; byType: Record<string, number> };
  requests: null | { total: number; byType: Record<string, number> };
  /** TCP/TLS connections of the main thread, grouped in the target (src/model/net.ts); null: not read. */
  sockets: Sockets | null;
  /** http.Agent pools and the fetch dispatcher, per origin; null: not read. */
  httpPools: HttpPool[] | null;
  host: null | {
    cpus: number;
    loadAvg: [number, number, number];
    memTotalBytes: number;
    memAvailableBytes: number;
  };
  /** Every worker thread (nested ones too), in threadId order; null when workers were not looked at. */
  workers: WorkerRow[] | null;
  /**
   * The parts of this sample that the target's Node does not provide, each with the reason
   * (field path -> sentence), e.g. {"handles": "process.getActiveResourcesInfo() is missing:
   * added in Node 17.3 and 16.14"}. Those fields are null. Empty on every supported Node.
   */
  unavailable: Record<string, string>;
}

/**
 * One worker thread. `state`: `running` (readings are from this sample), `gone` (it exited
 * during the window, or while nodetop asked: readings null), `not-responding` (it did not
 * answer in time: blocked outside JavaScript), `failed` (the probe failed in it: `error`).
 */
export interface WorkerRow {
  threadId: number | null;
  name: string;
  title: string;
  state: 'running' | 'gone' | 'not-responding' | 'failed';
  error: string | null;
  heapUsedBytes: number | null;
  heapTotalBytes: number | null;
  heapLimitBytes: number | null;
  externalBytes: number | null;
  arrayBuffersBytes: number | null;
  eventLoop: {
    windowMs: number | null;
    lagMs: LagMs | null;
    utilization: number | null;
    blocked: null | { forMs: number; stack: string[] };
    /**
     * Waiting in Atomics.wait rather than blocked: a pool worker (piscina, tinypool) between
     * tasks. Its loop does not turn meanwhile, so its utilization reads 1.00: cpuPercent says
     * what it does.
     */
    waiting?: null | { in: 'Atomics.wait'; forMs: number };
  };
  gc: Sample['gc'];
  handles: { total: number; byType: Record<string, number> } | null;
  /**
   * The worker thread's own CPU between its last two readings, % of one core (its OS thread's
   * utime + stime in /proc); null for a remote target, or before a second reading. Where the
   * utilization reads 1.00 for a worker idle in Atomics.wait (piscina), this tells work from wait.
   */
  cpuPercent: number | null;
  /**
   * When these readings were taken (ISO time). The sample's own time when the worker was read
   * for it; older when the reads were rationed (many workers are read together every few ticks).
   */
  readAt: string;
}

export interface WorkerReading {
  threadId: number | null;
  name: string;
  title: string;
  state: WorkerRow['state'];
  error?: string | null;
  prev: RawSample | null;
  raw: RawSample | null;
  /** The thread's CPU time (ms) and when it was read (epoch ms), now and at the reading before; null when not read. */
  cpu?: { ms: number; at: number } | null;
  prevCpu?: { ms: number; at: number } | null;
  /** When this reading was taken (ISO time). */
  readAt: string;
}

/** % of one core between two readings of a thread's CPU time; null without both or without time between them. */
export function threadCpuPercent(prev: { ms: number; at: number } | null | undefined, now: { ms: number; at: number } | null | undefined): number | null {
  if (!prev || !now || !(now.at > prev.at) || now.ms < prev.ms) return null;
  return ((now.ms - prev.ms) / (now.at - prev.at)) * 100;
}

/**
 * A worker whose loop has not turned, stopped in Atomics.wait: how piscina and tinypool workers
 * wait for their next task (measured: piscina 5 showed "BLOCKED ... at Atomics.wait" on every idle
 * worker, and the live view logged each as a blocked episode).
 */
function inAtomicsWait(stack: readonly string[]): boolean {
  return /^(at )?Atomics\.wait\b/.test(stack[0] ?? '');
}

/** A worker's row from two readings of the sample probe in its isolate (pure). */
export function buildWorkerRow(r: WorkerReading): WorkerRow {
  const raw = r.state === 'running' ? r.raw : null;
  const w = raw?.window ?? null;
  return {
    threadId: r.threadId,
    name: r.name,
    title: r.title,
    state: r.state,
    error: r.error ?? null,
    heapUsedBytes: raw ? raw.memory.heapUsed : null,
    heapTotalBytes: raw ? raw.memory.heapTotal : null,
    heapLimitBytes: raw ? raw.heap.heapSizeLimit : null,
    externalBytes: raw ? raw.memory.external : null,
    arrayBuffersBytes: raw ? raw.memory.arrayBuffers : null,
    eventLoop: {
      windowMs: w ? w.ms : null,
      lagMs: w?.lag ? lagFromHistogram(w.lag, w.resolutionMs) : null,
      utilization: w?.elu && Number.isFinite(w.elu.utilization) ? w.elu.utilization : null,
      blocked: raw?.blocked && !inAtomicsWait(raw.blocked.stack) ? raw.blocked : null,
      waiting: raw?.blocked && inAtomicsWait(raw.blocked.stack) ? { in: 'Atomics.wait', forMs: raw.blocked.forMs } : null,
    },
    gc: w?.gc ? gcDelta(r.prev?.window?.gc ?? null, w.gc) : null,
    handles: raw?.handles ? { total: sum(raw.handles), byType: raw.handles } : null,
    cpuPercent: r.state === 'running' ? threadCpuPercent(r.prevCpu, r.cpu) : null,
    readAt: r.readAt,
  };
}

export interface ProcReading {
  /** Less nodetop's share (`nodetop`). */
  fdsOpen: number | null;
  fdsLimit: number | null;
  threads: number | null;
  nodetop: { fds: number; threads: number } | null;
}

export interface HostReading {
  cpus: number;
  loadAvg: [number, number, number];
  memTotalBytes: number;
  memAvailableBytes: number;
}

const NS_PER_MS = 1e6;

/** Histogram nanoseconds -> lag in ms: the histogram records whole timer intervals, so take off
 * the resolution it was sampling at. Null when the window held no complete interval. */
export function lagFromHistogram(h: RawLag | undefined, resolutionMs: number): LagMs | null {
  const ok = (v: number): boolean => Number.isFinite(v) && v >= 0 && v < 9e15;
  if (!h || h.count === 0 || !ok(h.max) || !ok(h.min) || h.max === 0) return null;
  const res = reading(resolutionMs) ?? 0; // the timer's period: a negative one would add lag
  const ms = (v: number): number => (ok(v) ? Math.max(0, v / NS_PER_MS - res) : 0);
  return { p50: ms(h.p50), p90: ms(h.p90), p99: ms(h.p99), max: ms(h.max), mean: ms(h.mean), min: ms(h.min) };
}

const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'] as const;

/** GC during the window: the difference of two cumulative readings. */
export function gcDelta(
  prev: Record<string, { count: number; ms: number }> | null,
  cur: Record<string, { count: number; ms: number }>,
): NonNullable<Sample['gc']> {
  const byKind = {} as NonNullable<Sample['gc']>['byKind'];
  let count = 0;
  let pauseMs = 0;
  const kinds = new Set<string>([...GC_KINDS, ...Object.keys(cur ?? {})]);
  // a reading from an odd or old target may lack a kind or a field: a missing counter counts 0
  const read = (r: { count?: unknown; ms?: unknown } | undefined): { count: number; ms: number } => ({
    count: finite(r?.count) ?? 0,
    ms: finite(r?.ms) ?? 0,
  });
  for (const k of kinds) {
    const c = read(cur?.[k]);
    const p = read(prev?.[k]);
    // a counter that went down was reset (the instruments were reinstalled): start over
    const dc = c.count >= p.count ? c.count - p.count : c.count;
    const dm = c.count >= p.count ? c.ms - p.ms : c.ms;
    byKind[k] = { count: dc, pauseMs: Math.max(0, dm) };
    count += dc;
    pauseMs += Math.max(0, dm);
  }
  return { count, pauseMs, byKind };
}

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** CPU % of one core over the interval between two process.cpuUsage() readings. */
export function cpuPercent(prevMicros: number, curMicros: number, wallMs: number): number | null {
  if (!(wallMs > 0) || !(curMicros >= prevMicros)) return null; // NaN too
  return ((curMicros - prevMicros) / 1000 / wallMs) * 100;
}

function sum(rec: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(rec)) n += v;
  return n;
}

/** The target's clock as ISO text; nodetop's own clock when the target's reading is unusable. */
function isoTime(ms: number): string {
  const d = new Date(Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : Date.now());
  return d.toISOString();
}

export interface BuildInput {
  identity: Identity;
  /** exposedOn absent: unknown (null). */
  inspector: Omit<InspectorInfo, 'exposedOn'> & { exposedOn?: string[] | null };
  prev: RawSample | null;
  raw: RawSample;
  proc: ProcReading | null;
  host: HostReading | null;
  /** The net probe's reading, when the sample asked for it. */
  net?: RawNet | null;
  /** The kernel's TCP connections of the process (local targets), to count what JavaScript misses. */
  kernel?: { connections: Connection[]; inspectorPort: number | null } | null;
  workers?: WorkerReading[] | null;
}

export function buildSample({ identity, inspector, prev, raw, proc, host, net, workers, kernel }: BuildInput): Sample {
  const netView = net ? buildNet(net, kernel ?? null, raw.timeMs) : null;
  // every figure the target reports is checked: one that is not a size is null, with the reason
  const invalid: Record<string, string> = {};
  const size = (path: string, v: unknown): number | null => {
    const why = notAReading(v);
    if (why === null) return v as number;
    invalid[path] = `invalid: the target reported ${why}`;
    return null;
  };
  const count = (path: string, v: unknown): number | null => {
    const n = size(path, v);
    if (n === null || Number.isInteger(n)) return n;
    invalid[path] = `invalid: the target reported ${n}, not a whole number`;
    return null;
  };
  const ratio = (path: string, v: unknown): number | null => {
    const n = size(path, v);
    if (n === null || n <= 1) return n;
    invalid[path] = `invalid: the target reported ${n}, over 1`;
    return null;
  };
  // cumulative GC counters: one that is not a count makes the window's GC unknown (null)
  const gcReadings = (path: string, rec: Record<string, { count: number; ms: number }>): boolean => {
    for (const [k, v] of Object.entries(rec ?? {})) {
      // an absent field counts 0 (gcDelta); a present one must be a count
      const why = (v?.count !== undefined ? notAReading(v.count) : null) ?? (v?.ms !== undefined ? notAReading(v.ms) : null);
      if (why !== null) {
        invalid[path] = `invalid: the target reported ${why} for ${k}`;
        return false;
      }
    }
    return true;
  };
  const counts = (path: string, rec: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(rec)) {
      const n = count(`${path}.${k}`, v);
      if (n !== null) out[k] = n;
    }
    return out;
  };
  const w = raw.window;
  const wallMs = prev ? raw.timeMs - prev.timeMs : null;
  const cpu = (pick: (c: RawSample['cpuUsageMicros']) => number): number | null =>
    prev && wallMs !== null ? cpuPercent(reading(pick(prev.cpuUsageMicros)) ?? NaN, reading(pick(raw.cpuUsageMicros)) ?? NaN, wallMs) : null;
  return {
    schema: SCHEMA,
    time: isoTime(raw.timeMs),
    target: {
      pid: raw.pid,
      title: identity.title,
      argv: identity.argv,
      execPath: identity.execPath,
      nodeVersion: identity.nodeVersion,
      v8Version: identity.v8Version,
      uptimeSec: size('target.uptimeSec', raw.uptimeSec) ?? 0,
      inspector: { url: inspector.url, openedByNodetop: inspector.openedByNodetop, exposedOn: inspector.exposedOn ?? null },
      armed: identity.armed ?? null,
    },
    process: {
      rssBytes: size('process.rssBytes', raw.memory.rss),
      cpuPercent: cpu((c) => c.user + c.system),
      cpuUserPercent: cpu((c) => c.user),
      cpuSystemPercent: cpu((c) => c.system),
      fds: {
        open: proc?.fdsOpen ?? (raw.fds?.open != null ? count('process.fds.open', raw.fds.open) : null),
        limit: proc?.fdsLimit ?? (raw.fds?.limit != null ? count('process.fds.limit', raw.fds.limit) : null),
      },
      threads: proc?.threads ?? null,
      nodetop: proc?.nodetop ?? null,
    },
    memory: {
      heapUsedBytes: size('memory.heapUsedBytes', raw.memory.heapUsed),
      heapTotalBytes: size('memory.heapTotalBytes', raw.memory.heapTotal),
      heapLimitBytes: size('memory.heapLimitBytes', raw.heap.heapSizeLimit),
      externalBytes: size('memory.externalBytes', raw.memory.external),
      arrayBuffersBytes: size('memory.arrayBuffersBytes', raw.memory.arrayBuffers),
      mallocedBytes: size('memory.mallocedBytes', raw.heap.mallocedMemory),
      nativeContexts: count('memory.nativeContexts', raw.heap.numberOfNativeContexts),
      detachedContexts: count('memory.detachedContexts', raw.heap.numberOfDetachedContexts),
      spaces: raw.spaces.map((s, i) => ({
        name: String(s.name),
        sizeBytes: size(`memory.spaces.${i}.sizeBytes`, s.size),
        usedBytes: size(`memory.spaces.${i}.usedBytes`, s.used),
        availableBytes: size(`memory.spaces.${i}.availableBytes`, s.available),
      })),
    },
    gc: w?.gc && gcReadings('gc', w.gc) && (!prev?.window?.gc || gcReadings('gc', prev.window.gc)) ? gcDelta(prev?.window?.gc ?? null, w.gc) : null,
    eventLoop: {
      windowMs: w && w.ms != null ? size('eventLoop.windowMs', w.ms) : null,
      lagMs: w?.lag ? lagFromHistogram(w.lag, w.resolutionMs) : null,
      // a share of the window's time: 0 to 1
      utilization: w?.elu && w.elu.utilization != null ? ratio('eventLoop.utilization', w.elu.utilization) : null,
      blocked: raw.blocked && Array.isArray(raw.blocked.stack) ? { forMs: size('eventLoop.blocked.forMs', raw.blocked.forMs) ?? 0, stack: raw.blocked.stack.map(String) } : null,
    },
    handles: raw.handles ? withTotal(counts('handles.byType', raw.handles)) : null,
    requests: raw.requests ? withTotal(counts('requests.byType', raw.requests)) : null,
    sockets: netView ? netView.sockets : null,
    httpPools: netView ? netView.httpPools : null,
    host,
    workers: workers ? workers.map(buildWorkerRow) : null,
    // an older nodetop's probe (a lingering session) may not send it
    unavailable: { ...(raw.unavailable ?? {}), ...invalid },
  };
}

/**
 * Connections, as `stats` counts them (`sockets.total`): the socket walk when the sample has it,
 * else the ref'd TCP connections of the handle list. A listening server (`TCPServerWrap`) is not
 * a connection, and UDP is not counted by `stats` either: watch said SOCKETS 1 for a server with
 * no client where stats said 0.
 */
export function socketCount(s: Sample): number | null {
  if (s.sockets) return s.sockets.total;
  if (!s.handles) return null;
  return s.handles.byType.TCPSocketWrap ?? 0;
}

function withTotal(byType: Record<string, number>): { total: number; byType: Record<string, number> } {
  return { total: sum(byType), byType };
}
