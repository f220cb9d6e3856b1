import { defineProbe } from './probe';

/**
 * The delay histograms' timer, ms: how often an observed loop is woken to measure its delay.
 * 50 ms wakes an idle target 20 times a second, for 1.7 ms of its CPU a second (20 ms: 3.2 ms;
 * measured, two histograms, Node 20, this repo's 2-core VM). A stall of any length still shows
 * whole in the max; what a coarser timer gives up is the number of small delays it catches.
 */
export const LAG_RESOLUTION_MS = 50;

/**
 * The same timer in a worker thread. Every isolate runs its own: at 50 ms, 16 idle workers
 * cost their process 13-14 ms of CPU a second while nodetop was merely attached (measured:
 * 17.1 ms a second attached, 3.4 unattached, Node 20, 2-core VM); at 250 ms, 2.5-3 ms. A
 * worker's row wants its heap, utilization and stalls more than small delays (a compute worker
 * blocks its loop by design), and the live view reads a worker only every few seconds when
 * there are many: two wake-ups a second still put a stall of any length whole in the max, and
 * date a stuck worker's last turn to within 500 ms.
 */
export const WORKER_LAG_RESOLUTION_MS = 500;

export interface InstallArg {
  /** This nodetop session's key in the registry. */
  key: string;
  /** The session removes itself when not renewed by a sample for this long (nodetop died). */
  leaseMs: number;
  /** nodetop opened this inspector (SIGUSR1): the last nodetop session to leave closes it. */
  openedByNodetop: boolean;
  /** Event-loop delay histogram resolution. */
  resolutionMs: number;
}

export interface InstallResult {
  installed: boolean;
  sessions: number;
  openedByNodetop: boolean;
}

/**
 * Installs one nodetop session's instruments: two event-loop delay histograms on one native
 * timer, a GC observer, an ELU baseline and a lease. All of it hangs off one non-enumerable
 * global symbol, Symbol.for('nodetop'), shared by concurrent nodetop sessions, and removed when
 * the last one leaves.
 *
 * The two histograms, enabled in the same turn, tick together (libuv runs every due timer in
 * one wake-up: two cost an idle target what one does, 3.0 ms of CPU a second at 20 ms,
 * measured). `h` is the sample window's, reset by each sample; `clock` is never reset: the sum
 * of its intervals says when the loop last turned, which a sample let in while the loop is stuck
 * in JavaScript uses to say for how long. That replaced a 4 Hz heartbeat (0.7 ms a second more,
 * measured) and its 250 ms granularity. The lease is one unref'd timeout that each sample
 * re-arms: nodetop gone without detaching, the session removes itself, with no periodic wake-up.
 * A Node without histogram.count (before 16.14) keeps the heartbeat. Every callback catches
 * everything it could throw.
 */
export const installProbe = defineProbe<InstallArg, InstallResult>(
  'install',
  'one-time: two delay histograms (one native timer), a PerformanceObserver, one unref’d lease timeout',
  function nodetopInstall(arg: InstallArg): InstallResult {
    // le: pauses per bucket of prom-client's nodejs_gc_duration_seconds histogram (not cumulative)
    type Gc = { count: number; ms: number; le: number[] };
    interface SessionState {
      createdMs: number;
      renewedMs: number;
      /** Heartbeat (Node before 16.14 only): when the loop last turned. */
      lastBeatMs: number;
      lastSampleMs: number;
      resolutionMs: number;
      /** Never reset: the loop last turned at offsetMs + the sum of its intervals (null offset: not yet known). */
      clock: { h: import('perf_hooks').IntervalHistogram & { count?: number }; offsetMs: number | null; firstDue?: boolean } | null;
      lease: { refresh?: () => unknown } | null;
      /** Null when this Node cannot observe GC (see `unavailable.gc`). */
      gc: Record<string, Gc> | null;
      h: (import('perf_hooks').IntervalHistogram & { reset(): void }) | null;
      elu: import('perf_hooks').EventLoopUtilization | null;
      /** Instruments this Node lacks: Sample field -> reason. The sample probe passes it on. */
      unavailable: Record<string, string>;
      /** The builtins the sample reads, taken once here (a require per sample costs ~50 us). */
      mods: { v8: typeof import('v8'); perf: typeof import('perf_hooks') };
      stop(): void;
    }
    interface Registry {
      v: number;
      openedByNodetop: boolean;
      sessions: Record<string, SessionState>;
      remove(key: string): { last: boolean; openedByNodetop: boolean };
    }
    const S = Symbol.for('nodetop');
    const g = globalThis as unknown as Record<symbol, Registry | undefined>;
    const perf = require('perf_hooks') as typeof import('perf_hooks');
    const inspector = require('inspector') as typeof import('inspector');
    let reg = g[S];
    if (!reg) {
      const fresh: Registry = {
        v: 1,
        openedByNodetop: false,
        sessions: {},
        remove(key: string) {
          const s = fresh.sessions[key];
          if (s) {
            delete fresh.sessions[key];
            s.stop();
          }
          const last = Object.keys(fresh.sessions).length === 0;
          if (last && g[S] === fresh) delete g[S];
          return { last, openedByNodetop: fresh.openedByNodetop };
        },
      };
      Object.defineProperty(g, S, { value: fresh, configurable: true, enumerable: false, writable: true });
      reg = fresh;
    }
    if (arg.openedByNodetop) reg.openedByNodetop = true;
    const existing = reg.sessions[arg.key];
    if (existing) return { installed: false, sessions: Object.keys(reg.sessions).length, openedByNodetop: reg.openedByNodetop };

    // Each instrument is set up on its own: one this Node lacks is reported as unavailable
    // (with the reason) and the others still run.
    const unavailable: Record<string, string> = {};
    const why = (e: unknown): string => String((e && (e as Error).message) || e).split('\n')[0]!;
    const c = perf.constants;
    const kinds: Record<number, string> = {
      [c.NODE_PERFORMANCE_GC_MINOR]: 'minor',
      [c.NODE_PERFORMANCE_GC_MAJOR]: 'major',
      [c.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
      [c.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
    };
    const now = Date.now();
    let h: SessionState['h'] = null;
    let clock: SessionState['clock'] = null;
    if (typeof perf.monitorEventLoopDelay !== 'function') {
      unavailable['eventLoop.lagMs'] = 'perf_hooks.monitorEventLoopDelay() is missing: added in Node 11.10';
    } else {
      try {
        h = perf.monitorEventLoopDelay({ resolution: arg.resolutionMs }) as NonNullable<SessionState['h']>;
        const c = perf.monitorEventLoopDelay({ resolution: arg.resolutionMs }) as NonNullable<SessionState['clock']>['h'];
        // enabled back to back, in the same turn of the loop: their timers are due together
        h.enable();
        c.enable();
        if (typeof c.count === 'number') {
          // Installed from the loop (no JavaScript under this call), the first tick is one
          // resolution away. Let in while JavaScript runs, when the loop turns next is unknown.
          const lim = Error.stackTraceLimit;
          Error.stackTraceLimit = 8;
          const frames = String(new Error().stack ?? '').split('\n').slice(1);
          Error.stackTraceLimit = lim;
          const midJs = frames.some((l) => !/(<anonymous>|nodetop:\/\/probe\/[\w-]+):\d+:\d+\)?$|nodetopInstall/.test(l.trim()));
          // firstDue: the sample checks when the first tick came (see firstIntervalMs there)
          clock = { h: c, offsetMs: midJs ? null : Date.now() + arg.resolutionMs, firstDue: !midJs };
        } else {
          c.disable();
        }
      } catch (e) {
        h = null;
        unavailable['eventLoop.lagMs'] = `perf_hooks.monitorEventLoopDelay() failed: ${why(e)}`;
      }
    }
    let elu: SessionState['elu'] = null;
    try {
      elu = perf.performance.eventLoopUtilization();
    } catch {
      /* the sample probe says why */
    }
    const st: SessionState = {
      createdMs: now,
      renewedMs: now,
      lastBeatMs: now,
      lastSampleMs: now,
      resolutionMs: arg.resolutionMs,
      gc: { minor: { count: 0, ms: 0, le: [0, 0, 0, 0, 0, 0] }, major: { count: 0, ms: 0, le: [0, 0, 0, 0, 0, 0] }, incremental: { count: 0, ms: 0, le: [0, 0, 0, 0, 0, 0] }, weakcb: { count: 0, ms: 0, le: [0, 0, 0, 0, 0, 0] } },
      h,
      clock,
      lease: null,
      elu,
      unavailable,
      mods: { v8: require('v8') as typeof import('v8'), perf },
      stop() {},
    };
    // While the inspector is open, Node hands every console call to V8 too (consoleCall in
    // inspector_js_api.cc), and V8 keeps the arguments of the last 1,000 alive for a client that
    // might ask (V8ConsoleMessageStorage; its 10 MB cap counts strings, not an array's elements):
    // an app logging an 800 KiB array every 10 ms went from 4 to 316 MiB and died under `watch`.
    // A discard per sample is not enough at that rate, and none happens once nodetop is killed.
    // So the target discards them itself, through an in-process session (no domain, no socket),
    // after every batch of GCs: what logging allocates is what makes V8 collect, so whatever the
    // rate, a logged value outlives its garbage by about one collection. The lease's removal
    // discards too. Measured (test/harm/console-rate.test.ts): that logger peaks at 33-44 MiB
    // heapUsed under watch, the live view, or after nodetop was killed, 10-12 MiB unobserved;
    // without it, it died within 20 s. Four discards between GCs on a timer did not do clearly
    // better (34-39 MiB in one run).
    let own: import('inspector').Session | null = null;
    try {
      own = new inspector.Session();
      own.connect();
    } catch {
      own = null;
    }
    const discardConsole = (): void => {
      try {
        own?.post('Runtime.discardConsoleEntries');
      } catch {
        /* never throw into the target */
      }
    };
    // A discard after each GC still lets what was logged since the previous one survive the next
    // and be promoted: that logger peaked at 33-44 MiB (10-12 unobserved). So while the target
    // collects often (a GC within the last second: it allocates fast), it also discards every
    // 10 ms: 11.6 MiB against 8.6 unobserved in the same experiment; at the end of the loop's turn
    // rather than in the timers phase, 1.2-2.1x the unobserved twin's peak at a load average of 3 (8 of 9 under 2x)
    // (2.2-3.0x before, test/harm/console-rate.test.ts). A discard costs 54 us
    // (loaded 2-core host), ~0.5% of a core, paid only while GCs come more than once a second.
    let lastGcMs = 0;
    // Set by stop(). A probe may run between Node's check that a due timer still has a callback
    // and its call of it (inspector messages are served at any function entry of JavaScript);
    // a clearTimeout there makes Node call null and kills the target ("timer._onTimeout is not a
    // function": 1 run in 12 of 20 concurrent `stats`, test/harm/timers.test.ts). So stop() only
    // sets this and clears the timers from a setImmediate, outside any timer's run; until then
    // each callback that sees it does nothing (and an interval clears itself).
    let stopped = false;
    let fast: ReturnType<typeof setInterval> | null = null;
    const discardOften = (): void => {
      try {
        lastGcMs = Date.now();
        if (fast || stopped) return;
        const self = setInterval(function nodetopConsoleDiscard() {
          try {
            if (stopped || fast !== self) {
              clearInterval(self);
              if (fast === self) fast = null;
              return;
            }
            // at the end of this turn of the loop (its check phase), after the callbacks that
            // run in it, the app's logging timer among them: what they logged goes before it
            // can outlive a scavenge and be promoted
            if (Date.now() - lastGcMs <= 1000) setImmediate(discardConsole).unref();
            else {
              clearInterval(self);
              fast = null;
            }
          } catch {
            // never throw into the target; a clock that throws stops the fast discards
            try {
              clearInterval(self);
            } catch {
              /* as above */
            }
            if (fast === self) fast = null;
          }
        }, 10);
        fast = self;
        self.unref();
      } catch {
        /* never throw into the target */
      }
    };
    // from the install on, as after a GC: what was logged while nodetop attached goes at once
    discardConsole();
    discardOften();
    let obs: import('perf_hooks').PerformanceObserver | null = null;
    try {
      // named: `nodetop profile` leaves nodetop* frames (and Node's caller of them) out of the ranking
      obs = new perf.PerformanceObserver(function nodetopGcObserver(list) {
        discardConsole();
        discardOften();
        try {
          const gc = st.gc;
          if (!gc) return;
          for (const e of list.getEntries()) {
            // Node 16+ puts the kind in `detail`; reading the old `kind` accessor there prints a
            // deprecation warning in the target (DEP0152, Node 16-24), and Node 26 removed it.
            // Only a Node without `detail` (14 and older) gets to read it.
            const d = e as unknown as { detail?: { kind?: number } | null; kind?: number };
            const k = d.detail ? d.detail.kind : d.kind;
            const kind = kinds[k ?? 0] ?? 'other';
            const slot = gc[kind] ?? (gc[kind] = { count: 0, ms: 0, le: [0, 0, 0, 0, 0, 0] });
            slot.count++;
            slot.ms += e.duration;
            // prom-client's buckets, in ms: 1, 10, 100, 1000, 2000, 5000 (longer: only +Inf)
            const dur = e.duration;
            const b = dur <= 1 ? 0 : dur <= 10 ? 1 : dur <= 100 ? 2 : dur <= 1000 ? 3 : dur <= 2000 ? 4 : dur <= 5000 ? 5 : -1;
            if (b >= 0 && slot.le) slot.le[b] = (slot.le[b] ?? 0) + 1;
          }
        } catch {
          /* never throw into the target */
        }
      });
      obs.observe({ entryTypes: ['gc'] });
    } catch (e) {
      st.gc = null;
      unavailable.gc = `observing GC with a PerformanceObserver failed: ${why(e)}`;
      try {
        obs?.disconnect();
      } catch {
        /* never observed */
      }
      obs = null;
    }
    const registry = reg;
    const key = arg.key;
    const leaseMs = arg.leaseMs;
    const expire = (): void => {
      // nodetop went away without detaching: take everything down, and close the inspector if
      // nodetop opened it and no other nodetop session is left.
      const r = registry.remove(key);
      if (r.last && r.openedByNodetop) inspector.close();
    };
    // the lease: each sample re-arms it (refresh, Node 10.2+); a Node without refresh checks at 4 Hz
    const lease = setTimeout(() => {
      try {
        if (stopped) return;
        // renewed without a re-arm (clocks differ by a few ms): wait one more lease
        if (Date.now() - st.renewedMs < leaseMs - 50) lease.refresh();
        else expire();
      } catch {
        /* never throw into the target */
      }
    }, leaseMs);
    lease.unref();
    const canRefresh = typeof lease.refresh === 'function';
    st.lease = canRefresh ? lease : null;
    let beat: ReturnType<typeof setInterval> | null = null;
    if (!clock || !canRefresh) {
      const self = setInterval(() => {
        try {
          if (stopped) {
            clearInterval(self);
            return;
          }
          const t = Date.now();
          st.lastBeatMs = t;
          if (t - st.renewedMs > leaseMs) expire();
        } catch {
          /* never throw into the target */
        }
      }, 250);
      self.unref();
      beat = self;
    }
    st.stop = () => {
      stopped = true;
      try {
        const b = beat;
        const f = fast;
        fast = null;
        const later = setImmediate(function nodetopClearTimers() {
          try {
            clearTimeout(lease);
            if (b) clearInterval(b);
            if (f) clearInterval(f);
          } catch {
            /* never throw into the target */
          }
        });
        if (typeof later.unref === 'function') later.unref();
      } catch {
        /* the callbacks see `stopped` and do nothing */
      }
      discardConsole();
      try {
        own?.disconnect();
      } catch {
        /* already gone */
      }
      try {
        obs?.disconnect();
      } catch {
        /* already gone */
      }
      try {
        h?.disable();
      } catch {
        /* already gone */
      }
      try {
        clock?.h.disable();
      } catch {
        /* already gone */
      }
    };
    reg.sessions[key] = st;
    return { installed: true, sessions: Object.keys(reg.sessions).length, openedByNodetop: reg.openedByNodetop };
  },
);
