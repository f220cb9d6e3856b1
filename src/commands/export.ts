// `nodetop export`: keeps one session per target (pids, --endpoints, or --all: every Node process
// of this user whose inspector is already open), samples them every --interval, and serves the
// last sample of each in the Prometheus text format on --listen (/metrics). A scrape renders
// what is in memory: it never causes inspector traffic, so a scrape storm costs the targets
// nothing and a slow target never slows a scrape.
//
// --all never signals: it attaches only where /proc shows an inspector that is already open,
// with noSignal, so a process the user did not name is never sent SIGUSR1. A target that exits
// is dropped (its series stop); one that does not answer is served as nodetop_target_up 0.

import * as http from 'node:http';
import { ExitCode, NodetopError, errnoCode, isNodetopError } from '../errors';
import { attach, type AttachOptions, type Attachment } from '../inspector/attach';
import { checkListen, parseListen } from '../listen';
import { onExit } from '../lifecycle';
import { listNodeProcesses, processAlive } from '../platform/ps';
import * as proc from '../platform/proc';
import { howItEnded } from '../inspector/ended';
import { Sampler } from '../sampler';
import { renderPrometheus, scriptLabel, type PromTarget } from '../sinks/prometheus';
import { Ticker } from '../ticker';
import { exposedWarning } from '../loopback';
import { errLine } from '../sinks/terminal';
import type { Output } from '../sinks/output';

export interface ExportOptions {
  pids: number[];
  endpoints: string[];
  all: boolean;
  intervalMs: number;
  rescanMs: number;
  listen: string;
  allowRemoteListen: boolean;
  allowRemote: boolean;
  keepInspector: boolean;
  timeoutMs: number;
  /** --label name=value on every series, or pid:name=value on that pid's. */
  labels: Array<{ pid: number | null; name: string; value: string }>;
}

interface Target {
  key: string;
  named: boolean;
  att: Attachment;
  sampler: Sampler;
  prom: PromTarget;
  inFlight: boolean;
}

function log(text: string): void {
  errLine(`nodetop export: ${text}`);
}

export async function exportCommand(opts: ExportOptions, _out: Output): Promise<void> {
  const addr = parseListen(opts.listen);
  checkListen(addr, opts.allowRemoteListen);
  const base: AttachOptions = {
    timeoutMs: opts.timeoutMs,
    allowRemote: opts.allowRemote,
    keepInspector: opts.keepInspector,
    leaseMs: Math.max(60_000, opts.intervalMs * 3),
  };
  const targets = new Map<string, Target>();
  const labelsFor = (pid: number): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const l of opts.labels) if (l.pid === null || l.pid === pid) out[l.name] = l.value;
    return out;
  };
  /** Pids --all could not attach to, and when to try again (its "inspector" may be an app port). */
  const failed = new Map<number, number>();

  /** nodetop is shutting down: its own detaches close the sessions, nothing to report. */
  let leaving = false;
  const drop = (t: Target, why: string): void => {
    if (targets.get(t.key) !== t) return; // dropped already (the close and a failed sample both tell)
    targets.delete(t.key);
    log(`pid ${t.att.pid} ${why}: its series stop`);
    void t.att.detach();
  };
  const dropEnded = async (t: Target): Promise<void> => {
    if (leaving || targets.get(t.key) !== t) return; // dropped already, or nodetop is leaving
    const end = await howItEnded(t.att);
    drop(t, end.exited ? 'exited' : 'closed the inspector connection');
  };

  const add = async (key: string, a: AttachOptions, named: boolean): Promise<void> => {
    const att = await attach(a);
    if ([...targets.values()].some((t) => t.att.pid === att.pid)) {
      await att.detach(); // the same process by two routes (a pid and its --endpoint)
      return;
    }
    const sampler = new Sampler(att, { promCompat: true });
    await sampler.baseline().catch(() => undefined);
    const t: Target = {
      key,
      named,
      att,
      sampler,
      inFlight: false,
      prom: { labels: { pid: att.pid, script: scriptLabel(att.identity.argv, att.identity.title), thread: 'main', extra: labelsFor(att.pid) }, up: true, sample: null, raw: null, sampleDurationSeconds: null },
    };
    targets.set(key, t);
    log(`sampling pid ${att.pid} (${att.identity.title}) every ${opts.intervalMs} ms`);
    // a target that exits (or says it is exiting: the session leaves at once) is dropped now
    att.session.onClose(() => void dropEnded(t));
    if (att.inspector.exposedOn?.length) log(exposedWarning(att.pid, att.inspector.exposedOn));
  };

  // Named targets first: a wrong pid is the user's mistake and ends the command here.
  try {
    for (const pid of opts.pids) await add(`pid:${pid}`, { ...base, pid }, true);
    for (const ep of opts.endpoints) await add(`endpoint:${ep}`, { ...base, endpoint: ep }, true);
  } catch (e) {
    await Promise.all([...targets.values()].map((t) => t.att.detach()));
    throw e;
  }

  let scanning = false;
  const scan = async (): Promise<void> => {
    if (scanning) return; // a slow scan is not run twice at once (it would attach a pid twice)
    scanning = true;
    try {
      await scanOnce();
    } finally {
      scanning = false;
    }
  };
  const scanOnce = async (): Promise<void> => {
    const uid = process.getuid?.();
    let found;
    try {
      found = await listNodeProcesses({ cpuWindowMs: 0, ...(uid !== undefined ? { uid } : {}) });
    } catch {
      return;
    }
    const now = Date.now();
    for (const p of found) {
      if (p.inspector.state !== 'likely') continue;
      // npm under NODE_OPTIONS=--inspect opens an inspector too: its numbers are npm's, not an app's
      if (p.wrapper) continue;
      if ([...targets.values()].some((t) => t.att.pid === p.pid)) continue;
      if ((failed.get(p.pid) ?? 0) > now) continue;
      try {
        // noSignal: --all only uses inspectors that are open already
        await add(`pid:${p.pid}`, { ...base, pid: p.pid, noSignal: true }, false);
        failed.delete(p.pid);
      } catch (e) {
        failed.set(p.pid, now + 60_000);
        log(`pid ${p.pid} skipped: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  if (opts.all) await scan();

  const sampleOne = async (t: Target): Promise<void> => {
    try {
      const s = await t.sampler.sample();
      const vm = t.att.local ? proc.readVmBytes(t.att.pid) : null;
      t.prom = { ...t.prom, up: true, sample: s, raw: t.sampler.lastRaw, vm, sampleDurationSeconds: t.sampler.lastRoundTripMs === null ? null : t.sampler.lastRoundTripMs / 1000 };
    } catch (e) {
      if (t.att.gone || !processAlive(t.att.pid) || (isNodetopError(e) && e.exitCode === ExitCode.TargetExited)) {
        await dropEnded(t);
        return;
      }
      if (t.prom.up) log(`pid ${t.att.pid} is not answering: ${e instanceof Error ? e.message : String(e)}`);
      t.prom = { ...t.prom, up: false, sample: null, raw: null };
    }
  };

  let lastScan = Date.now();
  const ticker = new Ticker(opts.intervalMs, () => {
    for (const t of targets.values()) {
      // still answering the previous tick, or a call that timed out is still queued in it:
      // skip, never queue
      if (t.inFlight || t.att.session.unansweredCalls > 0) continue;
      t.inFlight = true;
      void sampleOne(t).finally(() => (t.inFlight = false));
    }
    if (opts.all && Date.now() - lastScan >= opts.rescanMs) {
      lastScan = Date.now();
      void scan();
    }
  });

  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      const body = renderPrometheus([...targets.values()].map((t) => t.prom).sort((a, b) => a.labels.pid - b.labels.pid));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('nodetop export: metrics at /metrics\n');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      reject(
        new NodetopError(`cannot listen on ${addr.host}:${addr.port}: ${errnoCode(e) ?? String(e)}`, {
          exitCode: ExitCode.OutputFailed,
          hint: errnoCode(e) === 'EADDRINUSE' ? 'another exporter holds that port; pick another with --listen' : undefined,
        }),
      );
    });
    server.listen(addr.port, addr.host, () => resolve());
  }).catch(async (e: unknown) => {
    await Promise.all([...targets.values()].map((t) => t.att.detach()));
    throw e;
  });
  const bound = server.address();
  const where = bound && typeof bound === 'object' ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : opts.listen;
  log(`serving http://${where}/metrics (${targets.size} target${targets.size === 1 ? '' : 's'})`);

  ticker.start();
  // Runs until Ctrl-C / SIGTERM: the lifecycle runs this (stop sampling, stop serving), then
  // each attachment's own detach, then exits.
  await new Promise<void>(() => {
    onExit(async () => {
      leaving = true;
      ticker.stop();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all([...targets.values()].map((t) => t.att.detach()));
    });
  });
}
