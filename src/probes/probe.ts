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

/**
 * The name a debugger beside nodetop sees for the script a probe compiles to (it saw anonymous
 * scripts, which could be anyone's): `nodetop://probe/<name>`. A magic comment on a line of its
 * own, so that it can close any source; it does not change from call to call, so V8 still keeps
 * one compiled copy per probe (see REQUIRE_FROM).
 */
export function sourceUrl(name: string): string {
  return `\n//# sourceURL=nodetop://probe/${name.replace(/[^\w-]+/g, '-')}\n`;
}

export function defineProbe<A, R>(name: string, cost: string, fn: (arg: A) => R): Probe<A, R> {
  return { name, cost, fn, async: false };
}

export function defineAsyncProbe<A, R>(name: string, cost: string, fn: (arg: A) => Promise<R>): Probe<A, R> {
  return { name, cost, fn, async: true };
}

/**
 * Where a probe's `require` comes from in an expression (Runtime.evaluate): getBuiltinModule
 * where the target has it, else the command-line API's `require`.
 *
 * Why it matters: V8 (Node 20) keeps every distinct script source it compiled for the life of
 * the process, and Runtime.evaluate compiles its expression as a script: measured, ~7 KB kept
 * per distinct 4.6 KB expression, after any number of GCs (vm.runInThisContext does the same;
 * eval does not). A probe expression holds its argument (the session key), so each session's
 * install/sample/uninstall expressions were new sources: 100 sessions left 2.4 MB in the
 * target's heap, for good. nodetop therefore sends each probe as one constant function with
 * Runtime.callFunctionOn and passes the argument as a value: one compiled copy per probe,
 * whatever the argument (see `probeFunction`). Only identity, whose argument never changes,
 * still goes as an expression.
 */
export const REQUIRE_FROM =
  '(typeof process==="object"&&process&&typeof process.getBuiltinModule==="function")?((m)=>process.getBuiltinModule(m)):require';

/** The expression sent with Runtime.evaluate: the probe applied to its JSON argument, guarded. */
export function probeExpression<A, R>(probe: Probe<A, R>, arg: A): string {
  const k = JSON.stringify(PROBE_ERROR_KEY);
  const fail = `(e)=>({[${k}]:String((e&&e.stack)||e)})`;
  const call = `(${probe.fn.toString()})(${JSON.stringify(arg ?? null)})`;
  // `require` is a parameter: the probe sees getBuiltinModule where the target has it, and the
  // command-line API's require is looked up only where it does not.
  if (!probe.async) return `((require)=>{const f=${fail};try{return ${call};}catch(e){return f(e);}})(${REQUIRE_FROM})${sourceUrl(probe.name)}`;
  // a rejection must not become an unhandled rejection in the target
  return `((require)=>{const f=${fail};try{return Promise.resolve(${call}).then((v)=>v,f);}catch(e){return Promise.resolve(f(e));}})(${REQUIRE_FROM})${sourceUrl(probe.name)}`;
}

/**
 * The probe as one constant function declaration for Runtime.callFunctionOn: the argument comes
 * as a call argument, so the source is the same on every call (see REQUIRE_FROM for why). There
 * is no command-line API in a function call: `this` is the command-line API's require (see
 * requireHandle in src/inspector/session.ts), else getBuiltinModule.
 */
export function probeFunction<A, R>(probe: Probe<A, R>): string {
  const k = JSON.stringify(PROBE_ERROR_KEY);
  const fail = `(e)=>({[${k}]:String((e&&e.stack)||e)})`;
  const call = `(${probe.fn.toString()})(arg)`;
  const body = probe.async
    ? `const f=${fail};try{return Promise.resolve(${call}).then((v)=>v,f);}catch(e){return Promise.resolve(f(e));}`
    : `const f=${fail};try{return ${call};}catch(e){return f(e);}`;
  const req = '(typeof process==="object"&&process&&typeof process.getBuiltinModule==="function")?((m)=>process.getBuiltinModule(m)):this';
  return `function(arg){return ((require)=>{${body}})(typeof this==="function"?this:${req});${sourceUrl(probe.name)}}`;
}

/** What a composed part holds when it threw in the target. */
export type ProbeFailure = { [PROBE_ERROR_KEY]: string };

/** The failure message of a composed part, or null when it succeeded. */
export function partFailure(v: unknown): string | null {
  return v && typeof v === 'object' && PROBE_ERROR_KEY in v ? String((v as ProbeFailure)[PROBE_ERROR_KEY]).split('\n')[0]! : null;
}

type ArgOf<P> = P extends Probe<infer A, unknown> ? A : never;
type ResultOf<P> = P extends Probe<never, infer R> ? R : never;

/**
 * Several synchronous probes as one: one Runtime.evaluate, one round trip. Each part runs when
 * its argument is not null; the result has the same keys. Each part is still sent as its own
 * self-contained source text, so each stays unit-testable on its own.
 */
export function composeProbes<P extends Record<string, Probe<never, unknown>>>(
  name: string,
  parts: P,
): Probe<{ [K in keyof P]: ArgOf<P[K]> | null }, { [K in keyof P]?: ResultOf<P[K]> | ProbeFailure }> {
  const entries = Object.entries(parts);
  for (const [k, p] of entries) {
    if (p.async) throw new Error(`composeProbes: ${k} is async; only synchronous probes compose`);
  }
  const call = (arg: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, p] of entries) {
      if (arg?.[k] == null) continue;
      try {
        out[k] = (p.fn as (a: unknown) => unknown)(arg[k]);
      } catch (e) {
        out[k] = { [PROBE_ERROR_KEY]: String((e as Error)?.stack ?? e) };
      }
    }
    return out;
  };
  const source =
    `function ${name.replace(/\W/g, '_')}Composed(arg){const p={` +
    entries.map(([k, p]) => `${JSON.stringify(k)}:(${p.fn.toString()})`).join(',') +
    // one part failing does not take the others with it: its key holds the error instead
    `};const out={};for(const k in p){if(arg&&arg[k]!=null){try{out[k]=p[k](arg[k]);}` +
    `catch(e){out[k]={${JSON.stringify(PROBE_ERROR_KEY)}:String((e&&e.stack)||e)};}}}return out;}`;
  // the expression is built from fn.toString(): give the composite its own source
  Object.defineProperty(call, 'toString', { value: () => source });
  return { name, cost: entries.map(([k, p]) => `${k}: ${p.cost}`).join('; '), fn: call as never, async: false };
}
