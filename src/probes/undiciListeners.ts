import { defineProbe } from './probe';

/**
 * The listeners undici Clients found from their sockets have on 'drain' and 'connect': the
 * functions their Pool or Agent registered, through which nodetop finds a dispatcher the program
 * holds only in a closure (src/inspector/census.ts reads their bound `this` or closure). One
 * 'drain' and one 'connect' listener per distinct 'connect' listener: the clients of one Pool
 * share it, so a Pool of 100 clients costs two functions. Returned as a live array (an object
 * group nodetop releases), never by value. Cost: a walk of the handle list.
 */
export const undiciListenersProbe = defineProbe<null, unknown[]>(
  'undici listeners',
  'walks the handle list; returns at most 32 functions',
  function nodetopUndiciListeners(): unknown[] {
    const sym = (o: any, n: string): symbol | undefined => // eslint-disable-line @typescript-eslint/no-explicit-any
      o && typeof o === 'object' ? Object.getOwnPropertySymbols(o).find((x) => x.description === n) : undefined;
    const fns = (v: unknown): Array<(...a: unknown[]) => unknown> =>
      (Array.isArray(v) ? v : [v]).filter((f): f is (...a: unknown[]) => unknown => typeof f === 'function');
    const byConnect = new Map<unknown, unknown[]>();
    const p = process as unknown as { _getActiveHandles?: () => unknown[] };
    for (const h of p._getActiveHandles?.() ?? []) {
      const k = sym(h, 'client');
      const c = k ? (h as Record<symbol, unknown>)[k] : null;
      if (!c || typeof c !== 'object' || !sym(c, 'url')) continue;
      const ev = (c as { _events?: Record<string, unknown> })._events ?? {};
      const connect = fns(ev.connect)[0];
      if (!connect || byConnect.has(connect)) continue;
      byConnect.set(connect, [...fns(ev.drain).slice(0, 1), connect]);
      if (byConnect.size >= 16) break;
    }
    return [...byConnect.values()].flat();
  },
);
