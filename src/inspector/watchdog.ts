// nodetop's watchdog: a small detached process that closes an inspector nodetop caused to open
// when nodetop cannot (docs/security.md, "The inspector nodetop opens"). nodetop starts it before
// its first SIGUSR1 and arms it for each pid before signalling; it lives in its own session, so
// Ctrl-C, a closed terminal or SIGKILL of nodetop leave it running. Its stdin is a pipe from
// nodetop: end of file means nodetop is gone (whatever killed it), and every pid still armed is
// then the watchdog's to close. nodetop also hands a pid over when it gives up on it, and when it
// detaches (to check the close happened).
//
// For a pid it holds, it looks (every 10 ms at the main thread, at its sockets when that changed or
// every 100 ms) for a listening socket of that pid that was not there before the signal, on the
// port SIGUSR1 binds (or any, once the inspector was being moved or the port is random): that is
// the inspector. It connects to that port in the pid's own network namespace (/proc/<pid>/net/tcp
// is that namespace's table: for a container's pid, the same port on the watchdog's loopback is
// another process's), through a relay of its own (relay.ts; a child that dies with the watchdog),
// and runs the close-inspector probe, which does nothing in any process but the pid (as it sees
// itself), removes a dead nodetop's instruments and closes it (or leaves the duty to a live nodetop
// session). It stops holding the pid when: the inspector opened and is gone again; the pid exited
// or is another process (start time); the signal can no longer open anything (the main thread was
// seen twice in its event loop, 200 ms apart, with no new socket: the signal went to an application
// handler, or the port was taken); or after an hour, the bound documented in docs/security.md. It
// exits when nodetop is gone and it holds no pid.
//
// Protocol: one JSON object per line. In: {op:'arm', pid, start, port, before}, {op:'signalled',
// pid, loopFd}, {op:'attached',
// pid, key, port}, {op:'moving', pid}, {op:'release', pid}, {op:'abandon', pid}, {op:'keep',
// pid}. Out: {ready:true}, {armed:pid}.

import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { pidInOwnNamespace, readNamespace } from '../platform/namespaces';
import * as proc from '../platform/proc';
import type { Route } from './relay';
import type { Session } from './session';

/** How long the watchdog holds a pid after nodetop let go of it. */
export const WATCHDOG_HOLD_MS = 60 * 60 * 1000;
/** After a normal detach, nodetop's own close is due 100 ms later: leave it that long and more. */
const RELEASE_GRACE_MS = 400;
const LOOP_EVIDENCE_MS = 200;
/**
 * How long the watchdog leaves its connection for the target to drop with the close it
 * scheduled (a main thread busy in JavaScript runs the timer late), before it closes it itself.
 */
const CLOSED_BY_TARGET_MS = 10_000;

interface Entry {
  pid: number;
  start: number;
  port: number;
  anyFresh: boolean;
  before: Set<number>;
  key: string | null;
  /** The inspector opened (nodetop attached, or the watchdog saw it): the signal is spent. */
  opened: boolean;
  closing: { since: number; graceMs: number; until: number } | null;
  lastTry: number;
  probed: boolean;
  busy: boolean;
  loopSeen: number | null;
  /** The main thread's syscall line at the last look, and when the sockets were last read. */
  lastSyscall: string;
  lastScan: number;
  /** The main loop's epoll fd as nodetop saw it before signalling (null: worked out each time). */
  loopFd: number | null;
  /** The pid as the process sees itself (its pid namespace's), read when armed: what the probe checks. */
  ownPid: number | null;
}

const entries = new Map<number, Entry>();
let nodetopGone = false;
const logFile = process.env.NODETOP_WATCHDOG_LOG || null;

function log(line: string): void {
  if (!logFile) return;
  try {
    fs.appendFileSync(logFile, `${new Date().toISOString()} watchdog ${process.pid}: ${line}\n`, { mode: 0o600 });
  } catch {
    /* logging never matters more than closing */
  }
}

/** The WebSocket client, the relay and the probe, loaded when the watchdog first holds a pid (not at start). */
let client: {
  session: typeof import('./session');
  relay: typeof import('./relay');
  probe: typeof import('../probes/closeInspector');
} | null = null;
function loadClient(): NonNullable<typeof client> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  client ??= {
    session: require('./session') as typeof import('./session'),
    relay: require('./relay') as typeof import('./relay'),
    probe: require('../probes/closeInspector') as typeof import('../probes/closeInspector'),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return client;
}

function hold(e: Entry, graceMs: number): void {
  if (e.closing) return;
  // loaded now, so that the moment an inspector appears costs only the connection (was ~150 ms
  // of require on a loaded machine, inside the window an attacker could use)
  loadClient();
  const now = Date.now();
  e.closing = { since: now, graceMs, until: now + WATCHDOG_HOLD_MS };
  log(`holding pid ${e.pid} (port ${e.port}${e.anyFresh ? ', any new port' : ''})`);
  // nodetop is gone or gave up: a pid in another network namespace will need the relay (a Node
  // process's start: 0.2-1.2 s to the close on a loaded 2-core machine), so start it now, beside the polling.
  // Not on a normal detach (graceMs > 0), where nodetop's own close almost always comes first.
  if (graceMs === 0) void loadClient().relay.routeTo(e.pid, 2000).catch(() => undefined);
  schedule();
}

function onMessage(line: string): void {
  let m: { op?: string; pid?: number; start?: number; port?: number; before?: number[]; key?: string; loopFd?: number };
  try {
    m = JSON.parse(line) as typeof m;
  } catch {
    return;
  }
  const pid = Number(m.pid);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const e = entries.get(pid);
  switch (m.op) {
    case 'arm':
      entries.set(pid, {
        pid,
        start: Number(m.start),
        port: Number(m.port),
        anyFresh: Number(m.port) === 0,
        before: new Set(Array.isArray(m.before) ? m.before.map(Number) : []),
        key: null,
        opened: false,
        closing: null,
        lastTry: 0,
        probed: false,
        busy: false,
        loopSeen: null,
        loopFd: null,
        lastSyscall: '',
        lastScan: 0,
        ownPid: pidInOwnNamespace(pid),
      });
      reply({ armed: pid });
      break;
    case 'attached':
      if (e) {
        e.opened = true;
        if (typeof m.key === 'string') e.key = m.key;
        if (Number.isInteger(m.port) && Number(m.port) > 0) e.port = Number(m.port);
        e.anyFresh = false;
      }
      break;
    case 'signalled':
      if (e && Number.isInteger(m.loopFd)) e.loopFd = Number(m.loopFd);
      break;
    case 'moving':
      if (e) e.anyFresh = true;
      break;
    case 'release':
      if (e) hold(e, RELEASE_GRACE_MS);
      break;
    case 'abandon':
      if (e) hold(e, 0);
      break;
    case 'keep':
      entries.delete(pid);
      break;
  }
}

function reply(obj: object): void {
  try {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  } catch {
    /* nodetop is gone */
  }
}

function drop(e: Entry, why: string): void {
  entries.delete(e.pid);
  log(`pid ${e.pid}: done (${why})`);
}

async function tryClose(e: Entry, fresh: proc.ListeningSocket[]): Promise<void> {
  const { evaluate, Session } = loadClient().session;
  const { closeInspectorProbe } = loadClient().probe;
  e.ownPid ??= pidInOwnNamespace(e.pid);
  const ownPid = e.ownPid;
  if (ownPid === null) return log(`pid ${e.pid}: cannot read its pid as it sees itself (/proc/${e.pid}/status)`);
  // the ports are those of the pid's network namespace: reached there, or not at all
  let route: Route;
  try {
    route = await loadClient().relay.routeTo(e.pid, 2000);
  } catch (err) {
    return log(`pid ${e.pid}: cannot reach its network namespace: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const s of fresh) {
    // a socket bound to another address (10.0.0.5:9229) is not reached on loopback: what listens
    // there on loopback, in a pod's shared namespace, may be a sidecar's inspector
    const host = proc.loopbackHostFor(s.address);
    if (host === null) continue;
    let session: Session | null = null;
    try {
      const targets = await route.listTargets(host, s.port, 1500);
      const url = targets[0]?.webSocketDebuggerUrl;
      if (!url) continue;
      session = await Session.connect(url, 2000);
      const r = await evaluate(session, closeInspectorProbe, { deadKey: e.key, afterMs: 10, pid: ownPid, pidNs: readNamespace(e.pid, 'pid') }, { timeoutMs: 2000 });
      if (r.other) {
        log(`pid ${e.pid}: port ${s.port} is the inspector of pid ${Number(r.pid)}, not of pid ${ownPid} as it sees itself: left alone`);
        continue;
      }
      e.opened = true;
      if (r.closing) e.probed = true;
      log(`pid ${e.pid}: inspector on port ${s.port} ${r.closing ? 'closing' : `left to ${r.sessions} live nodetop session(s)`}`);
      if (r.closing) {
        // The target's inspector.close() drops this connection itself. Closing it from here as
        // that close runs crashed the target: SIGSEGV in 15 of 90 Node 20.20.2 targets whose
        // client's close arrived 9-11 ms after the probe's 10 ms timer, none of 30 whose client
        // waited (docs/tried.md). Through a relay the close arrives later, in that window: the
        // containers test's target died in 2 runs of 30.
        if (!(await session.closedByTarget(CLOSED_BY_TARGET_MS))) log(`pid ${e.pid}: the inspector did not close within ${CLOSED_BY_TARGET_MS} ms: closing the connection from here`);
      }
      return;
    } catch (err) {
      log(`pid ${e.pid}: port ${s.port}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      if (session && !session.isClosed) await session.close().catch(() => undefined);
    }
  }
}

function check(e: Entry): void {
  const c = e.closing;
  if (!c || e.busy) return;
  const now = Date.now();
  let start: number;
  try {
    start = proc.readStat(e.pid).startTimeTicks;
  } catch {
    return drop(e, 'exited');
  }
  if (start !== e.start || !proc.processExists(e.pid)) return drop(e, 'exited');
  if (now > c.until) return drop(e, `gave up after ${WATCHDOG_HOLD_MS} ms`);
  // every 10 ms the main thread's syscall (one small read); the sockets when it changed (the
  // blocked call returned: the inspector opens within milliseconds) or every 100 ms
  let sc = '';
  try {
    sc = fs.readFileSync(`/proc/${e.pid}/task/${e.pid}/syscall`, 'utf8');
  } catch {
    /* read below */
  }
  const same = sc === e.lastSyscall && sc !== 'running\n';
  e.lastSyscall = sc;
  if (same && now - e.lastScan < 100 && !e.probed) return;
  e.lastScan = now;
  let fresh: proc.ListeningSocket[];
  try {
    fresh = proc.listeningSockets(e.pid).filter((s) => !e.before.has(s.inode) && (e.anyFresh || s.port === e.port));
  } catch {
    return;
  }
  if (fresh.length > 0) {
    e.loopSeen = null;
    e.opened = true;
    if (now - c.since < c.graceMs) return;
    // once the probe has scheduled the close, wait for it (a loop stuck in JavaScript runs no
    // timer); probe again only if a live nodetop had the duty, every 2 s
    if (e.probed || now - e.lastTry < 2000) return;
    e.lastTry = now;
    e.busy = true;
    void tryClose(e, fresh).finally(() => (e.busy = false));
    return;
  }
  if (e.opened) return drop(e, 'the inspector is closed');
  // not opened yet: the signal may still be pending (the main thread is busy outside the loop)
  if (proc.mainThreadActivity(e.pid, e.loopFd) !== 'loop' || now - c.since < LOOP_EVIDENCE_MS) {
    e.loopSeen = null;
    return;
  }
  if (e.loopSeen === null) e.loopSeen = now;
  else if (now - e.loopSeen >= LOOP_EVIDENCE_MS) drop(e, 'the main thread is in its event loop and nothing opened');
}

let timer: NodeJS.Timeout | null = null;

function schedule(): void {
  if (timer) return;
  const tick = (): void => {
    timer = null;
    for (const e of [...entries.values()]) {
      try {
        check(e);
      } catch (err) {
        log(`pid ${e.pid}: ${String(err)}`);
      }
    }
    const holding = [...entries.values()].some((e) => e.closing);
    if (!holding) {
      if (nodetopGone) process.exit(0);
      return;
    }
    timer = setTimeout(tick, 10);
  };
  timer = setTimeout(tick, 0);
}

function main(): void {
  // never die of what nodetop's terminal or a broken pipe does
  for (const s of ['SIGINT', 'SIGHUP', 'SIGPIPE', 'SIGUSR1'] as const) process.on(s, () => undefined);
  process.stdout.on('error', () => undefined);
  process.on('uncaughtException', (err) => log(`uncaught: ${String(err)}`));
  process.on('unhandledRejection', (err) => log(`unhandled: ${String(err)}`));
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', onMessage);
  rl.on('close', () => {
    nodetopGone = true;
    log('nodetop is gone');
    for (const e of entries.values()) hold(e, 0);
    if (entries.size === 0) process.exit(0);
  });
  reply({ ready: true });
}

if (require.main === module) main();
