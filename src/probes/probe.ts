// Code that runs inside the target. Each probe is a real, typed, self-contained function (no
// reference to anything outside its own body: it is sent as source text), in a file of its own,
// with a note on what it costs the target. They are unit-tested by calling them in-process.
//
// Rules for a probe body, because it runs in someone's production process:
// - never throw: the wrapper below catches, but a callback the probe leaves behind must catch
//   for itself (an exception in a deferred callback crashes the target);
// - `require` exists only during the evaluation (the command-line API): capture what a later
//   callback needs;
// - whatever it installs has a matching removal, and a lease so that it removes itself if
//   nodetop dies without detaching.

export interface Probe<A, R> {
  /** Used in error messages and the protocol trace. */
  readonly name: string;
  /** What one call costs the target, in a sentence (shown by `nodetop probes`, kept honest by bench). */
  readonly cost: string;
  readonly fn: (arg: A) => R | Promise<R>;
  /**
   * The probe returns a promise. Only then is the result awaited: an awaited result is
   * delivered from a microtask, and a main thread spinning in JavaScript runs none, while a
   * synchronous result comes back between two of its instructions.
   */
  readonly async: boolean;
}

export const PROBE_ERROR_KEY = '__nodetopProbeError';

export function defineProbe<A, R>(name: string, cost: string, fn: (arg: A) => R): Probe<A, R> {
  return { name, cost, fn, async: false };
}

export function defineAsyncProbe<A, R>(name: string, cost: string, fn: (arg: A) => Promise<R>): Probe<A, R> {
  return { name, cost, fn, async: true };
}

/** The expression sent with Runtime.evaluate: the probe applied to its JSON argument, guarded. */
export function probeExpression<A, R>(probe: Probe<A, R>, arg: A): string {
  const k = JSON.stringify(PROBE_ERROR_KEY);
  const fail = `(e)=>({[${k}]:String((e&&e.stack)||e)})`;
  const call = `(${probe.fn.toString()})(${JSON.stringify(arg ?? null)})`;
  if (!probe.async) return `(()=>{const f=${fail};try{return ${call};}catch(e){return f(e);}})()`;
  // a rejection must not become an unhandled rejection in the target
  return `(()=>{const f=${fail};try{return Promise.resolve(${call}).then((v)=>v,f);}catch(e){return Promise.resolve(f(e));}})()`;
}
