// nodetop's side of the watchdog (watchdog.ts): one per nodetop process, started before the
// first SIGUSR1, armed for each pid before it is signalled. A ticket tells the watchdog what
// became of that pid's inspector; whatever nodetop does not tell it (nodetop killed, an error
// path nobody thought of) the watchdog learns from the end of its stdin, and acts on.

import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { debugTrace } from '../debug';

export interface WatchdogTicket {
  /** The signal was sent; the main loop's epoll as seen just before (null: not seen). */
  signalled(loopFd: number | null): void;
  /** nodetop attached: its session key (a dead nodetop's instruments are removed) and port. */
  attached(key: string, port: number): void;
  /** The inspector is being moved to a random port: any new port of the pid is it. */
  moving(): void;
  /** nodetop detached and closed it: the watchdog checks that it closes. */
  release(): void;
  /** nodetop gave up (the signal may still be acted on): the watchdog closes whatever opens. */
  abandon(): void;
  /** The inspector is to stay open (--keep-inspector, a debugger beside nodetop). */
  keep(): void;
}

interface Watchdog {
  child: ChildProcess;
  send(obj: object): boolean;
  waitFor(pred: (msg: Record<string, unknown>) => boolean, timeoutMs: number): Promise<boolean>;
}

let current: Promise<Watchdog | null> | null = null;

function start(timeoutMs: number): Promise<Watchdog | null> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [path.join(__dirname, 'watchdog.js')], {
        detached: true,
        stdio: ['pipe', 'pipe', 'ignore'],
        cwd: '/',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...(process.env.NODETOP_WATCHDOG_LOG ? { NODETOP_WATCHDOG_LOG: process.env.NODETOP_WATCHDOG_LOG } : {}),
        },
      });
    } catch {
      resolve(null);
      return;
    }
    let alive = true;
    const waiters = new Set<(msg: Record<string, unknown>) => void>();
    child.on('error', () => (alive = false));
    child.on('exit', () => {
      alive = false;
      current = null;
    });
    child.stdin!.on('error', () => (alive = false));
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const w of [...waiters]) w(msg);
    });
    const wd: Watchdog = {
      child,
      send(obj) {
        if (!alive) return false;
        try {
          child.stdin!.write(`${JSON.stringify(obj)}\n`);
          return true;
        } catch {
          return false;
        }
      },
      waitFor(pred, ms) {
        return new Promise((res) => {
          const done = (v: boolean): void => {
            clearTimeout(t);
            waiters.delete(w);
            res(v);
          };
          const w = (msg: Record<string, unknown>): void => {
            if (pred(msg)) done(true);
          };
          const t = setTimeout(() => done(false), ms);
          waiters.add(w);
          child.once('exit', () => done(false));
        });
      },
    };
    void wd.waitFor((m) => m.ready === true, timeoutMs).then((ok) => {
      if (!ok) {
        child.kill('SIGKILL');
        resolve(null);
        return;
      }
      // nodetop exits when its own work is done: the watchdog is not a reason to stay
      child.unref();
      (child.stdin as unknown as { unref?: () => void }).unref?.();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      debugTrace(`watchdog ${child.pid} started`);
      resolve(wd);
    });
  });
}

/** Starts the watchdog now if it is not running, without waiting for it. */
export function prestartWatchdog(timeoutMs: number): void {
  current ??= start(Math.max(timeoutMs, 2000));
}

/**
 * Arms the watchdog for a pid about to be signalled. Null when no watchdog could be started or
 * did not confirm in time: the caller then must not signal (unless told to).
 */
export async function armWatchdog(
  pid: number,
  startTicks: number,
  port: number,
  before: number[],
  timeoutMs: number,
): Promise<WatchdogTicket | null> {
  current ??= start(Math.max(timeoutMs, 2000));
  const wd = await current;
  if (!wd) {
    current = null;
    return null;
  }
  if (!wd.send({ op: 'arm', pid, start: startTicks, port, before })) return null;
  if (!(await wd.waitFor((m) => m.armed === pid, Math.max(timeoutMs, 2000)))) return null;
  let settled = false;
  const final = (op: string) => (): void => {
    if (settled) return;
    settled = true;
    debugTrace(`watchdog: ${op} pid ${pid}`);
    wd.send({ op, pid });
  };
  return {
    signalled: (loopFd) => void (settled || wd.send({ op: 'signalled', pid, loopFd })),
    attached: (key, p) => void (settled || wd.send({ op: 'attached', pid, key, port: p })),
    moving: () => void (settled || wd.send({ op: 'moving', pid })),
    release: final('release'),
    abandon: final('abandon'),
    keep: final('keep'),
  };
}
