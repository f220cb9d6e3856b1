// The only way tests start a target: a real Node process running a fixture, awaited on its
// ready line, always killed (after the test, and on exit of the test process).

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { descendantsOf, processTable, readExe } from '../../src/platform/proc';
import { pidInOwnNamespace } from '../../src/platform/namespaces';

export const ROOT = path.resolve(__dirname, '../../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures');
export const NODETOP = path.join(ROOT, 'bin/nodetop.js');

const live = new Set<ChildProcess>();
function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Target {
  pid: number;
  facts: Record<string, unknown>;
  child: ChildProcess;
  stderr(): string;
  /** Sends a command on the fixture's stdin channel and waits for its reply. */
  ask(command: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  args?: string[];
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  node?: string;
  spawn?: SpawnOptions;
  readyTimeoutMs?: number;
  /**
   * A command that starts Node (`['unshare', '-n', '--fork']`): the target runs under it, in
   * the namespaces it makes. `pid` is then the Node process's pid on this host, found among the
   * prefix's descendants by the pid it reports in its own namespace.
   */
  prefix?: string[];
  /**
   * The whole command instead of `node fixture` (`['npm', 'start']`, run in `spawn.cwd`): `pid` is
   * then the process that printed the ready line, which must be a descendant of the command.
   */
  command?: string[];
}

export async function startTarget(fixture: string, opts: StartOptions = {}): Promise<Target> {
  const file = path.isAbsolute(fixture) ? fixture : path.join(FIXTURES, fixture);
  const argv = [opts.node ?? process.execPath, ...(opts.nodeArgs ?? []), file, ...(opts.args ?? [])];
  const [cmd, ...rest] = opts.command ?? [...(opts.prefix ?? []), ...argv];
  const child = spawn(cmd!, rest, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    ...opts.spawn,
  });
  live.add(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  // the signal the test sent (true: the ready timeout's SIGKILL); an end by anything else is printed
  let killing: NodeJS.Signals | boolean = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      exitInfo = { code, signal };
      // a target that ends without the test asking is either the test's point or the cause of a
      // failure elsewhere ("no process with pid"): either way the log says how it ended
      const ours = killing === true || (killing !== false && signal === killing);
      if (!ours) process.stderr.write(`[target] ${fixture} pid ${child.pid} ended by itself: ${signal ?? `code ${code}`}; stderr: ${err.slice(-2000) || '(none)'}\n`);
      resolve(exitInfo);
    }),
  );
  const waiting = new Map<string, Array<(r: Record<string, unknown>) => void>>();
  const rl = readline.createInterface({ input: child.stdout! });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    // a fixture that never got ready is killed: its pipes would keep the test file (and CI) waiting
    const timer = setTimeout(() => {
      // under a prefix (unshare --fork) the Node process is a descendant: it holds the pipes too
      killing = true;
      if (opts.prefix?.length) for (const p of descendantsOf(child.pid!, processTable())) killQuietly(p);
      child.kill('SIGKILL');
      reject(new Error(`${fixture} did not get ready; stderr: ${err}`));
    }, opts.readyTimeoutMs ?? 10_000);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`${fixture} exited before ready (${JSON.stringify(e)}); stderr: ${err}`));
    });
    rl.on('line', (line) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (msg.ready) {
        clearTimeout(timer);
        resolve(msg);
      } else if (typeof msg.reply === 'string') {
        const q = waiting.get(msg.reply);
        q?.shift()?.(msg);
      }
    });
  });
  const facts = await ready;
  let pid = child.pid!;
  if (opts.command) {
    if (!descendantsOf(child.pid!, processTable()).includes(facts.pid as number)) {
      child.kill('SIGKILL');
      throw new Error(`${opts.command.join(' ')}: the ready line's pid ${String(facts.pid)} is not one of its descendants`);
    }
    pid = facts.pid as number;
  } else if (opts.prefix?.length) {
    const found = [child.pid!, ...descendantsOf(child.pid!, processTable())].find(
      (p) => readExe(p) === path.resolve(argv[0]!) && pidInOwnNamespace(p) === facts.pid,
    );
    if (found === undefined) {
      child.kill('SIGKILL');
      throw new Error(`${fixture} under ${opts.prefix.join(' ')}: no Node process says pid ${String(facts.pid)}`);
    }
    pid = found;
  }
  const t: Target = {
    pid,
    facts,
    child,
    stderr: () => err,
    ask(command, timeoutMs = 5000) {
      const name = command.split(/\s+/)[0]!;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${fixture} did not answer ${command}`)), timeoutMs);
        const q = waiting.get(name) ?? [];
        q.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
        waiting.set(name, q);
        child.stdin!.write(`${command}\n`);
      });
    },
    alive: () => exitInfo === null,
    async kill(signal = 'SIGKILL') {
      if (exitInfo) return;
      killing = signal;
      // under a prefix, the Node process first (unshare --fork would leave it to its own pid 1)
      if (pid !== child.pid) {
        try {
          process.kill(pid, signal);
        } catch {
          /* gone already */
        }
      }
      child.kill(signal);
      await exited;
    },
    exited,
  };
  return t;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI as a user would. The bound is a guard against a hang, not a speed assertion.
 * `node`: the Node binary that runs nodetop itself (default: the one running the tests).
 */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; hangGuardMs?: number; node?: string; cwd?: string; program?: string; prefix?: string[] } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    // `program`: what starts nodetop instead of `node bin/nodetop.js` (the launcher, through a link)
    // `prefix`: what nodetop runs under (`nsenter --target <pid> --net --mount --pid --`: inside a container)
    const [cmd, ...pre] = [...(opts.prefix ?? []), ...(opts.program ? [opts.program] : [opts.node ?? process.execPath, NODETOP])];
    const child = spawn(cmd!, [...pre, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // a UTF-8 locale unless the test gives its own environment: without one nodetop writes
      // ASCII (src/sinks/ascii.ts), and tests match its → and ’
      env: opts.env ?? (/utf-?8/i.test(process.env.LC_ALL || process.env.LC_CTYPE || process.env.LANG || '') ? process.env : { ...process.env, LC_ALL: 'C.UTF-8' }),
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => {
      stderr += '\n[test] nodetop hung: killed by the hang guard';
      child.kill('SIGKILL');
    }, opts.hangGuardMs ?? 30_000);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      live.delete(child);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}

/** Parses the stdout of a --json run, failing the test with the output when it is not JSON. */
export function parseJson<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): stdout=${r.stdout} stderr=${r.stderr}`);
  }
}

/** Waits for a condition that the target settles into (a port closing), bounded. */
export async function eventually<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, boundMs = 5000): Promise<T> {
  const end = Date.now() + boundMs;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    v = await fn();
  }
  return v;
}

/**
 * A TCP server in the test process for fixtures to connect to (test/fixtures/handles.js opens
 * its client sockets to it), opened before the suite's tests and closed after them. The port is
 * read inside the tests: `sink.port`.
 */
export function sinkServer(before: (fn: () => Promise<void>) => void, after: (fn: () => void) => void): { readonly port: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const net = require('node:net') as typeof import('node:net');
  const state = { port: 0 };
  let server: import('node:net').Server | null = null;
  const accepted: import('node:net').Socket[] = [];
  before(async () => {
    server = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    state.port = (server.address() as import('node:net').AddressInfo).port;
  });
  after(() => {
    for (const s of accepted) s.destroy();
    server?.close();
  });
  return state;
}
