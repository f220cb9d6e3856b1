// attach() and detach(): the only way commands reach a target. attach verifies who answers
// (process.pid through the inspector) before anything else is sent, installs this session's
// instruments, and registers detach with the CLI so that Ctrl-C, SIGTERM and errors all detach.
//
// Not here: sampling (src/sampler.ts), what the probes do (src/probes).

import { randomBytes } from 'node:crypto';
import { ExitCode, NodetopError } from '../errors';
import { isLoopbackHost } from '../loopback';
import type { InspectorInfo } from '../model/sample';
import { inspectorExposure } from './exposure';
import * as proc from '../platform/proc';
import { identityProbe, type Identity } from '../probes/identity';
import { installProbe, LAG_RESOLUTION_MS } from '../probes/install';
import { uninstallProbe } from '../probes/uninstall';
import { onExit } from '../lifecycle';
import { relocateProbe } from '../probes/relocate';
import { recordOpened } from './opened';
import type { WatchdogTicket } from './guard';
import { locateInspector, waitForMovedInspector, type Located } from './locate';
import { pidInOwnNamespace, ppidInOwnNamespace } from '../platform/namespaces';
import type { Relay } from './relay';
import { debugTrace } from '../debug';
import type { Footprint } from '../model/footprint';
import { readFootprint, readNodetopShare } from '../platform/footprint';
import { CallTimeoutError, ConnectionClosedError, evaluate, listTargets, Session, TargetExitingError } from './session';

export interface AttachOptions {
  pid?: number;
  endpoint?: string;
  allowRemote?: boolean;
  /** Bound on every inspector call and on opening the inspector, ms. */
  timeoutMs: number;
  keepInspector?: boolean;
  noSignal?: boolean;
  /** Send SIGUSR1 even to a main thread blocked outside JavaScript (--force-signal). */
  forceSignal?: boolean;
  /** Lease: instruments remove themselves when not sampled for this long (nodetop died). */
  leaseMs?: number;
}

export interface Endpoint {
  host: string;
  port: number;
  wsUrl: string | null;
}


/** `host:port`, `:port`, `port`, or a ws:// URL. Throws a usage error otherwise. */
export function parseEndpoint(text: string): Endpoint {
  const bad = (): never => {
    throw new NodetopError(`--endpoint ${JSON.stringify(text)} is not host:port or a ws:// URL`, {
      exitCode: ExitCode.Usage,
    });
  };
  if (/^wss?:\/\//i.test(text)) {
    let u: URL;
    try {
      u = new URL(text);
    } catch {
      return bad();
    }
    const port = Number(u.port || (u.protocol === 'wss:' ? 443 : 80));
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port, wsUrl: text };
  }
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text);
  if (!m) return bad();
  const port = Number(m[3]);
  if (!(port > 0 && port < 65536)) return bad();
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port, wsUrl: null };
}

export class Attachment {
  private detached = false;
  private readonly unregister: () => void;
  /**
   * The target's fds and threads that are nodetop's (its inspector when nodetop opened it, its
   * connection: src/model/footprint.ts); null when not known (a remote target, unreadable /proc).
   */
  nodetopShare: Footprint | null = null;

  constructor(
    readonly session: Session,
    readonly identity: Identity,
    readonly inspector: InspectorInfo,
    /** /proc/<pid> is this very process: nodetop can read CPU, fds and RSS without asking it. */
    readonly local: boolean,
    readonly key: string,
    private readonly keepInspector: boolean,
    readonly timeoutMs: number,
    /** Where the inspector listens: its port in the target's network namespace, and the relay into it (null: the same namespace). */
    readonly reach: { port: number; relay: Relay | null } = { port: 0, relay: null },
    /** The pid the target reports for itself (process.pid): its pid inside its own pid namespace. */
    readonly pidInTarget: number = identity.pid,
    /** The watchdog's ticket when nodetop opened this inspector. */
    private readonly guard: WatchdogTicket | null = null,
  ) {
    this.unregister = onExit(() => this.detach());
  }

  /** The pid on this host (the one the user gave): what nodetop reports and reads /proc with. */
  get pid(): number {
    return this.identity.pid;
  }

  /** Other clients connected to the target's inspector right now (a debugger, another nodetop). */
  otherClients(): number {
    return countOtherClients(this);
  }

  /** True once the target or the connection is gone. */
  get gone(): boolean {
    return this.session.isClosed;
  }

  /**
   * Leaves no trace: removes the instruments, gives back what V8 kept for the console while the
   * inspector was open, closes the inspector if nodetop opened it and no other nodetop is using
   * it, and closes the socket. Bounded; never throws; safe to call twice.
   */
  async detach(): Promise<void> {
    if (this.detached) return;
    this.detached = true;
    this.unregister();
    // what the watchdog is told: keep (stays open on purpose), release (nodetop's close is
    // scheduled: check it happens), abandon (nodetop could not ask: close it)
    let handover: 'keep' | 'release' | 'abandon' = 'abandon';
    let closing = false;
    if (!this.session.isClosed) {
      const timeoutMs = Math.min(this.timeoutMs, 2000);
      // inspector.close() drops every client: a debugger that connected to the inspector
      // nodetop opened must not be cut off when nodetop leaves. The inspector stays open then.
      const keep = this.keepInspector || this.otherClients() > 0;
      try {
        closing = (await evaluate(this.session, uninstallProbe, { key: this.key, closeInspectorAfterMs: keep ? null : 100 }, { timeoutMs })).closingInspector === true;
        handover = keep ? 'keep' : 'release';
      } catch {
        // a target that does not answer keeps its instruments until their lease runs out
      }
      try {
        // V8 keeps the arguments of the last 1,000 console calls alive for a client that might
        // ask for them, as soon as the inspector is open: give that memory back.
        await this.session.send('Runtime.discardConsoleEntries', {}, { timeoutMs });
      } catch {
        /* nothing more to do */
      }
      // The target's inspector.close() drops this connection itself. A client's close arriving
      // while that close runs crashed Node 20.20.2 (SIGSEGV in 15 of 90 targets, the client's
      // close 9-11 ms after the close timer; none when the client waited: docs/tried.md). A
      // stalled nodetop could land in that window: wait for the target to hang up, bounded.
      if (closing) await this.session.closedByTarget(100 + timeoutMs);
    }
    if (!this.session.isClosed) await this.session.close();
    this.guard?.[handover]();
  }
}

/**
 * Test hook: NODETOP_LEASE_MS replaces the lease (default 60 s) so that a test can watch the
 * instruments of a killed nodetop remove themselves without waiting a minute. Not a user option.
 */
export function leaseFromEnv(env: NodeJS.ProcessEnv = process.env): number | null {
  const v = env.NODETOP_LEASE_MS;
  if (v === undefined || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return n >= 250 && n <= 86_400_000 ? n : null;
}

/** Clients of the target's inspector other than this session (local targets; 0 when unknown). */
function countOtherClients(att: Attachment): number {
  if (!att.local) return 0;
  try {
    const port = att.reach.port || Number(new URL(att.inspector.url).port);
    // through a relay, nodetop's own connections are the relay's, in the target's namespace
    const mine = att.reach.relay ? att.reach.relay.ownLocalPorts() : [att.session.localPort];
    return proc.clientsOfPort(att.pid, port, null).filter((p) => !mine.includes(p)).length;
  } catch {
    return 0;
  }
}

function newKey(): string {
  return `s${randomBytes(6).toString('hex')}`;
}

/** Connects to the pid's inspector (opening it if need be) or to --endpoint, and checks who it is. */
export async function attach(opts: AttachOptions): Promise<Attachment> {
  try {
    return await attachOnce(opts);
  } catch (e) {
    // An inspector that a nodetop which just left was closing (100 ms after its detach) can
    // close under an attach that found it open. The process is fine: attach again, once, which
    // opens it anew.
    const closedUnderUs = e instanceof NodetopError && e.exitCode === ExitCode.TargetExited && /closed the connection/.test(e.message);
    if (closedUnderUs && opts.pid !== undefined && proc.processExists(opts.pid)) {
      await new Promise((r) => setTimeout(r, 150));
      return attachOnce(opts);
    }
    throw e;
  }
}

/**
 * One attach. Whatever fails once nodetop has signalled the pid hands the inspector to the
 * watchdog, which closes it (it may open after nodetop has given up on it).
 */
async function attachOnce(opts: AttachOptions): Promise<Attachment> {
  const held: { guard: WatchdogTicket | null } = { guard: null };
  try {
    return await attachGuarded(opts, held);
  } catch (e) {
    held.guard?.abandon();
    throw e;
  }
}

async function attachGuarded(opts: AttachOptions, held: { guard: WatchdogTicket | null }): Promise<Attachment> {
  // the target's fds and threads before nodetop touches it: what appears with the inspector is nodetop's
  const before = opts.pid !== undefined && opts.endpoint === undefined ? readFootprint(opts.pid) : null;
  let host: string;
  let port: number;
  let wsUrl: string;
  let openedByNodetop = false;
  let relay: Relay | null = null;
  /** Ports the inspector left during the attach (nodetop moves it off 9229). */
  const portsBefore: number[] = [];

  if (opts.endpoint !== undefined) {
    const ep = parseEndpoint(opts.endpoint);
    if (!isLoopbackHost(ep.host) && !opts.allowRemote) {
      throw new NodetopError(`refusing to connect to ${ep.host}: an inspector is remote code execution`, {
        exitCode: ExitCode.Usage,
        hint: 'use an SSH tunnel to a loopback port, or pass --allow-remote if you mean it',
      });
    }
    host = ep.host;
    port = ep.port;
    if (ep.wsUrl) wsUrl = ep.wsUrl;
    else wsUrl = pickTarget(await listTargets(host, port, opts.timeoutMs)).webSocketDebuggerUrl;
  } else if (opts.pid !== undefined) {
    const loc = await locateInspector(opts.pid, { timeoutMs: opts.timeoutMs, noSignal: opts.noSignal ?? false, forceSignal: opts.forceSignal ?? false });
    held.guard = loc.guard ?? null;
    try {
      host = loc.host;
      port = loc.port;
      openedByNodetop = loc.openedByNodetop;
      relay = loc.route.relay;
      wsUrl = pickTarget(loc.targets).webSocketDebuggerUrl;
      if (loc.openedByNodetop && loc.port === DEFAULT_INSPECTOR_PORT) {
        portsBefore.push(loc.port);
        const moved = await moveOffSharedPort(opts.pid, loc, opts.timeoutMs, held.guard);
        if (moved) {
          host = moved.host;
          port = moved.port;
          wsUrl = pickTarget(moved.targets).webSocketDebuggerUrl;
        }
      }
    } finally {
      loc.release();
    }
  } else {
    throw new NodetopError('give a pid or --endpoint', { exitCode: ExitCode.Usage });
  }

  const where = relay ? `the inspector at ${host}:${port} in the network namespace of pid ${opts.pid}` : `the inspector at ${host}:${port}`;
  debugTrace(where);
  const session = await Session.connect(wsUrl, opts.timeoutMs);
  // interrupted before the Attachment exists (the target does not answer its first call, say)
  const unregisterEarly = onExit(() => session.close());
  let identity: Identity;
  try {
    identity = await evaluate(session, identityProbe, null, { timeoutMs: opts.timeoutMs, commandLineApi: true });
  } catch (e) {
    unregisterEarly();
    await session.close();
    throw await explainCallFailure(e, opts.pid ?? null, where);
  }
  const close = async (err: NodetopError): Promise<never> => {
    unregisterEarly();
    await session.close();
    throw err;
  };
  if (!identity || typeof identity.pid !== 'number') {
    return close(new NodetopError(`${host}:${port} is not a Node inspector (it did not say its pid)`, { exitCode: ExitCode.EndpointFailed }));
  }
  // a target in its own pid namespace (a container) says its pid there: the last of its NSpid
  const pidInTarget = identity.pid;
  const expected = opts.pid === undefined ? null : (pidInOwnNamespace(opts.pid) ?? opts.pid);
  if (opts.pid !== undefined && identity.pid !== expected) {
    const as = expected !== opts.pid ? ` (${expected} in its pid namespace)` : '';
    return close(
      new NodetopError(`${where} belongs to pid ${identity.pid}, not ${opts.pid}${as}; nodetop reports nothing from it`, {
        exitCode: ExitCode.WrongProcess,
      }),
    );
  }
  // Since the inspector opened, V8 has kept every console call's arguments: give them back as
  // soon as the process is known to be the one asked for (a service logging large objects piled
  // them up while nodetop attached on a loaded host)
  try {
    await session.send('Runtime.discardConsoleEntries', {}, { timeoutMs: opts.timeoutMs });
  } catch {
    /* the probes that follow say what is wrong */
  }
  let local = false;
  if (opts.pid !== undefined && expected !== opts.pid) {
    // verified through the namespace's pid; from here on nodetop reports the host's pid
    try {
      local = ppidInOwnNamespace(opts.pid, proc.readStat(opts.pid).ppid) === identity.ppid;
    } catch {
      local = false;
    }
    identity = { ...identity, pid: opts.pid };
  } else if (isLoopbackHost(host)) {
    try {
      const st = proc.readStat(identity.pid);
      local = st.ppid === identity.ppid;
    } catch {
      local = false; // a tunnel into a container: another pid namespace
    }
  }

  // an inspector on 0.0.0.0 answers on 127.0.0.1 too: only the kernel tells who else reaches it
  const exposedOn = local ? inspectorExposure(identity.pid, port) : null;

  // another nodetop (or this one's snapshot child) must find a port nothing else names
  if (openedByNodetop && opts.pid !== undefined) recordOpened(opts.pid, port);

  const key = newKey();
  unregisterEarly(); // the Attachment's detach takes over
  const att = new Attachment(
    session,
    identity,
    { url: wsUrl, openedByNodetop, exposedOn },
    local,
    key,
    opts.keepInspector ?? false,
    opts.timeoutMs,
    { port, relay },
    pidInTarget,
    held.guard,
  );
  held.guard?.attached(key, port);
  try {
    await evaluate(
      session,
      installProbe,
      { key, leaseMs: leaseFromEnv() ?? opts.leaseMs ?? 60_000, openedByNodetop, resolutionMs: LAG_RESOLUTION_MS },
      { timeoutMs: opts.timeoutMs },
    );
  } catch (e) {
    await att.detach();
    throw await explainCallFailure(e, identity.pid, `pid ${identity.pid}`);
  }
  if (local) {
    // the port in the target's own namespace (through a relay, the URL names a unix socket)
    const inspectorPort = port || Number(/:(\d+)\//.exec(wsUrl)?.[1]);
    att.nodetopShare = readNodetopShare(att.pid, before, [inspectorPort, ...portsBefore], openedByNodetop);
  }
  return att;
}

const DEFAULT_INSPECTOR_PORT = 9229;

/**
 * SIGUSR1 binds 9229 in every Node process that has no --inspect-port, so while nodetop holds
 * one process's inspector there, no other process can open its own: `watch a b` and a
 * cluster's children would fail. Once the pid is verified, ask its inspector to reopen on a
 * free loopback port, and follow it there. Null when it could not move (its main thread is
 * stuck, say): nodetop then stays on 9229, which still works for this one process.
 */
async function moveOffSharedPort(pid: number, loc: Located, timeoutMs: number, guard: WatchdogTicket | null): Promise<Located | null> {
  const first = await Session.connect(pickTarget(loc.targets).webSocketDebuggerUrl, timeoutMs);
  let known = new Set<number>();
  try {
    const who = await evaluate(first, identityProbe, null, { timeoutMs });
    if (who.pid !== (pidInOwnNamespace(pid) ?? pid)) return null; // the pid check after connecting reports this
    guard?.moving();
    // the pid's listeners before the move (its own servers): the moved inspector is a new one
    known = new Set(listeningInodes(pid));
    await evaluate(first, relocateProbe, { delayMs: 30 }, { timeoutMs });
  } catch {
    await first.close();
    return null;
  }
  // The target's inspector.close() drops this connection itself: closing it from here as well
  // lost a target of a 20-at-once run (SIGSEGV, 1 run in 15, the client's close late on a loaded host).
  if (!(await first.closedByTarget(30 + 100 + Math.min(timeoutMs, 2000)))) await first.close();
  // The move was asked for: wait as long as any call may take (2 s was too short for a loaded
  // host: 20 attaches at once at load 10 fell back to the old port's URL, closed by then, exit 7).
  const moved = await waitForMovedInspector(pid, loc.port, timeoutMs, loc.route, known);
  if (moved) return moved;
  let stillThere = false;
  try {
    stillThere = proc.listeningSockets(pid).some((s) => s.port === loc.port);
  } catch {
    /* gone: the connect below says so */
  }
  if (stillThere) return null; // the move never ran: the old port is still the inspector
  if (!(await proc.processExistsSettled(pid))) throw new NodetopError(`pid ${pid} exited`, { exitCode: ExitCode.TargetExited });
  throw new NodetopError(`pid ${pid} closed its inspector on port ${loc.port} to reopen it on a free port, and it was not listening again within ${timeoutMs} ms`, {
    exitCode: ExitCode.InspectorUnavailable,
    hint: 'raise --timeout: on a loaded host the reopen can take seconds',
  });
}

function listeningInodes(pid: number): number[] {
  try {
    return proc.listeningSockets(pid).map((s) => s.inode);
  } catch {
    return [];
  }
}

function pickTarget<T extends { webSocketDebuggerUrl: string }>(targets: T[]): T {
  const t = targets[0];
  if (!t) throw new NodetopError('the inspector lists no target', { exitCode: ExitCode.EndpointFailed });
  return t;
}

/**
 * Turns a failed inspector call into the sentence a user needs: the target exited, its main
 * thread is not answering (with what the kernel says it is doing), or the call itself failed.
 */
export async function explainCallFailure(e: unknown, pid: number | null, what: string): Promise<Error> {
  // it said it is exiting: its pid may outlive the notice by a moment (or for good, after exec)
  if (e instanceof TargetExitingError) return new NodetopError(`${pid !== null ? `pid ${pid}` : what} exited`, { exitCode: ExitCode.TargetExited });
  if (e instanceof ConnectionClosedError || (e instanceof NodetopError && e.exitCode === ExitCode.TargetExited)) {
    if (pid !== null && !(await proc.processExistsSettled(pid))) {
      return new NodetopError(`pid ${pid} exited`, { exitCode: ExitCode.TargetExited });
    }
    return new NodetopError(`${what} closed the connection`, { exitCode: ExitCode.TargetExited });
  }
  if (e instanceof CallTimeoutError) {
    if (pid !== null && proc.processExists(pid)) {
      const t = proc.threadState(pid);
      const doing = t.syscall ? `in ${t.syscall}` : t.wchan ? `waiting in ${t.wchan}` : `state ${t.state}`;
      return new NodetopError(`${e.message}: its main thread is not answering (the kernel says: ${doing})`, {
        exitCode: ExitCode.TargetNotResponding,
        hint: 'it is blocked outside JavaScript (a synchronous syscall, Atomics.wait); raise --timeout to wait longer',
      });
    }
    return e;
  }
  if (e instanceof NodetopError) return e;
  return new NodetopError(`${what}: ${e instanceof Error ? e.message : String(e)}`, { exitCode: ExitCode.EndpointFailed });
}
