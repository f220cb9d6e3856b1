import type { Probe } from './probe';
import { sampleProbe, type RawLight, type RawSample, type SampleArg } from './sample';

// Sampling below a second, one round trip per reading costs the target more than the reading:
// the inspector thread's write of each answer, and the kernel's loopback delivery it pays for
// (most of a trivial call's 0.3-3 ms of target CPU on this VM, by `perf`), ten times a second.
// Instead the target takes its own readings on an unref'd timer, keeps them, and nodetop
// collects them once a second: one round trip a second whatever the interval. About once a
// second a reading is full; the ones between are light (SampleArg.light), and nodetop fills in
// what they skip from the full one (fillLight in src/sampler.ts).

export interface RecordArg {
  /** start: take a reading every `everyMs` (replacing a recorder already running); drain: hand over the readings; stop. */
  op: 'start' | 'drain' | 'stop';
  key: string;
  everyMs?: number;
  /** At most this many readings are kept between two drains: the oldest go first (counted in `dropped`). */
  cap?: number;
  /**
   * start: a full reading about this often (default 1 s), light ones between (SampleArg.light:
   * the loop, CPU, GC and V8 heap: 0.20 against 0.34 ms, timed in-process under load); the
   * first reading is full.
   */
  fullEveryMs?: number;
  /**
   * drain: when the last reading is older than this, take one now, from the drain: a loop stuck
   * in JavaScript runs no timer, and this reading is the one that says where it is stuck.
   */
  staleMs?: number;
  sample: SampleArg;
}

export interface RecordResult {
  running: boolean;
  /**
   * The readings since the last drain, oldest first, as one JSON array: V8 hands a string over
   * for less than the objects (measured: 1.05 against 1.83 ms of the target's CPU for a drain of
   * ten readings).
   */
  json: string;
  /** Readings dropped since the last drain because nobody collected them (the cap). */
  dropped: number;
  /** Readings whose sample threw (never into the target: counted). */
  failed: number;
  /**
   * The recorder's own time on the target's thread since the last drain, ms: its readings, and
   * this drain up to its answer (the inspector's sending of that answer is not in it). What
   * recording costs the target, measured where it is paid.
   */
  spentMs: number;
  /** Why the recorder is not running. */
  reason?: string;
}

/**
 * The recorder, with the sample function it calls. Self-contained: sent as source text with the
 * sample probe's source, see recordProbe.
 */
function nodetopRecord(arg: RecordArg, sample: (a: SampleArg) => RawSample | RawLight): RecordResult {
  type Rec = { records: Array<RawSample | RawLight>; dropped: number; failed: number; lastMs: number; lastFullMs: number; spentNs: number; stopped?: boolean; stop(): void };
  const t0 = process.hrtime();
  const since = (t: [number, number]): number => {
    const d = process.hrtime(t);
    return d[0] * 1e9 + d[1];
  };
  type St = {
    renewedMs: number;
    lease?: { refresh?: () => unknown } | null;
    recorder?: Rec | null;
    stopsRecorder?: boolean;
    stop(): void;
  };
  const reg = (globalThis as unknown as Record<symbol, { sessions: Record<string, St> } | undefined>)[Symbol.for('nodetop')];
  const st = reg ? reg.sessions[arg.key] : undefined;
  const none = (reason: string): RecordResult => ({ running: false, json: '[]', dropped: 0, failed: 0, spentMs: 0, reason });
  if (!reg || !st) return none('this nodetop session is no longer installed in the target (its lease expired, or another tool removed it)');
  if (!st.stopsRecorder) {
    // the session's removal (detach, lease expiry) stops its recorder too
    const base = st.stop;
    st.stop = () => {
      try {
        if (st.recorder) st.recorder.stop();
      } catch {
        /* never throw into the target */
      }
      st.recorder = null;
      base();
    };
    st.stopsRecorder = true;
  }
  if (arg.op === 'stop') {
    if (st.recorder) st.recorder.stop();
    st.recorder = null;
    return none('stopped');
  }
  if (arg.op === 'start') {
    if (st.recorder) st.recorder.stop();
    const everyMs = Math.max(10, Number(arg.everyMs) || 1000);
    const cap = Math.max(1, Number(arg.cap) || 64);
    const fullEveryMs = Math.max(everyMs, Number(arg.fullEveryMs) || 1000);
    const rec: Rec = { records: [], dropped: 0, failed: 0, lastMs: Date.now(), lastFullMs: 0, spentNs: 0, stop() {} };
    const sArg: SampleArg = { key: arg.sample.key, blockedAfterMs: arg.sample.blockedAfterMs, fds: arg.sample.fds, recorded: true };
    const lightArg: SampleArg = { ...sArg, light: true };
    const timer = setInterval(() => {
      let t: [number, number] | null = null;
      try {
        t = process.hrtime();
        // removed without our stop (another tool deleted the registry): stop here
        if (rec.stopped || st.recorder !== rec || !reg.sessions[arg.key]) {
          clearInterval(timer);
          return;
        }
        // within half an interval of due: a full reading about every fullEveryMs (and at once
        // after the clock stepped back)
        const sinceFull = Date.now() - rec.lastFullMs;
        const full = sinceFull < 0 || sinceFull >= fullEveryMs - everyMs / 2;
        const r = sample(full ? sArg : lightArg);
        rec.records.push(r);
        rec.lastMs = r.timeMs;
        if (full) rec.lastFullMs = r.timeMs;
        if (rec.records.length > cap) {
          rec.records.shift();
          rec.dropped++;
        }
      } catch {
        rec.failed++;
      }
      try {
        if (t) rec.spentNs += since(t);
      } catch {
        /* never throw into the target */
      }
    }, everyMs);
    if (typeof timer.unref === 'function') timer.unref();
    // not clearInterval here: this runs from a probe, maybe between Node's check of a due timer
    // and its call of it (see `stopped` in install.ts); the timer clears itself when it sees this
    rec.stop = () => {
      rec.stopped = true;
      try {
        const later = setImmediate(function nodetopClearRecorder() {
          try {
            clearInterval(timer);
          } catch {
            /* never throw into the target */
          }
        });
        if (typeof later.unref === 'function') later.unref();
      } catch {
        /* the timer sees `stopped` and clears itself */
      }
    };
    st.recorder = rec;
    return { running: true, json: '[]', dropped: 0, failed: 0, spentMs: 0 };
  }
  const rec = st.recorder;
  if (!rec) return none('not recording');
  const records = rec.records.splice(0);
  const out: RecordResult = { running: true, json: '[]', dropped: rec.dropped, failed: rec.failed, spentMs: 0 };
  rec.dropped = 0;
  rec.failed = 0;
  // only nodetop's own calls renew the lease: a recorder nobody drains stops with it
  st.renewedMs = Date.now();
  try {
    st.lease?.refresh?.();
  } catch {
    /* the heartbeat, where there is one, enforces the lease */
  }
  if (Date.now() - rec.lastMs > (arg.staleMs ?? Infinity)) {
    const r = sample(arg.sample);
    records.push(r);
    rec.lastMs = r.timeMs;
    rec.lastFullMs = r.timeMs;
  }
  out.json = JSON.stringify(records);
  out.spentMs = (rec.spentNs + since(t0)) / 1e6;
  rec.spentNs = 0;
  return out;
}

/**
 * Starts, drains or stops the target's own recorder (see the note at the top). The source sent
 * is the recorder with the sample probe inside it, and the modules the sample needs taken while
 * `require` exists: a timer that fires later has no command-line API.
 */
export const recordProbe: Probe<RecordArg, RecordResult> = (() => {
  const fn = (arg: RecordArg): RecordResult => nodetopRecord(arg, sampleProbe.fn as (a: SampleArg) => RawSample | RawLight);
  const source =
    'function nodetopRecorder(arg){' +
    'const mods={v8:require("v8"),perf_hooks:require("perf_hooks"),fs:require("fs")};' +
    `const sample=((require)=>(${sampleProbe.fn.toString()}))((m)=>mods[m]);` +
    `return (${nodetopRecord.toString()})(arg,sample);}`;
  Object.defineProperty(fn, 'toString', { value: () => source });
  return {
    name: 'record',
    cost: 'start: one unref’d interval timer, a sample per tick (no round trip; light between full ones about a second apart), at most `cap` readings kept; drain: the readings as one JSON string',
    fn,
    async: false,
  };
})();
