// The actions of `nodetop watch --when ... --then ...`, run for the firings the trigger engine
// (src/model/triggers.ts) returns: one firing's actions at a time, in order, each reported as
// an event. Every action goes through the command that does it by hand:
//
// - snapshot and profile run `nodetop snapshot` / `nodetop profile` as a child on the same
//   inspector (a second session, as the live view's S key does): the same memory check (a
//   refusal is reported, never overridden: no --force), the same race-proof files and clean-up.
//   The watch does not sample a target while its snapshot freezes it, and says so.
// - gc runs the code of `nodetop gc` (gcOne) on the watch's own session.
// - stats writes the sample that tripped the condition, as `stats --json` writes a sample.
// - exec runs the user's command without a shell (the words as written), with the readings in
//   its environment; its output goes to stderr, never into the NDJSON on stdout.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, NodetopError } from '../errors';
import type { Attachment } from '../inspector/attach';
import { onExit } from '../lifecycle';
import type { Sample } from '../model/sample';
import { TriggerEngine, type Action, type Firing, type Limits, type TriggerSpec } from '../model/triggers';
import { bytes, ms } from '../model/units';
import { AtomicFile, describeWriteError } from '../platform/outfile';
import { triggerValuesText, watchEventLine, type WatchField } from '../sinks/line';
import { errLine } from '../sinks/terminal';
import { gcOne } from './gc';
import type { Output } from '../sinks/output';

/** An exec action that has not ended after this long is stopped (SIGTERM, then SIGKILL 5 s later). */
export const EXEC_TIMEOUT_MS = 120_000;

/**
 * A heap snapshot's file measured up to 2x the heap used (object-dense heaps; see
 * commands/snapshot.ts): what the disk budget and the free-space check count one as beforehand.
 */
const SNAPSHOT_FILE_PER_HEAP_BYTE = 2;

export interface TriggerOptions {
  triggers: TriggerSpec[];
  limits: Limits;
  /** Where the files go, as given (`.` by default): prepareOutDir checks it before any target is touched. */
  outDir: string;
  /** Total bytes the files of this run may take in outDir; null: no budget (free space is still checked). */
  diskBudgetBytes: number | null;
  /** Passed to the snapshot's own memory check (`snapshot --max-growth`). */
  maxGrowthBytes: number | null;
}

/** TriggerOptions with --out checked: the runner's. */
export type TriggerRunOptions = Omit<TriggerOptions, 'outDir'> & { outDir: OutDir };

export interface ActionResult {
  status: 'ok' | 'refused' | 'failed';
  path?: string;
  bytes?: number;
  durationMs: number;
  message?: string;
  exitCode?: number;
  threadId?: number;
  /** profile: the top functions by self time (name, url, line, selfPercent). */
  top?: Array<{ function: string; url: string; line: number | null; selfPercent: number }>;
  /** gc: heap used before and after. */
  heapUsedBeforeBytes?: number | null;
  heapUsedAfterBytes?: number | null;
}

/** The watch's view of one target, as the runner needs it. */
export interface RunTarget {
  att: Attachment;
  /** Sampling of this target stops while a snapshot or a GC freezes it. */
  paused: boolean;
}

/** `<title>-<pid>-t<trigger>-<UTC time, no colons>-a<action>[-w<threadId>].<ext>` */
export function triggerFileName(title: string, pid: number, trigger: number, when: Date, action: number, ext: string, threadId: number | null = null): string {
  const word = (title.trim().split(/\s+/)[0] ?? '').split('/').pop() ?? '';
  const clean = word.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.-]+/, '').slice(0, 40) || 'node';
  // milliseconds kept: below a second of --interval two firings may come within one second
  const stamp = when.toISOString().replace(/[-:]/g, '');
  return `${clean}-${pid}-t${trigger}-${stamp}-a${action}${threadId ? `-w${threadId}` : ''}.${ext}`;
}

/** The --out directory as prepareOutDir found it: its real path and which directory it is. */
export interface OutDir {
  path: string;
  dev: number;
  ino: number;
}

/**
 * --out as an absolute path to a directory, made (mode 0700, the last part only) when missing,
 * before any target is touched. Throws exit 12 when it cannot be written, exit 2 when another
 * user owns it or may write it: every action reopens `outDir/<name>` by path, and whoever can
 * rename the directory can put a symlink in its place and send root's files anywhere (a review
 * did so with /tmp/review-out). checkOutDir then tells, before each action, that it is still there.
 */
export function prepareOutDir(dir: string): OutDir {
  const abs = path.resolve(dir);
  try {
    fs.mkdirSync(abs, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new NodetopError(`cannot write into --out ${abs}: ${describeWriteError(e)}`, { exitCode: ExitCode.OutputFailed });
  }
  let st: fs.Stats;
  let real: string;
  const me = process.geteuid?.() ?? -1;
  try {
    // a symlink another user planted where the directory was expected would send root's files
    // wherever it points
    const l = fs.lstatSync(abs);
    if (l.isSymbolicLink() && l.uid !== me && l.uid !== 0) {
      throw new NodetopError(`cannot write into --out ${abs}: it is a symlink another user (uid ${l.uid}) made; give the directory it leads to`, { exitCode: ExitCode.OutputFailed });
    }
    real = fs.realpathSync(abs);
    st = fs.lstatSync(real);
  } catch (e) {
    if (e instanceof NodetopError) throw e;
    throw new NodetopError(`cannot write into --out ${abs}: ${describeWriteError(e)}`, { exitCode: ExitCode.OutputFailed });
  }
  if (!st.isDirectory()) throw new NodetopError(`cannot write into --out ${abs}: it is not a directory`, { exitCode: ExitCode.OutputFailed });
  if (st.uid !== me && st.uid !== 0) {
    throw new NodetopError(`refusing --out ${abs}: it is owned by another user (uid ${st.uid}), who could swap it for a symlink and send these files anywhere; give a directory of your own (or a new path: it is made 0700)`, { exitCode: ExitCode.Usage });
  }
  // group- or other-writable: a sticky directory (such as /tmp) lets no one else rename what is in it
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new NodetopError(`refusing --out ${abs}: other users may write to it (mode ${(st.mode & 0o7777).toString(8)}) and swap what nodetop writes there; give a directory only you can write (or a new path: it is made 0700)`, { exitCode: ExitCode.Usage });
  }
  return { path: real, dev: st.dev, ino: st.ino };
}

/** Why --out must not be written now (it was renamed, replaced or made a symlink since startup), or null. */
export function checkOutDir(d: OutDir): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(d.path);
  } catch (e) {
    return `--out ${d.path} is gone (${describeWriteError(e)}) since the watch started; nothing is written`;
  }
  if (st.isSymbolicLink() || !st.isDirectory() || st.dev !== d.dev || st.ino !== d.ino) {
    return `--out ${d.path} is no longer the directory the watch started with (it was renamed or replaced${st.isSymbolicLink() ? ' by a symlink' : ''}); nothing is written`;
  }
  return null;
}

export class TriggerRunner {
  readonly engine: TriggerEngine;
  private written = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Set once the budget is spent and its last actions have ended (without --keep-watching). */
  private onSpent: (() => void) | null = null;

  constructor(
    private readonly opts: TriggerRunOptions,
    private readonly json: boolean,
    private readonly fields: readonly WatchField[],
    private readonly out: Output,
    private readonly timeoutMs: number,
    /** --allow-remote, passed on: the child attaches to the same endpoint. */
    private readonly allowRemote = false,
  ) {
    this.engine = new TriggerEngine(opts.triggers, opts.limits);
  }

  /** Called once, when every firing allowed has run (exit 13 follows). */
  whenSpent(fn: () => void): void {
    this.onSpent = fn;
  }

  /** Every action started so far has ended. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** One sample of a target, as the watch wrote it. */
  observe(t: RunTarget, s: Sample): void {
    for (const f of this.engine.observe(t.att.pid, s, Date.now())) {
      this.event(f.pid, s.time, firingRecord(f), firingLine(f, this.opts.limits.maxActions));
      if (f.number === null) continue;
      this.chain = this.chain
        .then(() => this.runFiring(t, f, s))
        .catch((e: unknown) => errLine(`nodetop: trigger t${f.trigger}: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  private event(pid: number, time: string, rec: Record<string, unknown>, text: string): void {
    if (this.json) this.out.write(JSON.stringify({ pid, ...rec }));
    else this.out.write(watchEventLine(time, pid, text, this.fields));
  }

  private async runFiring(t: RunTarget, f: Firing, s: Sample): Promise<void> {
    const when = new Date();
    const files: string[] = [];
    try {
      for (const [i, a] of f.actions.entries()) {
        const t0 = performance.now();
        let r: ActionResult;
        try {
          r = await this.runAction(t, f, s, a, i + 1, when, files);
        } catch (e) {
          r = { status: 'failed', durationMs: performance.now() - t0, message: e instanceof Error ? e.message : String(e) };
        }
        if (r.path && r.status === 'ok') files.push(r.path);
        this.event(f.pid, new Date().toISOString(), { event: 'action', trigger: f.trigger, firing: f.number, action: a.text, ...r, durationMs: Math.round(r.durationMs) }, actionLine(f, a, r));
      }
    } finally {
      this.engine.end(f, Date.now());
    }
    if (this.engine.spent && !this.opts.limits.keepWatching) {
      const n = this.engine.actionsRun;
      this.event(f.pid, new Date().toISOString(), { event: 'budget-spent', firings: n, maxActions: this.opts.limits.maxActions }, `action budget spent: ${n} of --max-actions ${this.opts.limits.maxActions}; watch ends (exit code 13)`);
      this.onSpent?.();
    }
  }

  private async runAction(t: RunTarget, f: Firing, s: Sample, a: Action, k: number, when: Date, files: string[]): Promise<ActionResult> {
    const t0 = performance.now();
    const took = (): number => performance.now() - t0;
    const att = t.att;
    const name = (ext: string, threadId: number | null = null): string =>
      path.join(this.opts.outDir.path, triggerFileName(att.identity.title, att.pid, f.trigger, when, k, ext, threadId));
    // the actions that write a file reopen --out by path: it must still be the directory checked at startup
    if (a.kind === 'snapshot' || a.kind === 'profile' || a.kind === 'stats') {
      const moved = checkOutDir(this.opts.outDir);
      if (moved) return { status: 'refused', durationMs: took(), message: moved, exitCode: ExitCode.RefusedUnsafe };
    }
    switch (a.kind) {
      case 'snapshot': {
        const threadId = a.worker === 'tripped' ? f.threadId : a.worker;
        if (a.worker === 'tripped' && threadId === null) {
          return { status: 'failed', durationMs: took(), message: 'no worker tripped the condition, so "snapshot worker" has no worker to take' };
        }
        const heap = threadId === null ? s.memory.heapUsedBytes : ((s.workers ?? []).find((w) => w.threadId === threadId)?.heapUsedBytes ?? null);
        const room = this.room(heap === null ? null : heap * SNAPSHOT_FILE_PER_HEAP_BYTE, 'a heap snapshot');
        if (room) return { status: 'refused', durationMs: took(), message: room, exitCode: ExitCode.RefusedUnsafe };
        const file = name('heapsnapshot', threadId);
        const args = ['snapshot', String(att.pid), '--yes', '--json', '-o', file];
        if (threadId !== null) args.push('--worker', String(threadId));
        if (this.opts.maxGrowthBytes !== null) args.push('--max-growth', String(this.opts.maxGrowthBytes));
        t.paused = true;
        this.event(att.pid, new Date().toISOString(), { event: 'paused', reason: 'snapshot' }, 'sampling paused: the heap snapshot freezes the target');
        let r: ChildResult;
        try {
          r = await nodetopChild(att, args, this.timeoutMs, this.allowRemote);
        } finally {
          t.paused = false;
        }
        this.event(att.pid, new Date().toISOString(), { event: 'resumed' }, 'sampling resumed');
        return this.childResult(r, file, took(), (j) => ({ path: String(j.path), ...(threadId !== null ? { threadId } : {}) }));
      }
      case 'profile': {
        const room = this.room(0, 'a CPU profile');
        if (room) return { status: 'refused', durationMs: took(), message: room, exitCode: ExitCode.RefusedUnsafe };
        const file = name('cpuprofile');
        const r = await nodetopChild(att, ['profile', String(att.pid), '--json', '-o', file, '--duration', `${a.durationMs}ms`], this.timeoutMs, this.allowRemote);
        return this.childResult(r, file, took(), (j) => ({
          path: String(j.path),
          top: (Array.isArray(j.top) ? (j.top as Array<Record<string, unknown>>) : []).slice(0, 5).map((x) => ({
            function: String(x.function),
            url: String(x.url),
            line: typeof x.line === 'number' ? x.line : null,
            selfPercent: Number(x.selfPercent),
          })),
        }));
      }
      case 'gc': {
        t.paused = true;
        try {
          const r = await gcOne({ kind: 'main', threadId: 0, name: 'main', sender: att.session, worker: null }, att.pid, att.timeoutMs, null, true);
          return { status: 'ok', durationMs: took(), heapUsedBeforeBytes: r.before?.heapUsedBytes ?? null, heapUsedAfterBytes: r.after?.heapUsedBytes ?? null };
        } finally {
          t.paused = false;
        }
      }
      case 'stats': {
        const text = `${JSON.stringify(s)}\n`;
        const room = this.room(Buffer.byteLength(text), 'the sample');
        if (room) return { status: 'refused', durationMs: took(), message: room, exitCode: ExitCode.RefusedUnsafe };
        const file = AtomicFile.create(name('json'));
        try {
          const n = await file.commit(text);
          this.written += n;
          return { status: 'ok', durationMs: took(), path: file.finalPath, bytes: n };
        } finally {
          file.discard();
        }
      }
      case 'exec': {
        const r = await runExec(a.argv, execEnv(f, s, this.opts.outDir.path, files), att.pid);
        return { ...r, durationMs: took() };
      }
    }
  }

  /** Why a file of about `need` bytes must not be written now (the disk budget, free space), or null. */
  private room(need: number | null, what: string): string | null {
    const budget = this.opts.diskBudgetBytes;
    if (budget !== null) {
      if (this.written >= budget) return `the --disk-budget of ${bytes(budget)} is spent (${bytes(this.written)} written)`;
      if (need !== null && this.written + need > budget) {
        return `${what} may take ~${bytes(need)} (2x the heap used), over what is left of the --disk-budget of ${bytes(budget)} (${bytes(budget - this.written)})`;
      }
    }
    if (need !== null && need > 0) {
      try {
        const st = fs.statfsSync(this.opts.outDir.path);
        const free = st.bavail * st.bsize;
        if (need > free) return `${what} may take ~${bytes(need)} (2x the heap used) and ${this.opts.outDir.path} has ${bytes(free)} free`;
      } catch {
        /* the write itself says what is wrong with the directory */
      }
    }
    return null;
  }

  /**
   * The child's result. The budget counts the size of the file as it is on disk, whatever the
   * estimate beforehand was (it comes from the heap size the target reports, which a target can
   * lie about: a review wrote 247 MiB under --disk-budget 20M), so later actions see the truth.
   */
  private childResult(r: ChildResult, file: string, durationMs: number, ok: (j: Record<string, unknown>) => Partial<ActionResult>): ActionResult {
    const size = ((): number | null => {
      try {
        const st = fs.lstatSync(file);
        return st.isFile() ? st.size : null;
      } catch {
        return null;
      }
    })();
    if (size !== null) this.written += size;
    if (r.code === 0) {
      try {
        const j = JSON.parse(r.stdout) as Record<string, unknown>;
        return { status: 'ok' as const, durationMs, ...ok(j), ...(size !== null ? { bytes: size } : {}) };
      } catch {
        /* not the result object: reported below */
      }
    }
    const line = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('nodetop: ') && !/a heap snapshot freezes/.test(l))
      .pop();
    const message = line ? line.replace(/^nodetop: /, '') : `the command ended with exit code ${String(r.code)}`;
    return { status: r.code === ExitCode.RefusedUnsafe ? 'refused' : 'failed', durationMs, message, ...(r.code !== null ? { exitCode: r.code } : {}) };
  }
}

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `nodetop <args>` on the inspector the watch holds (a second session), as the live view's
 * snapshot key runs it. Ctrl-C or SIGTERM interrupts it (it removes its partial file).
 */
function nodetopChild(att: Attachment, args: string[], timeoutMs: number, allowRemote: boolean): Promise<ChildResult> {
  // through a relay into a container, the child finds the inspector by the pid and relays it itself
  const endpoint = att.reach.relay ? [] : ['--endpoint', att.inspector.url, ...(allowRemote ? ['--allow-remote'] : [])];
  const bin = path.join(__dirname, '..', '..', '..', 'bin', 'nodetop.js');
  const argv = [bin, ...args, ...endpoint, '--timeout', `${timeoutMs}ms`];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // it removes its partial file and stops what it started in the target: wait for that (the
    // lifecycle bounds every clean-up) before this nodetop detaches and exits
    const unregister = onExit(() => {
      child.kill('SIGINT');
      return exited;
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => {
      unregister();
      resolve({ code: null, stdout, stderr: `nodetop: ${e.message}` });
    });
    child.on('exit', (code) => {
      unregister();
      resolve({ code, stdout, stderr });
    });
  });
}

/** The readings an exec'd command finds in its environment (documented in docs/commands.md). */
export function execEnv(f: Firing, s: Sample, outDir: string, files: string[]): Record<string, string> {
  const env: Record<string, string> = {
    NODETOP_PID: String(f.pid),
    NODETOP_TRIGGER: String(f.trigger),
    NODETOP_WHEN: f.when,
    NODETOP_FIRING: String(f.number ?? ''),
    NODETOP_TIME: s.time,
    NODETOP_OUT: outDir,
    NODETOP_FILES: files.join('\n'),
    NODETOP_VALUES: JSON.stringify(f.values),
  };
  const put = (k: string, v: number | null | undefined): void => {
    if (typeof v === 'number' && Number.isFinite(v)) env[k] = String(Math.round(v * 1000) / 1000);
  };
  put('NODETOP_THREAD_ID', f.threadId);
  put('NODETOP_HEAP_USED', s.memory.heapUsedBytes);
  put('NODETOP_HEAP_TOTAL', s.memory.heapTotalBytes);
  put('NODETOP_HEAP_LIMIT', s.memory.heapLimitBytes);
  put('NODETOP_RSS', s.process.rssBytes);
  put('NODETOP_EXTERNAL', s.memory.externalBytes);
  put('NODETOP_CPU_PERCENT', s.process.cpuPercent);
  put('NODETOP_LAG_P99_MS', s.eventLoop.lagMs?.p99);
  put('NODETOP_LAG_MAX_MS', s.eventLoop.lagMs?.max);
  put('NODETOP_ELU', s.eventLoop.utilization);
  put('NODETOP_FDS', s.process.fds.open);
  put('NODETOP_FDS_LIMIT', s.process.fds.limit);
  put('NODETOP_HANDLES', s.handles?.total);
  put('NODETOP_GC_PAUSE_MS', s.gc?.pauseMs);
  return env;
}

/**
 * The user's command, as its words (no shell: a shell runs only when they wrote one), with
 * nodetop's environment plus the readings. Its output goes to stderr, line by line, sanitized.
 */
function runExec(argv: string[], extra: Record<string, string>, pid: number): Promise<Omit<ActionResult, 'durationMs'>> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extra } });
    const relay = (stream: NodeJS.ReadableStream): void => {
      let partial = '';
      stream.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) errLine(`nodetop: exec (pid ${pid}): ${l}`);
      });
      stream.on('end', () => {
        if (partial) errLine(`nodetop: exec (pid ${pid}): ${partial}`);
      });
    };
    relay(child.stdout);
    relay(child.stderr);
    let timedOut = false;
    const kill = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, EXEC_TIMEOUT_MS);
    // a nodetop that is stopped stops the command it started
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const unregister = onExit(() => {
      child.kill('SIGTERM');
      return exited;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(kill);
      unregister();
      resolve({ status: 'failed', message: `cannot run ${argv[0]}: ${e.code === 'ENOENT' ? 'no such file (give a path such as ./page-oncall.sh, or a command on PATH)' : e.code === 'EACCES' ? 'permission denied (is it executable?)' : e.message}` });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(kill);
      unregister();
      if (code === 0) resolve({ status: 'ok' });
      else if (timedOut) resolve({ status: 'failed', message: `stopped after ${ms(EXEC_TIMEOUT_MS)}` });
      else resolve({ status: 'failed', message: signal ? `killed by ${signal}` : `exited with code ${String(code)}`, ...(code !== null ? { exitCode: code } : {}) });
    });
  });
}

function firingRecord(f: Firing): Record<string, unknown> {
  return {
    event: 'trigger',
    trigger: f.trigger,
    when: f.when,
    time: f.time,
    firing: f.number,
    values: f.values,
    threadId: f.threadId,
    actions: f.actions.map((a) => a.text),
    ...(f.skipped ? { skipped: f.skipped } : {}),
  };
}

function firingLine(f: Firing, max: number): string {
  const what = f.actions.length === 0 ? 'no actions' : f.skipped ? `actions skipped: the --max-actions budget (${max}) is spent` : `running ${f.actions.map((a) => a.text).join(', ')} (${f.number} of ${max})`;
  return `trigger t${f.trigger} fired (${f.when}): ${triggerValuesText(f.values)}${f.threadId !== null ? ` (worker ${f.threadId})` : ''}; ${what}`;
}

function actionLine(f: Firing, a: Action, r: ActionResult): string {
  const head = `t${f.trigger} ${a.text}`;
  if (r.status !== 'ok') return `${head} ${r.status}: ${r.message ?? ''}`;
  switch (a.kind) {
    case 'gc':
      return `${head}: heap used ${bytes(r.heapUsedBeforeBytes)} -> ${bytes(r.heapUsedAfterBytes)} in ${ms(r.durationMs)}`;
    case 'exec':
      return `${head}: done in ${ms(r.durationMs)}`;
    case 'profile': {
      const top = r.top?.[0];
      return `${head}: ${r.path} (${bytes(r.bytes)})${top ? `; top: ${top.function} ${top.selfPercent.toFixed(1)}%` : ''}`;
    }
    default:
      return `${head}: ${r.path} (${bytes(r.bytes)} in ${ms(r.durationMs)})`;
  }
}

/** The exit for a spent budget: said once on stderr, exit code 13. */
export function budgetSpentError(n: number): NodetopError {
  return new NodetopError(`the action budget is spent (${n} firing${n === 1 ? '' : 's'} ran their actions): watch ended`, {
    exitCode: ExitCode.BudgetSpent,
    hint: '--max-actions N allows more; --keep-watching goes on watching (and reports firings) once it is spent',
  });
}
