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

import { PROBE_ERROR_KEY } from '../probes/probe';
import { netProbe, type NetArg, type RawNet } from '../probes/net';
import { ProbeFailedError, type CallOptions, type Sender } from './session';

const GROUP = 'nodetop-census';

interface RemoteObject {
  objectId?: string;
}

export async function netCensus(sender: Sender, arg: NetArg, opts: CallOptions = {}): Promise<RawNet> {
  const label = opts.label ?? 'socket census';
  const call = { ...opts, label };
  const handle = async (expression: string): Promise<string> => {
    const r = await sender.send<{ result: RemoteObject; exceptionDetails?: { text?: string } }>(
      'Runtime.evaluate',
      { expression, objectGroup: GROUP, includeCommandLineAPI: true, silent: true, returnByValue: false },
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
  const t0 = performance.now();
  try {
    const modules = await handle("({net:require('net'),tls:require('tls'),http:require('http'),https:require('https')})");
    const sockets = await query(await handle("require('net').Socket.prototype"));
    const agents = await query(await handle("require('http').Agent.prototype"));
    const k = JSON.stringify(PROBE_ERROR_KEY);
    const fn =
      `function(m,s,a){try{return (${netProbe.fn.toString()})(${JSON.stringify(arg)},{modules:m,sockets:s,agents:a});}` +
      `catch(e){return {[${k}]:String((e&&e.stack)||e)};}}`;
    const r = await sender.send<{ result: { value?: unknown }; exceptionDetails?: { text?: string } }>(
      'Runtime.callFunctionOn',
      {
        functionDeclaration: fn,
        objectId: modules,
        arguments: [{ objectId: modules }, { objectId: sockets }, { objectId: agents }],
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
