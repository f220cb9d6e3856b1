// The explicit socket census (`stats --census`): every net.Socket and http.Agent in the heap,
// found with Runtime.queryObjects, handed to the same net probe the sample runs. It finds what
// the handle list cannot: idle keep-alive sockets of an agent no in-flight request leads to,
// and sockets a program unref'd itself.
//
// Cost: each queryObjects makes V8 collect all garbage and walk the whole heap (two of them:
// sockets, agents). That is a full GC pause in the target, growing with its heap: measured and
// documented in the README; never part of a default sample.
//
// Everything the census creates in the target lives in one object group, released at the end
// (also on failure): no reference outlives the call.

import { PROBE_ERROR_KEY, sourceUrl } from '../probes/probe';
import { netProbe, type NetArg, type RawNet } from '../probes/net';
import { undiciListenersProbe } from '../probes/undiciListeners';
import { ProbeFailedError, type CallOptions, type Sender } from './session';

const GROUP = 'nodetop-census';

/**
 * The Dispatcher.prototype of each copy of undici in the target (at most 4): the npm packages
 * in the module cache (undici 5: lib/dispatcher.js; 6, 7: lib/dispatcher/dispatcher.js) and the
 * copy bundled for fetch, up the global dispatcher's prototype chain. Never throws.
 */
const UNDICI_DISPATCHER_PROTOTYPES =
  '(()=>{const out=new Set();const own=(o,n)=>Object.prototype.hasOwnProperty.call(o,n);' +
  // undici's Dispatcher.prototype defines dispatch() itself; never a built-in prototype, which
  // would make queryObjects list every object in the heap
  'const ok=(p)=>!!p&&typeof p==="object"&&p!==Object.prototype&&p!==Function.prototype&&p!==Array.prototype&&own(p,"dispatch")&&typeof p.dispatch==="function";' +
  'try{const c=require.cache||{};for(const k of Object.keys(c)){' +
  'if(!/[\\\\/]undici[^\\\\/]*[\\\\/]lib[\\\\/](dispatcher[\\\\/])?dispatcher\\.js$/.test(k))continue;' +
  'const D=c[k]&&c[k].exports;if(typeof D==="function"&&ok(D.prototype))out.add(D.prototype);}}catch{}' +
  'try{for(const n of ["undici.globalDispatcher.2","undici.globalDispatcher.1"]){let p=globalThis[Symbol.for(n)];' +
  'for(let i=0;p&&i<8;i++,p=Object.getPrototypeOf(p)){const C=Object.prototype.hasOwnProperty.call(p,"constructor")&&p.constructor;' +
  'if(C&&C.name==="Dispatcher"&&ok(p)){out.add(p);break;}}}}catch{}return [...out].slice(0,4);})()';

interface RemoteObject {
  objectId?: string;
}

export async function netCensus(sender: Sender, arg: NetArg, opts: CallOptions = {}): Promise<RawNet> {
  const label = opts.label ?? 'socket census';
  const call = { ...opts, label };
  const handle = async (expression: string): Promise<string> => {
    const r = await sender.send<{ result: RemoteObject; exceptionDetails?: { text?: string } }>(
      'Runtime.evaluate',
      { expression: `${expression}${sourceUrl('census')}`, objectGroup: GROUP, includeCommandLineAPI: true, silent: true, returnByValue: false },
      call,
    );
    if (r.exceptionDetails || !r.result.objectId) throw new ProbeFailedError(`${label} failed in the target: ${r.exceptionDetails?.text ?? 'no object'}`);
    return r.result.objectId;
  };
  const query = async (prototypeObjectId: string): Promise<string> => {
    const r = await sender.send<{ objects: RemoteObject }>('Runtime.queryObjects', { prototypeObjectId, objectGroup: GROUP }, call);
    if (!r.objects.objectId) throw new ProbeFailedError(`${label}: queryObjects returned no array`);
    return r.objects.objectId;
  };
  const elementsOf = async (arrayId: string): Promise<string[]> => {
    const r = await sender.send<{ result: Array<{ name: string; value?: RemoteObject }> }>('Runtime.getProperties', { objectId: arrayId, ownProperties: true }, call);
    return r.result.filter((p) => /^\d+$/.test(p.name) && p.value?.objectId).map((p) => p.value!.objectId!);
  };
  const t0 = performance.now();
  try {
    const modules = await handle("({net:require('net'),tls:require('tls'),http:require('http'),https:require('https')})");
    const sockets = await query(await handle("require('net').Socket.prototype"));
    const agents = await query(await handle("require('http').Agent.prototype"));
    // every undici dispatcher, wherever the program holds it (undici 7's Agent in a closure is
    // reached no other way): one walk per copy of undici loaded, usually none or one
    const dispatchers: string[] = [];
    // at most 4 here too: the target's own slice() may have been replaced (a walk each is a full GC)
    for (const proto of (await elementsOf(await handle(UNDICI_DISPATCHER_PROTOTYPES))).slice(0, 4)) dispatchers.push(await query(proto));
    const k = JSON.stringify(PROBE_ERROR_KEY);
    const fn =
      `function(m,s,a,...d){try{return (${netProbe.fn.toString()})(${JSON.stringify(arg)},{modules:m,sockets:s,agents:a,dispatchers:[].concat(...d)});}` +
      `catch(e){return {[${k}]:String((e&&e.stack)||e)};}${sourceUrl('census')}}`;
    const r = await sender.send<{ result: { value?: unknown }; exceptionDetails?: { text?: string } }>(
      'Runtime.callFunctionOn',
      {
        functionDeclaration: fn,
        objectId: modules,
        arguments: [{ objectId: modules }, { objectId: sockets }, { objectId: agents }, ...dispatchers.map((objectId) => ({ objectId }))],
        returnByValue: true,
        silent: true,
      },
      call,
    );
    const v = r.result.value as Record<string, unknown> | undefined;
    if (r.exceptionDetails || !v || PROBE_ERROR_KEY in v) {
      throw new ProbeFailedError(`${label} failed in the target: ${String(v?.[PROBE_ERROR_KEY] ?? r.exceptionDetails?.text ?? 'no value').split('\n')[0]}`);
    }
    return { ...(v as unknown as RawNet), censusWallMs: performance.now() - t0 };
  } finally {
    await sender.send('Runtime.releaseObjectGroup', { objectGroup: GROUP }, { ...call, label: `${label} (release)` }).catch(() => undefined);
  }
}

const OWNERS_GROUP = 'nodetop-undici-owners';

interface PropertyDescriptor {
  name: string;
  value?: { type?: string; objectId?: string; className?: string; description?: string };
}

/**
 * undici Pools, BalancedPools and (undici 5, 6) Agents the program holds only in a closure, found
 * from the clients the net probe reached through their sockets (`undiciUnowned`): each client's
 * 'drain' listener is its Pool's method bound to the Pool (undici 7: [[BoundThis]]) or a closure
 * over `pool`/`agent` (undici 5, 6: [[Scopes]]); Runtime.getProperties shows both without any
 * domain enabled. The owners found are handed to the same net probe, which reads them as it
 * reads fetch's dispatcher. Two levels: a Pool an Agent made leads to the Agent. undici 7's Agent
 * registers arrow functions, whose `this` no scope shows: its Pools are then read on their own.
 * Returns null when no owner was found. Cost: ~4 round trips per Pool, plus the probe; the objects
 * live in one object group, released at the end.
 */
export async function netWithUndiciOwners(sender: Sender, arg: NetArg, opts: CallOptions = {}): Promise<RawNet | null> {
  const label = opts.label ?? 'undici owners';
  const call = { ...opts, label };
  const t0 = performance.now();
  const props = async (objectId: string): Promise<{ result: PropertyDescriptor[]; internalProperties?: PropertyDescriptor[] }> =>
    sender.send('Runtime.getProperties', { objectId, ownProperties: true, generatePreview: false }, call);
  const elements = async (arrayId: string): Promise<string[]> =>
    (await props(arrayId)).result.filter((p) => /^\d+$/.test(p.name) && p.value?.objectId).map((p) => p.value!.objectId!);
  const listenersOf = async (objectId: string | null): Promise<string[]> => {
    const fn = objectId === null ? undiciListenersProbe.fn.toString() : LISTENERS_OF_OWNER;
    const r = objectId === null
      ? await sender.send<{ result: { objectId?: string } }>(
          'Runtime.evaluate',
          { expression: `(${fn})()${sourceUrl('undici-owners')}`, objectGroup: OWNERS_GROUP, silent: true, returnByValue: false },
          call,
        )
      : await sender.send<{ result: { objectId?: string } }>(
          'Runtime.callFunctionOn',
          { functionDeclaration: fn, objectId, objectGroup: OWNERS_GROUP, silent: true, returnByValue: false },
          call,
        );
    return r.result.objectId ? elements(r.result.objectId) : [];
  };
  // the object a listener leads to: its bound this, or an object in its closure
  const ownerOf = async (fnId: string): Promise<string[]> => {
    const p = await props(fnId);
    const internal = p.internalProperties ?? [];
    const bound = internal.find((x) => x.name === '[[BoundThis]]')?.value;
    if (bound?.type === 'object' && bound.objectId) return [bound.objectId];
    const scopes = internal.find((x) => x.name === '[[Scopes]]')?.value?.objectId;
    if (!scopes) return [];
    const out: string[] = [];
    const list = (await props(scopes)).result.filter((x) => /^\d+$/.test(x.name) && x.value?.objectId && /^Closure/.test(x.value.description ?? ''));
    for (const scope of list.slice(0, 2)) {
      for (const v of (await props(scope.value!.objectId!)).result) {
        if (v.value?.type === 'object' && v.value.objectId && OWNER_CLASSES.test(v.value.className ?? '')) out.push(v.value.objectId);
      }
    }
    return out.slice(0, 4);
  };
  try {
    const owners: string[] = [];
    let frontier: Array<string | null> = [null];
    for (let level = 0; level < 2 && frontier.length > 0; level++) {
      const next: string[] = [];
      for (const from of frontier) {
        for (const f of (await listenersOf(from)).slice(0, 32)) next.push(...(await ownerOf(f)));
      }
      owners.push(...next);
      frontier = next.slice(0, 8);
    }
    if (owners.length === 0) return null;
    const modules = await sender.send<{ result: { objectId?: string } }>(
      'Runtime.evaluate',
      { expression: `({net:require('net'),tls:require('tls'),http:require('http'),https:require('https')})${sourceUrl('undici-owners')}`, objectGroup: OWNERS_GROUP, includeCommandLineAPI: true, silent: true },
      call,
    );
    if (!modules.result.objectId) return null;
    const k = JSON.stringify(PROBE_ERROR_KEY);
    const fn =
      `function(m,...d){try{return (${netProbe.fn.toString()})(${JSON.stringify(arg)},{modules:m,sockets:[],agents:[],dispatchers:d,census:false});}` +
      `catch(e){return {[${k}]:String((e&&e.stack)||e)};}${sourceUrl('undici-owners')}}`;
    const r = await sender.send<{ result: { value?: unknown }; exceptionDetails?: { text?: string } }>(
      'Runtime.callFunctionOn',
      {
        functionDeclaration: fn,
        objectId: modules.result.objectId,
        arguments: [{ objectId: modules.result.objectId }, ...owners.slice(0, 64).map((objectId) => ({ objectId }))],
        returnByValue: true,
        silent: true,
      },
      call,
    );
    const v = r.result.value as Record<string, unknown> | undefined;
    if (r.exceptionDetails || !v || PROBE_ERROR_KEY in v) return null;
    const raw = v as unknown as RawNet;
    // the ration (src/sampler.ts) counts what the target spent: every round trip of this search
    return { ...raw, probeMs: Math.max(raw.probeMs, performance.now() - t0) };
  } finally {
    await sender.send('Runtime.releaseObjectGroup', { objectGroup: OWNERS_GROUP }, { ...call, label: `${label} (release)` }).catch(() => undefined);
  }
}

/** undici's dispatcher classes (and the proxies and wrappers built on them). */
const OWNER_CLASSES = /^(Pool|BalancedPool|Agent|Client|ProxyAgent|RetryAgent|EnvHttpProxyAgent|RoundRobinPool|H2CClient)$/;

/** A Pool's own 'drain'/'connect' listeners (registered by the Agent that made it). */
const LISTENERS_OF_OWNER =
  'function(){const e=this&&this._events||{};const f=(v)=>(Array.isArray(v)?v:[v]).filter((x)=>typeof x==="function");return [...f(e.drain).slice(0,1),...f(e.connect).slice(0,1)];' +
  `${sourceUrl('undici-owners')}}`;
