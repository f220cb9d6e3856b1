import { defineProbe } from './probe';

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
 * Installs one nodetop session's instruments: an event-loop delay histogram, a GC observer,
 * an ELU baseline and a 250 ms heartbeat (unref'd; it also enforces the lease). All of it hangs
 * off one non-enumerable global symbol, Symbol.for('nodetop'), shared by concurrent nodetop
 * sessions, and removed when the last one leaves.
 *
 * Cost while installed: a 20 ms native timer for the histogram (10 ms cost the idle target ~1 ms/s more, measured), one GC callback per GC, a JS
 * timer at 4 Hz doing two comparisons. Every callback catches everything it could throw.
 */
export const installProbe = defineProbe<InstallArg, InstallResult>(
  'install',
  'one-time: creates a histogram, a PerformanceObserver and a 4 Hz unref’d timer',
  function nodetopInstall(arg: InstallArg): InstallResult {
    type Gc = { count: number; ms: number };
    interface SessionState {
      createdMs: number;
      renewedMs: number;
      lastBeatMs: number;
      lastSampleMs: number;
      resolutionMs: number;
      /** Null when this Node cannot observe GC (see `unavailable.gc`). */
      gc: Record<string, Gc> | null;
      h: (import('perf_hooks').IntervalHistogram & { reset(): void }) | null;
      elu: import('perf_hooks').EventLoopUtilization | null;
      /** Instruments this Node lacks: Sample field -> reason. The sample probe passes it on. */
      unavailable: Record<string, string>;
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
    if (typeof perf.monitorEventLoopDelay !== 'function') {
      unavailable['eventLoop.lagMs'] = 'perf_hooks.monitorEventLoopDelay() is missing: added in Node 11.10';
    } else {
      try {
        h = perf.monitorEventLoopDelay({ resolution: arg.resolutionMs }) as NonNullable<SessionState['h']>;
        h.enable();
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
      gc: { minor: { count: 0, ms: 0 }, major: { count: 0, ms: 0 }, incremental: { count: 0, ms: 0 }, weakcb: { count: 0, ms: 0 } },
      h,
      elu,
      unavailable,
      stop() {},
    };
    let obs: import('perf_hooks').PerformanceObserver | null = null;
    try {
      obs = new perf.PerformanceObserver((list) => {
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
            const slot = gc[kind] ?? (gc[kind] = { count: 0, ms: 0 });
            slot.count++;
            slot.ms += e.duration;
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
    const beat = setInterval(() => {
      try {
        const t = Date.now();
        st.lastBeatMs = t;
        if (t - st.renewedMs > leaseMs) {
          // nodetop went away without detaching: take everything down, and close the inspector
          // if nodetop opened it and no other nodetop session is left.
          const r = registry.remove(key);
          if (r.last && r.openedByNodetop) inspector.close();
        }
      } catch {
        /* never throw into the target */
      }
    }, 250);
    beat.unref();
    st.stop = () => {
      clearInterval(beat);
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
    };
    reg.sessions[key] = st;
    return { installed: true, sessions: Object.keys(reg.sessions).length, openedByNodetop: reg.openedByNodetop };
  },
);
