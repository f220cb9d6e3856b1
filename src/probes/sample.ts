import { defineProbe } from './probe';

export interface SampleArg {
  key: string;
  /** A heartbeat older than this means the loop is stuck: capture the stack it is stuck in. */
  blockedAfterMs: number;
  /** Count fds from inside (only when nodetop cannot read the target's /proc: a container). */
  fds: boolean;
  /**
   * Taken by the target's own recorder (src/probes/record.ts), from a timer: the loop is turning
   * (no stack to capture), and it does not renew the lease (only nodetop's calls do).
   */
  recorded?: boolean;
  /** A worker thread's row: its heap spaces are not read (`spaces` is empty). */
  worker?: boolean;
  /**
   * A recorded reading between two full ones (src/probes/record.ts): what moves within a second
   * (the loop, CPU, GC, the V8 heap statistics) and nothing that costs a walk or a read of
   * /proc, handed back as a RawLight, not a RawSample. Its RSS is read only when `fds` (nodetop
   * cannot read the target's /proc, so the target reads it); nodetop fills in the rest from the
   * full reading before it (fillLight).
   */
  light?: boolean;
  /**
   * For `nodetop export`: also what prom-client's default metrics read that nodetop does not
   * otherwise need: the lag histogram's standard deviation (a walk of its buckets, ~0.2 ms) and
   * process._getActiveHandles() by constructor name (a list of the handles' objects). Export
   * samples every 5 s by default.
   */
  promCompat?: boolean;
}

/**
 * A light reading (SampleArg.light), flat: building the RawSample's nested objects cost more
 * than a third of a light reading (in-process under load: 249 against 180 us, and the drain's
 * JSON of ten readings 115 against 74 us). `external` and `rss` are -1 when not read.
 */
export interface RawLight {
  light: true;
  timeMs: number;
  pid: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  rss: number;
  heapSizeLimit: number;
  totalAvailableSize: number;
  mallocedMemory: number;
  numberOfNativeContexts: number;
  numberOfDetachedContexts: number;
  cpuUser: number;
  cpuSystem: number;
  window: RawSample['window'];
  unavailable: Record<string, string>;
}

export interface RawLag {
  /** Nanoseconds, as the histogram records them (resolution included). */
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  count: number;
}

export interface RawSample {
  timeMs: number;
  pid: number;
  uptimeSec: number;
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number };
  heap: { heapSizeLimit: number; totalAvailableSize: number; mallocedMemory: number; numberOfNativeContexts: number; numberOfDetachedContexts: number };
  spaces: Array<{ name: string; size: number; used: number; available: number }>;
  /** Null when this Node cannot list its resources (see `unavailable.handles`). */
  handles: Record<string, number> | null;
  /** promCompat only: process._getActiveHandles() by constructor name, as prom-client counts them. */
  handleObjects?: Record<string, number> | null;
  requests: Record<string, number> | null;
  cpuUsageMicros: { user: number; system: number };
  fds: null | { open: number | null; limit: number | null };
  /** Null when this session's instruments are gone (lease expired, another tool removed them). */
  window: null | {
    ms: number;
    resolutionMs: number;
    /** Null when this Node has no event-loop delay histogram. */
    lag: RawLag | null;
    elu: { idle: number; active: number; utilization: number } | null;
    /** `le`: pauses per bucket of prom-client's GC histogram (1, 10, 100, 1000, 2000, 5000 ms), not cumulative. */
    gc: Record<string, { count: number; ms: number; le?: number[] }> | null;
  };
  blocked: null | { forMs: number; stack: string[] };
  /**
   * The probe's own time on the target's thread, ms (process.hrtime around it; the protocol's
   * work on the call and its answer is not in it). What a sample costs the target, measured where
   * it is paid. Absent from a light reading (the recorder times itself).
   */
  spentMs?: number;
  /**
   * Parts this Node does not provide, each with the reason (Sample field -> sentence). A part
   * that is missing here is null in the Sample; the rest of the sample is still read.
   */
  unavailable: Record<string, string>;
}

/**
 * One reading of everything the main thread can tell cheaply, in one round trip. Resets the
 * lag histogram and the ELU baseline, so each call measures the window since the previous one.
 * Cost: memoryUsage, two V8 heap statistics calls, the active-resource list (linear in handles).
 */
export const sampleProbe = defineProbe<SampleArg, RawSample>(
  'sample',
  'memoryUsage + V8 heap statistics + active resource list (linear in handles)',
  function nodetopSample(arg: SampleArg): RawSample {
    const t0 = process.hrtime();
    const now = Date.now();
    type St = {
      createdMs: number;
      renewedMs: number;
      lastBeatMs: number;
      lastSampleMs: number;
      /** Samples this session has read, the baseline included (tests wait on it). */
      samples?: number;
      resolutionMs: number;
      gc: Record<string, { count: number; ms: number }> | null;
      h: (import('perf_hooks').IntervalHistogram & { reset(): void; count?: number }) | null;
      clock?: { h: { count?: number; mean: number }; offsetMs: number | null; sumAtResetMs?: number; firstDue?: boolean } | null;
      lease?: { refresh?: () => unknown } | null;
      elu: import('perf_hooks').EventLoopUtilization | null;
      unavailable?: Record<string, string>;
      mods?: { v8: typeof import('v8'); perf: typeof import('perf_hooks') };
    };
    const reg = (globalThis as unknown as Record<symbol, { sessions: Record<string, St> } | undefined>)[Symbol.for('nodetop')];
    const st = reg?.sessions[arg.key];
    // the modules the install took: a require through the command-line API costs ~50 us a call
    const v8 = st?.mods?.v8 ?? (require('v8') as typeof import('v8'));
    const perf = st?.mods?.perf ?? (require('perf_hooks') as typeof import('perf_hooks'));

    // Frames under ours: we were let in between two JavaScript instructions (the loop is not
    // turning right now). None: we run from the loop itself.
    const framesUnder = (limit: number): string[] => {
      const lim = Error.stackTraceLimit;
      Error.stackTraceLimit = limit;
      const stack = String(new Error().stack ?? '');
      Error.stackTraceLimit = lim;
      const frames = stack.split('\n').slice(1).map((l) => l.trim());
      let i = 0;
      while (i < frames.length && /(<anonymous>|nodetop:\/\/probe\/[\w-]+):\d+:\d+\)?$|nodetopSample/.test(frames[i] ?? '')) i++;
      return frames.slice(i);
    };
    const midJs = arg.recorded === true ? false : framesUnder(12).length > 0;
    // When the loop last turned: from the never-reset histogram's intervals (calibrated each
    // time we run from the loop), else from the heartbeat of a Node without histogram.count.
    let lastTurnMs = st ? st.lastBeatMs : now;
    const clock = st?.clock;
    // The sum of the never-reset histogram's intervals (its mean walks every bucket: ~30 us).
    let clockSumMs: number | null = null;
    // A histogram records from its second tick on: a stall that held the loop before the
    // clock's first tick is in neither histogram. Installed from the loop, that tick was due one
    // resolution after the install; from the loop, once the clock has ticked, now less the sum
    // of its intervals says when it came (up to one resolution late). The difference is that
    // first interval, at least.
    let firstIntervalMs = 0;
    if (st && clock) {
      const n = typeof clock.h.count === 'number' ? clock.h.count : 0;
      clockSumMs = n > 0 ? (clock.h.mean * n) / 1e6 : 0;
      if (clock.firstDue === true && !midJs && n > 0) {
        clock.firstDue = false;
        firstIntervalMs = now - clockSumMs - st.resolutionMs - st.createdMs;
      }
      if (!midJs) {
        // from the loop: it is turning now (its last tick at most one resolution ago)
        clock.offsetMs = now - clockSumMs;
        lastTurnMs = now;
      } else if (clock.offsetMs !== null) {
        lastTurnMs = Math.min(now, clock.offsetMs + clockSumMs);
      } else {
        // attached while JavaScript ran and never since seen from the loop: a lower bound
        lastTurnMs = Math.min(now, st.createdMs + clockSumMs);
      }
    }
    let blocked: RawSample['blocked'] = null;
    if (st && midJs && now - lastTurnMs > arg.blockedAfterMs) {
      // the loop has not yielded for that long: the frames under ours are where it is stuck
      blocked = { forMs: now - lastTurnMs, stack: framesUnder(40) };
    }

    const light = arg.light === true;
    const hs = v8.getHeapStatistics();
    // memoryUsage reads /proc/self/stat for the RSS: 60-100 us of a target woken from sleep on
    // this VM, half again what a light reading costs; its heap figures are the statistics above
    const ext = (hs as { external_memory?: number }).external_memory;
    // (memoryUsage.rss() alone: Node 15.6 and later)
    const rssAlone = (): number => (typeof process.memoryUsage.rss === 'function' ? process.memoryUsage.rss() : process.memoryUsage().rss);
    const m = light ? null : process.memoryUsage();
    const spaces = (arg.worker === true || light ? [] : v8.getHeapSpaceStatistics()).map((s) => ({
      name: s.space_name,
      size: s.space_size,
      used: s.space_used_size,
      available: s.space_available_size,
    }));

    // Each optional part is read on its own: an API this Node lacks (or that throws) makes that
    // part null with a reason, never the whole sample fail.
    const unavailable: Record<string, string> = {};
    const why = (e: unknown): string => String((e && (e as Error).message) || e).split('\n')[0]!;
    const copyGc = (gc: Record<string, { count: number; ms: number; le?: number[] }>): Record<string, { count: number; ms: number; le?: number[] }> => {
      const o: Record<string, { count: number; ms: number; le?: number[] }> = {};
      for (const k of Object.keys(gc)) {
        const g = gc[k]!;
        o[k] = arg.promCompat === true && Array.isArray(g.le) ? { count: g.count, ms: g.ms, le: g.le.slice() } : { count: g.count, ms: g.ms };
      }
      return o;
    };
    const p = process as unknown as { _getActiveRequests?: () => object[]; getActiveResourcesInfo?: () => string[] };
    let requests: Record<string, number> | null = null;
    if (light) {
      // filled in from the last full reading
    } else if (typeof p._getActiveRequests !== 'function') {
      unavailable.requests = 'process._getActiveRequests() is missing in this Node';
    } else {
      try {
        const r: Record<string, number> = {};
        for (const q of p._getActiveRequests()) {
          const t = (q && q.constructor && q.constructor.name) || 'unknown';
          r[t] = (r[t] ?? 0) + 1;
        }
        requests = r;
      } catch (e) {
        unavailable.requests = `process._getActiveRequests() failed: ${why(e)}`;
      }
    }
    let handles: Record<string, number> | null = null;
    if (light) {
      // filled in from the last full reading
    } else if (typeof p.getActiveResourcesInfo !== 'function') {
      unavailable.handles = 'process.getActiveResourcesInfo() is missing: added in Node 17.3 and 16.14';
    } else {
      try {
        // One entry per request, handle and timer, requests included (counted above), listed
        // kind by kind in the order libuv keeps them: equal names mostly come together, so the
        // loop counts runs of equal neighbours (one property write a run, not an entry). At 2,000
        // sockets: ~15 us over the listing itself, where sorting the list and looking each name
        // up in it took ~570 (in-process, timed; any order still counts right, only slower).
        const list = p.getActiveResourcesInfo();
        const hs: Record<string, number> = {};
        for (let i = 0; i < list.length; ) {
          const t = list[i]!;
          let j = i + 1;
          while (j < list.length && list[j] === t) j++;
          hs[t] = (hs[t] ?? 0) + (j - i);
          i = j;
        }
        if (requests) {
          for (const t of Object.keys(requests)) {
            const n = (hs[t] ?? 0) - requests[t]!;
            if (n > 0) hs[t] = n;
            else delete hs[t];
          }
        }
        handles = hs;
      } catch (e) {
        unavailable.handles = `process.getActiveResourcesInfo() failed: ${why(e)}`;
      }
    }
    let handleObjects: Record<string, number> | null = null;
    if (arg.promCompat === true && !light) {
      try {
        const ph = process as unknown as { _getActiveHandles?: () => unknown[] };
        if (typeof ph._getActiveHandles === 'function') {
          handleObjects = {};
          for (const o of ph._getActiveHandles()) {
            const c = o !== null && o !== undefined ? (o as { constructor?: { name?: unknown } }).constructor : undefined;
            if (!c) continue; // prom-client skips these too
            const n = typeof c.name === 'string' ? c.name : 'unknown';
            handleObjects[n] = (handleObjects[n] ?? 0) + 1;
          }
        }
      } catch {
        handleObjects = null;
      }
    }

    let window: RawSample['window'] = null;
    if (st) {
      Object.assign(unavailable, st.unavailable);
      const h = st.h;
      let lag: RawLag | null = null;
      if (h) {
        try {
          const count = typeof h.count === 'number' ? h.count : -1;
          if (count === 1 || count === 2) {
            // One or two intervals (a window of one or two ticks: a recorder below a second):
            // the mean and each percentile would walk the buckets (20-30 us each), and are the
            // smaller and the larger value, to the histogram's own precision.
            const min = h.min;
            const max = h.max;
            lag = { min, max, mean: (min + max) / 2, stddev: NaN, p50: count === 1 ? max : min, p90: max, p99: max, count };
          } else {
            lag = {
              min: h.min,
              max: h.max,
              mean: h.mean,
              // stddev is left out but for export: HdrHistogram computes it by walking every bucket (~0.2 ms)
              stddev: arg.promCompat === true ? h.stddev : NaN,
              p50: h.percentile(50),
              p90: h.percentile(90),
              p99: h.percentile(99),
              count,
            };
          }
          const mean = lag.mean;
          // An interval the window's histogram missed, counted as one more of its intervals.
          // As the largest it is also the top percentiles HdrHistogram would have given: the
          // count at a percentile is rounded, so the largest of n values is their p99 while
          // n <= 50 (a 2 s block among a 1 s window's 50 ms ticks), their p90 while n <= 5.
          // Only the max took it before, and a block that began just after a reset never
          // reached the lag p99 nor its event.
          const addInterval = (ns: number): void => {
            const l = lag!;
            if (l.count <= 0) {
              lag = { min: ns, max: ns, mean: ns, stddev: NaN, p50: ns, p90: ns, p99: ns, count: 1 };
              return;
            }
            const n = l.count + 1;
            const top = (p: number): boolean => Math.max(1, Math.floor((p / 100) * n + 0.5)) >= n;
            if (ns > l.max) {
              l.max = ns;
              if (top(99)) l.p99 = ns;
              if (top(90)) l.p90 = ns;
              if (top(50)) l.p50 = ns;
            }
            l.mean = (l.mean * l.count + ns) / n;
            l.count = n;
          };
          // reset() makes the histogram forget its last tick: the interval under way at the
          // last reset never reached it, and a stall that began in it would be missing from the
          // window. The never-reset histogram has it: the difference of their sums since then.
          if (clock && clockSumMs !== null && count >= 0) {
            const lostMs = clockSumMs - (clock.sumAtResetMs ?? 0) - (count > 0 ? (mean * count) / 1e6 : 0);
            // A window in which that interval is the only one to complete (a recorder's window of
            // 100 ms holds one or two 50 ms ticks, and the first after a reset records nothing)
            // has it as its lag, stall or not, rather than none. An interval is about a
            // resolution long at least: less is rounding, not an interval.
            if (count === 0 ? lostMs > st.resolutionMs / 2 : lostMs > 2 * st.resolutionMs) addInterval(lostMs * 1e6);
          }
          if (firstIntervalMs > 2 * st.resolutionMs) {
            const ns = firstIntervalMs * 1e6;
            if (lag.count >= 0) addInterval(ns);
            else if (ns > lag.max) lag.max = ns;
          }
          // A loop stuck in an interval right now: keep the window open (a reset would drop
          // that interval); the next sample reports it.
          if (!(midJs && now - lastTurnMs > 2 * st.resolutionMs)) {
            h.reset();
            if (clock && clockSumMs !== null) clock.sumAtResetMs = clockSumMs;
          }
        } catch (e) {
          unavailable['eventLoop.lagMs'] = `the event-loop delay histogram failed: ${why(e)}`;
        }
      }
      let elu: { idle: number; active: number; utilization: number } | null = null;
      const eluFn = perf.performance && perf.performance.eventLoopUtilization;
      if (typeof eluFn !== 'function') {
        unavailable['eventLoop.utilization'] = 'performance.eventLoopUtilization() is missing: added in Node 14.10 and 12.19';
      } else {
        try {
          const e = st.elu ? perf.performance.eventLoopUtilization(st.elu) : null;
          if (e) elu = { idle: e.idle, active: e.active, utilization: e.utilization };
          else unavailable['eventLoop.utilization'] = 'no utilization baseline was taken at attach; the next window has one';
          st.elu = perf.performance.eventLoopUtilization();
        } catch (e) {
          unavailable['eventLoop.utilization'] = `performance.eventLoopUtilization() failed: ${why(e)}`;
        }
      }
      window = {
        ms: now - st.lastSampleMs,
        resolutionMs: st.resolutionMs,
        lag,
        elu,
        gc: st.gc ? copyGc(st.gc) : null,
      };
      st.lastSampleMs = now;
      if (arg.recorded !== true) {
        st.renewedMs = now;
        try {
          st.lease?.refresh?.();
        } catch {
          /* the heartbeat, where there is one, enforces the lease */
        }
      }
      st.samples = (st.samples ?? 0) + 1;
    }
    let fds: RawSample['fds'] = null;
    // (a light reading's fds are the full reading's: the walk of /proc/self/fd grows with them)
    if (arg.fds && !light) {
      const fs = require('fs') as typeof import('fs');
      fds = { open: null, limit: null };
      try {
        fds.open = fs.readdirSync('/proc/self/fd').length - 1; // less the directory's own fd
        const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
        fds.limit = m ? Number(m[1]) : null;
      } catch {
        /* not Linux */
      }
    }
    const cpu = process.cpuUsage();
    if (light || !m) {
      const l: RawLight = {
        light: true,
        timeMs: now,
        pid: process.pid,
        heapUsed: hs.used_heap_size,
        heapTotal: hs.total_heap_size,
        external: typeof ext === 'number' ? ext : -1,
        rss: arg.fds ? rssAlone() : -1,
        heapSizeLimit: hs.heap_size_limit,
        totalAvailableSize: hs.total_available_size,
        mallocedMemory: hs.malloced_memory,
        numberOfNativeContexts: hs.number_of_native_contexts,
        numberOfDetachedContexts: hs.number_of_detached_contexts,
        cpuUser: cpu.user,
        cpuSystem: cpu.system,
        window,
        unavailable,
      };
      // (the recorder, the only caller that asks for a light reading, takes a RawLight)
      return l as unknown as RawSample;
    }
    return {
      timeMs: now,
      pid: process.pid,
      uptimeSec: process.uptime(),
      memory: { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
      heap: {
        heapSizeLimit: hs.heap_size_limit,
        totalAvailableSize: hs.total_available_size,
        mallocedMemory: hs.malloced_memory,
        numberOfNativeContexts: hs.number_of_native_contexts,
        numberOfDetachedContexts: hs.number_of_detached_contexts,
      },
      spaces,
      ...(arg.promCompat === true ? { handleObjects } : {}),
      handles,
      requests,
      cpuUsageMicros: { user: cpu.user, system: cpu.system },
      fds,
      window,
      blocked,
      unavailable,
      spentMs: ((d) => d[0] * 1e3 + d[1] / 1e6)(process.hrtime(t0)),
    };
  },
);
