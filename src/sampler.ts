// One sampler for every command (stats, watch, export, the TUI): one round trip to the target
// per tick, /proc and the host read from outside, and a Sample built by the pure model. A
// command decides when to tick; the sampler decides nothing about output.

import * as os from 'node:os';
import { ExitCode, NodetopError } from './errors';
import { explainCallFailure, type Attachment } from './inspector/attach';
import { evaluate } from './inspector/session';
import { buildSample, type HostReading, type ProcReading, type Sample } from './model/sample';
import * as proc from './platform/proc';
import { sampleProbe, type RawSample } from './probes/sample';

export interface SamplerOptions {
  /** A main thread whose heartbeat is older than this is reported as blocked, with its stack. */
  blockedAfterMs?: number;
}

export class Sampler {
  private prev: RawSample | null = null;
  /** Round trip of the last sample, ms: shown as nodetop's own cost. */
  lastRoundTripMs: number | null = null;

  constructor(
    readonly att: Attachment,
    private readonly opts: SamplerOptions = {},
  ) {}

  /** Reads the target now. The first call only sets the baseline for rates. */
  async read(): Promise<RawSample> {
    const t0 = performance.now();
    try {
      const raw = await evaluate(this.att.session, sampleProbe, {
        key: this.att.key,
        blockedAfterMs: this.opts.blockedAfterMs ?? 750,
        fds: !this.att.local,
      });
      this.lastRoundTripMs = performance.now() - t0;
      checkRaw(raw, this.att.pid);
      return raw;
    } catch (e) {
      throw explainCallFailure(e, this.att.pid, `pid ${this.att.pid}`);
    }
  }

  async sample(): Promise<Sample> {
    const raw = await this.read();
    const sample = buildSample({
      identity: this.att.identity,
      inspector: this.att.inspector,
      prev: this.prev,
      raw,
      proc: this.att.local ? readProc(this.att.pid) : null,
      host: this.att.local ? await readHost() : null,
    });
    this.prev = raw;
    return sample;
  }

  /** Sets the baseline without building a sample (the start of a measured window). */
  async baseline(): Promise<void> {
    this.prev = await this.read();
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
  if (!obj(r) || typeof r!.pid !== 'number' || !obj(r!.memory) || !obj(r!.heap) || !Array.isArray(r!.spaces) || !obj(r!.handles) || !obj(r!.requests) || !obj(r!.cpuUsageMicros)) {
    throw new NodetopError(`the inspector of pid ${pid} answered a sample nodetop cannot read: it is not a Node inspector nodetop knows`, {
      exitCode: ExitCode.EndpointFailed,
    });
  }
  if (r!.pid !== pid) {
    throw new NodetopError(`the sample came from pid ${r!.pid}, not pid ${pid} that nodetop attached to; nodetop reports nothing from it`, {
      exitCode: ExitCode.WrongProcess,
    });
  }
}

function readProc(pid: number): ProcReading | null {
  try {
    return { fdsOpen: proc.countFds(pid), fdsLimit: proc.readFdSoftLimit(pid), threads: proc.readStat(pid).numThreads };
  } catch {
    return null;
  }
}

type SiMem = { total: number; available: number };
let siMem: (() => Promise<SiMem>) | null = null;

export async function readHost(): Promise<HostReading> {
  // systeminformation is loaded on first use: it is large, and commands that do not show the
  // host (gc, snapshot) should not pay for it at start-up.
  if (!siMem) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const si = require('systeminformation') as { mem(): Promise<SiMem> };
    siMem = () => si.mem();
  }
  const m = await siMem();
  const [a, b, c] = os.loadavg();
  return {
    cpus: os.availableParallelism?.() ?? os.cpus().length,
    loadAvg: [a ?? 0, b ?? 0, c ?? 0],
    memTotalBytes: m.total,
    memAvailableBytes: m.available,
  };
}
