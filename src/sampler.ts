// One sampler for every command (stats, watch, export, the TUI): one round trip to the target
// per tick, /proc and the host read from outside, and a Sample built by the pure model. A
// command decides when to tick; the sampler decides nothing about output.

import * as os from 'node:os';
import { ExitCode, NodetopError } from './errors';
import { explainCallFailure, type Attachment } from './inspector/attach';
import { evaluate, ProbeFailedError } from './inspector/session';
import type { Footprint } from './model/footprint';
import { heldNow } from './platform/footprint';
import { buildSample, type HostReading, type ProcReading, type Sample, type WorkerReading } from './model/sample';
import * as proc from './platform/proc';
import { netCensus, netWithUndiciOwners } from './inspector/census';
import { composeProbes, partFailure } from './probes/probe';
import { netProbe, type NetArg, type RawNet } from './probes/net';
import { recordProbe, type RecordResult } from './probes/record';
import { sampleProbe, type RawLight, type RawSample, type SampleArg } from './probes/sample';
import { WorkerSampler } from './workerSampler';

/** The sample and the sockets/pools reading in one Runtime.evaluate. */
const tickProbe = composeProbes('sample', { sample: sampleProbe, net: netProbe });
/** The same without the socket walk's source: V8 compiles the function text it is sent, so a
 * tick that does not walk sockets does not send (and compile) 22 KB it will not run. */
const sampleOnlyProbe = composeProbes('sample', { sample: sampleProbe });

/** The share of one core of the target the socket walk may take, over time. */
export const NET_SHARE = 0.005;

/**
 * Worker threads read per second, on average, after the first reading of each. Reading all
 * 16 workers of a process cost it 10-20 ms of CPU (AMD EPYC VM, Node 20; most of it each worker
 * running the sample in its own cold isolate, the rest the main thread and the inspector thread
 * relaying), so a sample at 1 s that read them all would take
 * 1.2-2% of a core. At three a second, 16 workers are read together every 5-6 s, for 2-4 ms a
 * second, and the main thread's sample (about 1 ms) keeps the whole under 0.5% of a core.
 */
export const WORKER_READS_PER_S = 3;

/**
 * A target recording below a second (watch --interval 100ms) takes a full reading about this
 * often and light ones between (SampleArg.light). Timed in-process under load, 100 ms apart: a
 * full reading 0.34 ms of the target's thread (its RSS, heap spaces, handle list and lag
 * percentiles most of it), a light one 0.20.
 */
export const RECORD_FULL_EVERY_MS = 1000;

/** A reading the target recorded. `fullAt`: a light one, whose slower parts are the full reading's of that time (ms). */
export interface Recorded {
  sample: Sample;
  fullAt: number | null;
}

export interface SamplerOptions {
  /** A main thread whose heartbeat is older than this is reported as blocked, with its stack. */
  blockedAfterMs?: number;
  /** Sockets, TLS and HTTP pools in each sample (grouped in the target); null: not read. */
  net?: NetArg | null;
  /** Add a heap census of sockets and agents (Runtime.queryObjects: a full GC each). */
  census?: boolean;
  /** Also read every worker thread (NodeWorker domain, enabled while this sampler lives). */
  workers?: boolean;
  /** The walk's share of a core (default NET_SHARE); Infinity: walk whenever asked (bench). */
  netShare?: number;
  /** Worker reads a second (default WORKER_READS_PER_S); Infinity: every worker in every sample. */
  workerReadsPerS?: number;
  /** Also read what prom-client's default metrics have and nodetop does not otherwise need (export). */
  promCompat?: boolean;
}

export class Sampler {
  private prev: RawSample | null = null;
  /** The kernel's connections of the target, read again only when its sockets change (see readKernel). */
  private readonly kernelTables: { last: KernelCache | null } = { last: null };
  /** Why the last sample has no sockets although they were asked for (null: it has them, or none were asked). */
  lastNetError: string | null = null;
  /** Round trip of the last sample, ms: shown as nodetop's own cost. */
  lastRoundTripMs: number | null = null;
  private workerSampler: WorkerSampler | null = null;
  /** The next sample reads every worker, whatever the ration (it is still paid for). */
  private workersDue = false;
  /** Worker reads the ration allows now (grows with time between samples, up to one per worker). */
  private workerReads = 0;
  private workerReadsAt = 0;
  /**
   * Walk sockets and pools in the next samples. The live view turns it off on ticks where the
   * page does not show them: the walk is linear in sockets, the rest of a sample is not.
   */
  includeNet = true;
  /** The next sample that reads sockets runs the heap census instead (the live view's c key). */
  censusOnce = false;
  /**
   * The walk is rationed to NET_SHARE of a core of the target: after a walk that took w ms in
   * the target, the next one waits w / NET_SHARE ms (2 ms at 1,000 sockets: every tick at 1 s;
   * 20 ms at 10,000: every 4 s). The samples between have no sockets (the live view shows the
   * last walk, with its age).
   */
  private netNotBefore = 0;
  /** The last sample asked for sockets and the ration put the walk off. */
  netRationed = false;
  /** The target's own recorder runs (startRecording): collect() hands over its readings. */
  private recording: { everyMs: number } | null = null;
  /** Readings the recorder dropped, or whose sample failed, at the last collect (0: none). */
  lastRecordLoss = 0;
  /** The recorder's own time on the target's main thread, ms, summed over the collects so far (RecordResult.spentMs). */
  recordSpentMs = 0;
  /** The same for the samples read over the wire (`read`): the sample probe's and the socket walk's own time, ms, summed. */
  sampleSpentMs = 0;
  /** The last full reading: a light recorded one takes the parts it skips from it (fillLight). */
  private lastFull: RawSample | null = null;
  /**
   * While the target records, nodetop reads the target's RSS itself every interval (a local
   * target): [time ms, bytes], the newest last. A light reading takes the one nearest its time.
   */
  private rssTrail: Array<[number, number]> = [];
  private rssTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly att: Attachment,
    private opts: SamplerOptions = {},
  ) {}

  /** The raw reading behind the last sample (cumulative counters: CPU time, GC since attach). */
  get lastRaw(): RawSample | null {
    return this.prev;
  }

  /** Reads the target now. The first call only sets the baseline for rates. */
  async read(withNet = false): Promise<RawSample & { net: RawNet | null }> {
    const t0 = performance.now();
    const census = (this.opts.census === true || this.censusOnce) && withNet && this.includeNet;
    if (census) this.censusOnce = false;
    let net = withNet && this.includeNet && this.opts.net && !census ? this.opts.net : null;
    this.netRationed = net !== null && Date.now() < this.netNotBefore;
    if (this.netRationed) net = null;
    try {
      const sample = this.sampleArg();
      const r: { sample?: unknown; net?: unknown } = net
        ? await evaluate(this.att.session, tickProbe, { sample, net }, { keep: true })
        : await evaluate(this.att.session, sampleOnlyProbe, { sample }, { keep: true });
      this.lastRoundTripMs = performance.now() - t0;
      const part = r && typeof r === 'object' ? r.sample : undefined;
      const sampleFailed = partFailure(part);
      if (sampleFailed) throw new ProbeFailedError(`probe sample failed in the target: ${sampleFailed}`);
      checkRaw(part, this.att.pidInTarget);
      part.pid = this.att.pid; // a container's process says its own namespace's pid: report the host's
      // sockets are an extra: their failure is reported, the sample stands
      const netFailed = partFailure(r.net);
      this.lastNetError = netFailed ? `the socket walk failed in the target: ${netFailed}` : null;
      let rawNet = netFailed ? null : ((r.net as RawNet | undefined) ?? null);
      // undici clients whose Pool or Agent the walk did not reach (held in a closure): look for
      // it through the clients' listeners and read again (src/inspector/census.ts)
      if (net && rawNet && rawNet.undiciUnowned > 0) rawNet = (await netWithUndiciOwners(this.att.session, net).catch(() => null)) ?? rawNet;
      const spent = (part.spentMs ?? 0) + (rawNet?.probeMs ?? 0);
      if (Number.isFinite(spent) && spent > 0) this.sampleSpentMs += spent;
      if (rawNet && Number.isFinite(rawNet.probeMs)) this.netNotBefore = Date.now() + rawNet.probeMs / (this.opts.netShare ?? NET_SHARE);
      // the census replaces the net part of the tick: same probe, more sockets, more calls
      if (census && this.opts.net) rawNet = await this.census(this.opts.net);
      return { ...part, net: rawNet };
    } catch (e) {
      throw await explainCallFailure(e, this.att.pid, `pid ${this.att.pid}`);
    }
  }

  /** The census, or (when it fails in the target) the ordinary walk with the failure noted. */
  private async census(arg: NetArg): Promise<RawNet | null> {
    try {
      return await netCensus(this.att.session, arg);
    } catch (e) {
      if (!(e instanceof ProbeFailedError)) throw e;
      try {
        const r = await evaluate(this.att.session, netProbe, arg);
        r.errors.unshift(`census failed, sockets from the handle list and agents only: ${e.message}`);
        return r;
      } catch (e2) {
        if (!(e2 instanceof ProbeFailedError)) throw e2;
        this.lastNetError = `the socket walk failed in the target: ${e2.message}`;
        return null;
      }
    }
  }

  private async workersReady(): Promise<WorkerSampler | null> {
    if (!this.opts.workers) return null;
    if (!this.workerSampler) {
      try {
        this.workerSampler = await WorkerSampler.start(this.att);
      } catch (e) {
        // an inspector without the NodeWorker domain: no worker rows (null), not a failed sample
        if (e instanceof ProbeFailedError) {
          this.opts.workers = false;
          return null;
        }
        throw await explainCallFailure(e, this.att.pid, `pid ${this.att.pid}`);
      }
    }
    return this.workerSampler;
  }

  async sample(): Promise<Sample> {
    const ws = await this.workersReady();
    const [raw, workers] = await Promise.all([this.read(true), ws ? this.readWorkers(ws) : Promise.resolve(null)]);
    const sample = buildSample({
      net: raw.net,
      kernel: raw.net && this.att.local ? readKernel(this.att, this.kernelTables) : null,
      workers,
      identity: this.att.identity,
      inspector: this.att.inspector,
      prev: this.prev,
      raw,
      proc: this.att.local ? readProc(this.att.pid, this.att.nodetopShare) : null,
      host: this.att.local ? await readHost() : null,
    });
    this.prev = raw;
    this.lastFull = raw;
    return sample;
  }

  /**
   * The workers' part of a sample, within the ration of worker reads: every worker is read
   * together once the ration covers them all (16 workers: every 5-6 s), the samples between
   * repeat the last readings. One batch costs the target much less per worker than the same
   * reads spread over ticks (measured, 16 idle workers at 1 s: 4 reads every second cost 11-14 ms
   * a second, 16 reads every second 20-22 ms): a batch wakes the relaying threads once.
   */
  private async readWorkers(ws: WorkerSampler): Promise<WorkerReading[]> {
    const perS = this.opts.workerReadsPerS ?? WORKER_READS_PER_S;
    const now = performance.now();
    let everyWorker = true;
    if (perS !== Infinity) {
      this.workerReads = Math.min(ws.size, this.workerReads + ((now - this.workerReadsAt) / 1000) * perS);
      everyWorker = this.workerReads >= ws.size - 1e-9 || this.workersDue;
    }
    this.workersDue = false;
    this.workerReadsAt = now;
    const { readings, calls } = await ws.read(this.opts.blockedAfterMs ?? 750, true, everyWorker);
    // workers read for the first time are paid for too: the ration may go below zero
    if (perS !== Infinity) this.workerReads -= calls;
    return readings;
  }

  /**
   * Has the target take a reading every `everyMs` itself, kept until collect() (at most `cap`).
   * For intervals under a second: one round trip per collect instead of one per reading.
   */
  async startRecording(everyMs: number, cap: number): Promise<void> {
    // light readings are completed from the last full one
    if (!this.lastFull) throw new Error('startRecording() before baseline()');
    const r = await this.callRecorder({ op: 'start', key: this.att.key, everyMs, cap, fullEveryMs: RECORD_FULL_EVERY_MS, sample: this.sampleArg() });
    if (!r.running) throw new NodetopError(`pid ${this.att.pid} did not start recording: ${r.reason ?? 'unknown'}`, { exitCode: ExitCode.EndpointFailed });
    this.recording = { everyMs };
    if (this.att.local && !this.rssTimer) {
      // The RSS of a light reading, read by nodetop: a read of /proc/self/stat costs a target
      // woken from sleep 60-100 us (a light reading costs it ~200 in all); the same figure read
      // from outside costs the target nothing.
      const pid = this.att.pid;
      const keep = cap + 2;
      const readRss = (): void => {
        try {
          const rss = proc.readRssBytes(pid);
          if (rss === null) return;
          this.rssTrail.push([Date.now(), rss]);
          if (this.rssTrail.length > keep) this.rssTrail.shift();
        } catch {
          /* exited, or not ours to read: the light readings keep the full reading's RSS */
        }
      };
      readRss();
      this.rssTimer = setInterval(readRss, everyMs);
      this.rssTimer.unref();
      // detached (or the target gone): the reads stop with the session
      this.att.session.onClose(() => this.stopRssReads());
    }
  }

  /**
   * The target's readings since the last collect, oldest first, as samples (light ones made
   * whole from the full one before them, named by `fullAt`). When the last one
   * is older than two intervals (a loop stuck in JavaScript runs no timer) the collect takes one
   * itself, which says where the loop is stuck (`staleMs` sets that age: the last collect of a
   * run asks for a reading younger than half an interval).
   */
  async collect(staleMs?: number): Promise<Recorded[]> {
    if (!this.recording) throw new Error('collect() before startRecording()');
    const r = await this.callRecorder({ op: 'drain', key: this.att.key, staleMs: staleMs ?? 2 * this.recording.everyMs, sample: this.sampleArg() });
    if (!r.running) {
      throw new NodetopError(`pid ${this.att.pid} is no longer recording: ${r.reason ?? 'unknown'}`, { exitCode: ExitCode.EndpointFailed });
    }
    this.lastRecordLoss = r.dropped + r.failed;
    this.recordSpentMs += typeof r.spentMs === 'number' && Number.isFinite(r.spentMs) ? r.spentMs : 0;
    let records: unknown;
    try {
      records = JSON.parse(r.json);
    } catch {
      records = null;
    }
    if (!Array.isArray(records)) throw this.unreadableRecording();
    if (records.length === 0) return [];
    for (const raw of records) {
      if (isLight(raw)) checkLight(raw, this.att.pidInTarget);
      else checkRaw(raw, this.att.pidInTarget);
      (raw as { pid: number }).pid = this.att.pid;
    }
    const procReading = this.att.local ? readProc(this.att.pid, this.att.nodetopShare) : null;
    const host = this.att.local ? await readHost() : null;
    const out: Recorded[] = [];
    for (const got of records as Array<RawSample | RawLight>) {
      // startRecording made sure of a full reading (the baseline) before any light one
      const full = this.lastFull!;
      const light = isLight(got);
      const raw = light ? fillLight(got, full, this.rssNear(got.timeMs)) : got;
      out.push({
        sample: buildSample({ net: null, kernel: null, workers: null, identity: this.att.identity, inspector: this.att.inspector, prev: this.prev, raw, proc: procReading, host }),
        fullAt: light ? full.timeMs : null,
      });
      this.prev = raw;
      if (!light) this.lastFull = raw;
    }
    return out;
  }

  /** nodetop's own read of the RSS nearest `timeMs`, within an interval of it; null: none. */
  private rssNear(timeMs: number): number | null {
    let best: [number, number] | null = null;
    for (const e of this.rssTrail) if (!best || Math.abs(e[0] - timeMs) < Math.abs(best[0] - timeMs)) best = e;
    return best && Math.abs(best[0] - timeMs) <= (this.recording?.everyMs ?? 0) ? best[1] : null;
  }

  /** Stops nodetop's own reads of the RSS (its side of a recording; the target's goes with the detach). */
  private stopRssReads(): void {
    if (this.rssTimer) clearInterval(this.rssTimer);
    this.rssTimer = null;
    this.rssTrail = [];
  }

  private unreadableRecording(): NodetopError {
    return new NodetopError(`the inspector of pid ${this.att.pid} answered a recording nodetop cannot read`, { exitCode: ExitCode.EndpointFailed });
  }

  private sampleArg(): SampleArg {
    return { key: this.att.key, blockedAfterMs: this.opts.blockedAfterMs ?? 750, fds: !this.att.local, ...(this.opts.promCompat ? { promCompat: true } : {}) };
  }

  private async callRecorder(arg: Parameters<typeof recordProbe.fn>[0]): Promise<RecordResult> {
    const t0 = performance.now();
    try {
      const r = await evaluate(this.att.session, recordProbe, arg, { keep: true });
      this.lastRoundTripMs = performance.now() - t0;
      if (!r || typeof r !== 'object' || typeof r.json !== 'string') throw this.unreadableRecording();
      return r;
    } catch (e) {
      throw await explainCallFailure(e, this.att.pid, `pid ${this.att.pid}`);
    }
  }

  /** Sets the baseline without building a sample (the start of a measured window). */
  async baseline(): Promise<void> {
    // NodeWorker.enable first, the main thread's reading after it: two calls in flight at once
    // make the target send two replies back to back, and the second waits for nodetop's delayed
    // ACK of the first (40 ms on Linux; see Session.ackNudge). The workers' installs then run
    // beside the main thread's reading.
    const ws = await this.workersReady();
    const [raw] = await Promise.all([this.read(), ws ? ws.baseline(this.opts.blockedAfterMs ?? 750) : undefined]);
    this.prev = raw;
    this.lastFull = raw;
    this.workerReads = 0;
    this.workerReadsAt = performance.now();
  }

  /**
   * Read every worker in the next sample: after a GC or a snapshot the rows should show the heap
   * now, not the one read before. The reads are paid for from the ration (the next batch waits).
   */
  readAllWorkersNext(): void {
    this.workersDue = true;
  }

  /** The session of a worker thread this sampler follows, by threadId; null when there is none. */
  workerSession(threadId: number): import('./inspector/workers').WorkerSession | null {
    return this.workerSampler?.hub.list().find((w) => w.threadIdFromTitle === threadId && !w.gone) ?? null;
  }

  /** Every live worker session this sampler follows. */
  workerSessions(): Array<import('./inspector/workers').WorkerSession> {
    return this.workerSampler?.hub.list().filter((w) => !w.gone) ?? [];
  }

  /** Removes what the sampler installed in workers (the main thread's go with att.detach()). */
  async close(): Promise<void> {
    this.stopRssReads();
    await this.workerSampler?.close();
  }
}

function isLight(raw: unknown): raw is RawLight {
  return !!raw && typeof raw === 'object' && (raw as { light?: unknown }).light === true;
}

/**
 * A light recorded reading made whole: the parts it skips (heap spaces, handles, requests, array
 * buffers, fds) are those of the last full reading, its uptime counted on from that one's; its
 * RSS is the target's own read (a target whose /proc nodetop cannot read), else nodetop's nearest
 * read, else the full reading's.
 */
export function fillLight(light: RawLight, full: RawSample, rssNear: number | null): RawSample {
  const unavailable: Record<string, string> = { ...light.unavailable };
  for (const k of ['handles', 'requests']) if (full.unavailable[k] !== undefined) unavailable[k] = full.unavailable[k]!;
  return {
    timeMs: light.timeMs,
    pid: light.pid,
    uptimeSec: full.uptimeSec + (light.timeMs - full.timeMs) / 1000,
    memory: {
      rss: light.rss >= 0 ? light.rss : (rssNear ?? full.memory.rss),
      heapTotal: light.heapTotal,
      heapUsed: light.heapUsed,
      external: light.external >= 0 ? light.external : full.memory.external,
      arrayBuffers: full.memory.arrayBuffers,
    },
    heap: {
      heapSizeLimit: light.heapSizeLimit,
      totalAvailableSize: light.totalAvailableSize,
      mallocedMemory: light.mallocedMemory,
      numberOfNativeContexts: light.numberOfNativeContexts,
      numberOfDetachedContexts: light.numberOfDetachedContexts,
    },
    spaces: full.spaces,
    handles: full.handles,
    requests: full.requests,
    cpuUsageMicros: { user: light.cpuUser, system: light.cpuSystem },
    fds: full.fds,
    window: light.window,
    blocked: null,
    unavailable,
  };
}

/** A light reading has the shape nodetop builds on and comes from the attached pid (see checkRaw). */
export function checkLight(raw: RawLight, pid: number): void {
  const num = (v: unknown): boolean => typeof v === 'number';
  const fields = [raw.timeMs, raw.pid, raw.heapUsed, raw.heapTotal, raw.external, raw.rss, raw.heapSizeLimit, raw.totalAvailableSize, raw.mallocedMemory, raw.numberOfNativeContexts, raw.numberOfDetachedContexts, raw.cpuUser, raw.cpuSystem];
  if (!fields.every(num) || (raw.window !== null && typeof raw.window !== 'object') || !raw.unavailable || typeof raw.unavailable !== 'object') throw unreadableSample(pid);
  checkPid(raw.pid, pid);
}

function unreadableSample(pid: number): NodetopError {
  return new NodetopError(`the inspector of pid ${pid} answered a sample nodetop cannot read: it is not a Node inspector nodetop knows`, {
    exitCode: ExitCode.EndpointFailed,
  });
}

function checkPid(got: number, pid: number): void {
  if (got !== pid) {
    throw new NodetopError(`the sample came from pid ${got}, not pid ${pid} that nodetop attached to; nodetop reports nothing from it`, {
      exitCode: ExitCode.WrongProcess,
    });
  }
}

/**
 * Reading /proc/<pid>/net/tcp{,6} costs the kernel a walk of the namespace's whole connection
 * hash, whatever the process holds: 1.1 ms a file on the 24 GiB bench machine (262,144 buckets)
 * for a process with 6 entries, at every socket walk. A socket's addresses never change, so the
 * tables are read again only when the process's set of sockets changed, or 10 s on (a state that
 * changed under the same sockets: an ESTABLISHED one the peer closed).
 */
const KERNEL_TABLES_MAX_AGE_MS = 10_000;
interface KernelCache {
  inodes: string;
  atMs: number;
  connections: proc.Connection[];
}

function readKernel(att: Attachment, cache: { last: KernelCache | null }): { connections: proc.Connection[]; inspectorPort: number | null } | null {
  try {
    // the port in the target's own namespace: through a relay, the URL names a unix socket
    const port = att.reach.port || Number(/:(\d+)\//.exec(att.inspector.url)?.[1]);
    const mine = proc.socketInodes(att.pid);
    const inodes = [...mine].sort((a, b) => a - b).join(',');
    const now = Date.now();
    const last = cache.last;
    let connections: proc.Connection[];
    if (last && last.inodes === inodes && now - last.atMs >= 0 && now - last.atMs < KERNEL_TABLES_MAX_AGE_MS) connections = last.connections;
    else {
      connections = proc.tcpConnections(att.pid, mine);
      cache.last = { inodes, atMs: now, connections };
    }
    return { connections, inspectorPort: Number.isFinite(port) ? port : null };
  } catch {
    cache.last = null;
    return null; // exited, or its fds are not ours to read
  }
}

/**
 * The sample probe's answer has the shape nodetop builds on, and comes from the process the
 * attach identified: never report numbers from another process (a restarted target behind the
 * same port, a fake endpoint).
 */
export function checkRaw(raw: unknown, pid: number): asserts raw is RawSample {
  const r = raw as Partial<RawSample> | null;
  const obj = (v: unknown): boolean => !!v && typeof v === 'object';
  if (!obj(r) || typeof r!.pid !== 'number' || !obj(r!.memory) || !obj(r!.heap) || !Array.isArray(r!.spaces) || (r!.handles !== null && !obj(r!.handles)) || (r!.requests !== null && !obj(r!.requests)) || !obj(r!.cpuUsageMicros)) {
    throw unreadableSample(pid);
  }
  checkPid(r!.pid, pid);
}

/** fds and threads, less nodetop's share (its inspector, its connection), which is reported apart. */
function readProc(pid: number, share: Footprint | null): ProcReading | null {
  try {
    const fds = proc.countFds(pid);
    const threads = proc.readStat(pid).numThreads;
    const ours = share ? heldNow(pid, share) : null;
    return {
      fdsOpen: ours ? Math.max(0, fds - ours.fds) : fds,
      fdsLimit: proc.readFdSoftLimit(pid),
      threads: ours ? Math.max(0, threads - ours.threads) : threads,
      nodetop: ours,
    };
  } catch {
    return null;
  }
}

type SiMem = { total: number; available: number };
let siMem: (() => Promise<SiMem>) | null = null;

export async function readHost(): Promise<HostReading> {
  // /proc/meminfo: one read (0.05 ms). systeminformation answers the same from the same file
  // but costs 30-40 ms to load and 0.7 ms of CPU a call (measured): it is the fallback for a
  // host without /proc, loaded only there.
  let m: SiMem | null = proc.readMeminfo();
  if (!m) {
    if (!siMem) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const si = require('systeminformation') as { mem(): Promise<SiMem> };
      siMem = () => si.mem();
    }
    m = await siMem();
  }
  const [a, b, c] = os.loadavg();
  return {
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    loadAvg: [a ?? 0, b ?? 0, c ?? 0],
    memTotalBytes: m.total,
    memAvailableBytes: m.available,
  };
}
