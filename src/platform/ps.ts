// The Node processes on this host, from /proc alone: what `nodetop ps` lists and what
// `nodetop export --all` starts from. Nothing here talks to a process: no signal, no socket, no
// HTTP request. Whether an inspector is open is inferred from evidence (a listening socket of
// that pid on a port its command line or NODE_OPTIONS names, 9229, or any loopback port when it
// asked for a random inspector port), the same evidence locate.ts uses before it probes a port,
// so ps says "likely" and never "confirmed".
//
// Pure helpers (parsePasswd, cpuPercentBetween, inspectorEvidence, ...) are split from the
// readers so they are unit-tested on fixed input.

import { armedRecordOf, type ArmedRecord } from './armedRecord';
import * as fs from 'node:fs';
import { inspectorHints } from '../inspector/locate';
import { exposedAddresses } from '../loopback';
import * as proc from './proc';
import { containerOf, type Container } from './cgroup';
import { readNamespace } from './namespaces';
import { classifyWrapper, type WrapperKind } from '../model/wrapper';
import { nodeChildren } from './wrappers';

export interface InspectorEvidence {
  /**
   * likely: the pid listens on a port with evidence for an inspector (not probed);
   * none: it listens on no such port; unknown: its sockets cannot be read (another user's).
   */
  state: 'likely' | 'none' | 'unknown';
  /** Candidate ports, strongest evidence first (a port named on the command line, then 9229). */
  ports: number[];
  /** What the evidence was, for people: "--inspect=…:0 and a loopback listener", "port 9229". */
  evidence: string | null;
  /** Those ports' listening addresses off loopback ("0.0.0.0:9229"): reachable from the network. */
  exposed: string[];
}

export interface NodeProcess {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  argv: string[];
  /** The executable, or null when the kernel hides it (another user's process). */
  exe: string | null;
  /** % of one core, over `cpuWindowMs` (two /proc readings) or since start when that is null. */
  cpuPercent: number | null;
  cpuWindowMs: number | null;
  rssBytes: number;
  uptimeSec: number;
  threads: number;
  inspector: InspectorEvidence;
  /** The container it runs in (from its cgroup path), or null. */
  container: Container | null;
  /** Whether it shares nodetop's network namespace (false: a container's, a PrivateNetwork service's); null when unreadable. */
  sharesNetwork: boolean | null;
  /** What `nodetop arm` (run by this uid) armed in it, or null. */
  armed: ArmedRecord | null;
  /** A launcher, not an app (npm start, yarn, pnpm, nodemon, pm2's daemon), with the pids of the Node processes it runs; null for an app. */
  wrapper: { kind: WrapperKind; children: number[] } | null;
}

// ---- pure ------------------------------------------------------------------------------

/** uid -> name from /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !f[0] || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && !m.has(uid)) m.set(uid, f[0]);
  }
  return m;
}

/** First number of /proc/uptime: seconds since boot. */
export function parseUptime(text: string): number {
  return Number(text.trim().split(/\s+/)[0]);
}

/** CPU % of one core between two readings of utime+stime (ticks) taken `elapsedMs` apart. */
export function cpuPercentBetween(ticks0: number, ticks1: number, elapsedMs: number): number | null {
  if (!(elapsedMs > 0) || ticks1 < ticks0) return null;
  return (((ticks1 - ticks0) / proc.CLOCK_TICKS_PER_SEC) * 1000 * 100) / elapsedMs;
}

/** Seconds a process has run, from its start time (ticks after boot) and the boot uptime. */
export function processUptimeSec(startTimeTicks: number, bootUptimeSec: number): number {
  return Math.max(0, bootUptimeSec - startTimeTicks / proc.CLOCK_TICKS_PER_SEC);
}

/** CPU % of one core averaged since the process started. */
export function cpuPercentSinceStart(totalTicks: number, uptimeSec: number): number | null {
  if (!(uptimeSec > 0)) return null;
  return ((totalTicks / proc.CLOCK_TICKS_PER_SEC) / uptimeSec) * 100;
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.|0\.0\.0\.0$|::$)/;

/**
 * Which of a process's listening sockets are likely its inspector, by the rule locate.ts
 * applies before it sends a probe: a port named by --inspect, --inspect-port or --debug-port (argv or
 * NODE_OPTIONS), or 9229 (the default, and what SIGUSR1 opens), or, when a random port was
 * asked for (port 0), any port on a loopback or wildcard address.
 */
export function inspectorEvidence(sockets: proc.ListeningSocket[] | null, argv: string[], nodeOptions: string): InspectorEvidence {
  if (sockets === null) return { state: 'unknown', ports: [], evidence: null, exposed: [] };
  const hints = inspectorHints(argv, nodeOptions);
  const preferred = [...hints.ports, 9229];
  const rank = (p: number): number => {
    const i = preferred.indexOf(p);
    return i < 0 ? preferred.length : i;
  };
  const ports = [
    ...new Set(
      sockets
        .filter((s) => preferred.includes(s.port) || (hints.randomPort && hints.active && LOOPBACK.test(s.address)))
        .map((s) => s.port),
    ),
  ].sort((a, b) => rank(a) - rank(b) || a - b);
  if (ports.length === 0) return { state: 'none', ports: [], evidence: null, exposed: [] };
  const why = ports.map((p) =>
    hints.ports.includes(p) ? `port ${p} named on its command line` : p === 9229 ? 'port 9229 (the default)' : `port ${p} (asked for a random inspector port)`,
  );
  const exposed = ports.flatMap((p) => exposedAddresses(sockets, p));
  return { state: 'likely', ports, evidence: why.join('; '), exposed };
}

// ---- reading ---------------------------------------------------------------------------

let users: Map<number, string> | null = null;
function userName(uid: number): string {
  if (!users) {
    try {
      users = parsePasswd(fs.readFileSync('/etc/passwd', 'utf8'));
    } catch {
      users = new Map();
    }
  }
  return users.get(uid) ?? String(uid);
}


interface Candidate {
  pid: number;
  argv: string[];
  exe: string | null;
  uid: number;
  stat: proc.ProcStat;
  /** When `stat` was read (performance.now()): each process's CPU window is its own. */
  statAt: number;
}

/** A nodetop's relay into a container's network namespace (src/inspector/relayMain.ts): nodetop's own helper, not a service. */
function isRelay(argv: string[]): boolean {
  return argv.length === 3 && /\/dist\/src\/inspector\/relayMain\.js$/.test(argv[1] ?? '');
}

/** Pids whose executable (or, when the kernel hides it, argv[0]) is Node. Skips `exclude`. */
function nodeCandidates(exclude: Set<number>): Candidate[] {
  const out: Candidate[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (exclude.has(pid)) continue;
    try {
      const argv = proc.readCmdline(pid);
      if (argv.length === 0) continue; // kernel thread or zombie
      const exe = proc.readExe(pid);
      const isNode = exe !== null ? proc.looksLikeNodeExecutable(exe) : proc.looksLikeNodeExecutable(argv[0] ?? '');
      if (!isNode || isRelay(argv)) continue;
      const uid = proc.readStatus(pid).uid;
      out.push({ pid, argv, exe, uid, stat: proc.readStat(pid), statAt: performance.now() });
    } catch {
      // exited while we looked, or hidden: not listed
    }
  }
  return out;
}

export interface ListOptions {
  /** Two CPU readings this far apart; 0 = CPU averaged since each process started. */
  cpuWindowMs: number;
  /** Only processes of this uid (export --all: the user's own). */
  uid?: number;
  /** Pids never listed (nodetop itself). */
  exclude?: number[];
}

/** Every Node process on this host that /proc lets us see. Sends nothing to any of them. */
export async function listNodeProcesses(opts: ListOptions): Promise<NodeProcess[]> {
  let cands = nodeCandidates(new Set(opts.exclude ?? [process.pid]));
  if (opts.uid !== undefined) cands = cands.filter((c) => c.uid === opts.uid);
  // Each process's CPU is its two readings' ticks over the time between those two readings.
  // Dividing by the sleep alone inflated it: the first readings spread over the candidate walk,
  // and a second reading taken after the slow work for earlier processes (their sockets) counted
  // that time as CPU within the window (330-470% for a process at 100% among 36-46 processes).
  // The second readings are therefore all taken first, in one tight pass, each timed.
  if (opts.cpuWindowMs > 0) await new Promise((r) => setTimeout(r, opts.cpuWindowMs));
  const second = new Map<number, { stat: proc.ProcStat; at: number }>();
  if (opts.cpuWindowMs > 0) {
    for (const c of cands) {
      try {
        second.set(c.pid, { stat: proc.readStat(c.pid), at: performance.now() });
      } catch {
        // exited during the window: not listed
      }
    }
  }
  const boot = parseUptime(fs.readFileSync('/proc/uptime', 'utf8'));
  let table: Map<number, number> | null = null;
  const wrapperOf = (c: Candidate): NodeProcess['wrapper'] => {
    const w = classifyWrapper(c.argv);
    if (w === null) return null;
    table ??= proc.processTable();
    return { kind: w.kind, children: nodeChildren(c.pid, table).map((k) => k.pid) };
  };
  const out: NodeProcess[] = [];
  for (const c of cands) {
    let stat = c.stat;
    let elapsed = 0;
    if (opts.cpuWindowMs > 0) {
      const s2 = second.get(c.pid);
      if (!s2) continue; // exited during the window
      if (s2.stat.startTimeTicks !== c.stat.startTimeTicks) continue; // the pid was reused
      stat = s2.stat;
      elapsed = s2.at - c.statAt;
    }
    const uptimeSec = processUptimeSec(stat.startTimeTicks, boot);
    const ticks = stat.utimeTicks + stat.stimeTicks;
    let sockets: proc.ListeningSocket[] | null;
    try {
      sockets = proc.listeningSockets(c.pid);
    } catch {
      sockets = null;
    }
    out.push({
      pid: c.pid,
      ppid: stat.ppid,
      uid: c.uid,
      user: userName(c.uid),
      argv: c.argv,
      exe: c.exe,
      cpuPercent:
        opts.cpuWindowMs > 0
          ? cpuPercentBetween(c.stat.utimeTicks + c.stat.stimeTicks, ticks, elapsed)
          : cpuPercentSinceStart(ticks, uptimeSec),
      cpuWindowMs: opts.cpuWindowMs > 0 ? Math.round(elapsed) : null,
      rssBytes: stat.rssPages * proc.PAGE_SIZE,
      uptimeSec,
      threads: stat.numThreads,
      inspector: inspectorEvidence(sockets, c.argv, proc.readNodeOptions(c.pid)),
      ...whereItRuns(c.pid),
      armed: armedRecordOf(c.pid),
      wrapper: wrapperOf(c),
    });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The container of a pid and whether it shares nodetop's network namespace (the ps columns). */
function whereItRuns(pid: number): { container: Container | null; sharesNetwork: boolean | null } {
  const mine = readNamespace('self', 'net');
  const theirs = readNamespace(pid, 'net');
  return { container: containerOf(pid), sharesNetwork: mine === null || theirs === null ? null : mine === theirs };
}

/** True while the pid runs: a zombie (exited, not yet reaped by its parent) does not count. */
export function processAlive(pid: number): boolean {
  return proc.processExists(pid);
}

/**
 * The primary's Node descendants (cluster workers, forked children), then the primary. Workers
 * come first: SIGUSR1 to a cluster primary makes its workers try to open their inspectors on
 * the same port too (observed on Node 20); once each worker's inspector is open on a port of
 * its own, the primary's signal no longer reaches for theirs.
 */
export function clusterPids(primary: number): number[] {
  const kids = proc.descendantsOf(primary, proc.processTable()).filter((p) => proc.isNodeProcess(p));
  return [...kids, primary];
}
