// The command line: parse argv (pure: `parseCommandLine` is tested without spawning), dispatch to
// one command, and turn whatever ends it into an exit code. A NodetopError is one line on
// stderr (plus a hint); anything else is a bug and prints its stack with a request to report it.
//
// Commands are loaded lazily: `nodetop stats` should not pay for blessed at start-up.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, NodetopError, isNodetopError } from './errors';
import { runCleanups, setExitHook } from './lifecycle';
import type { IsolateSelection } from './inspector/isolates';

export interface Output {
  write(text: string): void;
}

export interface CommonOptions {
  timeoutMs: number;
  endpoint?: string;
  allowRemote: boolean;
  keepInspector: boolean;
}

export type Invocation =
  | { command: 'stats'; pid?: number; windowMs: number; json: boolean; workers: boolean; common: CommonOptions }
  | { command: 'gc'; pid?: number; select: IsolateSelection; json: boolean; common: CommonOptions }
  | {
      command: 'snapshot';
      pid?: number;
      select: IsolateSelection;
      output?: string;
      quiet: boolean;
      json: boolean;
      force: boolean;
      yes: boolean;
      gcFirst: boolean;
      maxGrowthBytes: number | null;
      common: CommonOptions;
    }
  | { command: 'help'; text: string }
  | { command: 'version'; text: string };

const VERSION: string = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export function parsePid(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`pid must be a positive integer, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 4_194_304) throw new InvalidArgumentError(`pid ${text} is out of range`);
  return n;
}

export function parseThreadId(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`--worker takes a worker's threadId (a positive integer), not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`--worker ${text}: threadIds of workers start at 1 (0 is the main thread)`);
  return n;
}

/** --worker / --all-threads -> which isolates; both at once is a usage error. */
function isolateSelection(o: Record<string, unknown>, allowAll: boolean): IsolateSelection {
  if (o.worker !== undefined && o.allThreads) {
    throw new NodetopError('give either --worker <threadId> or --all-threads, not both', { exitCode: ExitCode.Usage });
  }
  if (o.worker !== undefined) return { kind: 'worker', threadId: o.worker as number };
  if (allowAll && o.allThreads) return { kind: 'all' };
  return { kind: 'main' };
}

/** 1048576, 512k, 300M, 2G, 1.5GiB -> bytes. */
export function parseBytes(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`${name} must be a size such as 512M or 2G, not ${JSON.stringify(text)}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * mult);
}

export function parseDurationMs(text: string, name: string, min = 1, max = 86_400_000): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`${name} must be a duration such as 500, 500ms, 2s or 1m, not ${JSON.stringify(text)}`);
  const mult = m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1;
  const v = Math.round(Number(m[1]) * mult);
  if (v < min || v > max) throw new InvalidArgumentError(`${name} must be between ${min} ms and ${max} ms, not ${v} ms`);
  return v;
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--timeout <ms>', 'bound on every inspector call and on opening the inspector')
        .default(3000)
        .argParser((v) => parseDurationMs(v, '--timeout', 50, 600_000)),
    )
    .option('--endpoint <host:port|ws-url>', 'attach to an inspector that is already open (a tunnel, a container)')
    .option('--allow-remote', 'allow a non-loopback --endpoint (the inspector is remote code execution)', false)
    .option('--keep-inspector', 'leave open an inspector that nodetop opened', false);
}

function common(o: Record<string, unknown>): CommonOptions {
  const c: CommonOptions = {
    timeoutMs: o.timeout as number,
    allowRemote: Boolean(o.allowRemote),
    keepInspector: Boolean(o.keepInspector),
  };
  if (typeof o.endpoint === 'string') c.endpoint = o.endpoint;
  return c;
}

function requirePidOrEndpoint(pid: number | undefined, c: CommonOptions): void {
  if (pid === undefined && c.endpoint === undefined) {
    throw new NodetopError('give the pid of a Node process, or --endpoint host:port', {
      exitCode: ExitCode.Usage,
      hint: 'nodetop ps lists the Node processes you can attach to',
    });
  }
}

/** Parses argv into an Invocation. Throws NodetopError (exit 2) for any bad input. */
export function parseCommandLine(argv: string[]): Invocation {
  let result: Invocation | null = null;
  let helpText = '';
  const program = new Command('nodetop')
    .description('top for a running Node.js process: attach by pid, no restart')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => (helpText += s),
      writeErr: () => undefined,
    })
    .showSuggestionAfterError(true);

  addCommon(
    program
      .command('stats')
      .description('one sample of a process: memory, heap, GC, event loop, handles, host')
      .argument('[pid]', 'process id', parsePid)
      .addOption(
        new Option('--window <ms>', 'how long lag, utilization, GC and CPU are measured')
          .default(1000)
          .argParser((v) => parseDurationMs(v, '--window', 10, 600_000)),
      )
      .option('--json', 'one JSON object (schema in the README)', false)
      .option('--no-workers', 'do not attach to worker threads (NodeWorker domain)'),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'stats',
      windowMs: o.window as number,
      json: Boolean(o.json),
      workers: o.workers !== false,
      common: c,
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  addCommon(
    program
      .command('gc')
      .description('force a full GC in the target and report heap used before -> after (is it garbage or is it held?)')
      .argument('[pid]', 'process id', parsePid)
      .option('--worker <threadId>', 'only this worker thread (threadIds: nodetop stats)', parseThreadId)
      .option('--all-threads', 'the main thread and every worker, one after the other', false)
      .option('--json', 'one JSON object (schema in the README)', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = { command: 'gc', select: isolateSelection(o, true), json: Boolean(o.json), common: c, ...(pid !== undefined ? { pid } : {}) };
  });

  addCommon(
    program
      .command('snapshot')
      .description('write a heap snapshot of the main thread or a worker, streamed to disk (open it in Chrome DevTools or memlab)')
      .argument('[pid]', 'process id', parsePid)
      .option('-o, --output <path>', 'where to write it (default: <title>-<pid>-<time>.heapsnapshot here)')
      .option('--worker <threadId>', 'snapshot this worker thread instead of the main thread', parseThreadId)
      .option('--gc-first', 'force a full GC just before (the snapshot then holds only live objects)', false)
      .option('--force', 'take it even when the target may not have the memory for it', false)
      .option('--max-growth <size>', 'refuse when the target may need more than this much extra memory (e.g. 512M)', (v) => parseBytes(v, '--max-growth'))
      .option('-y, --yes', 'do not ask on a terminal before freezing the target', false)
      .option('-q, --quiet', 'print nothing but the path', false)
      .option('--json', 'print a result object {path, bytes, durationMs, threadId, ...}', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'snapshot',
      select: isolateSelection(o, false),
      quiet: Boolean(o.quiet),
      json: Boolean(o.json),
      force: Boolean(o.force),
      yes: Boolean(o.yes),
      gcFirst: Boolean(o.gcFirst),
      maxGrowthBytes: typeof o.maxGrowth === 'number' ? o.maxGrowth : null,
      common: c,
      ...(typeof o.output === 'string' ? { output: o.output } : {}),
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { command: 'help', text: helpText };
      if (e.code === 'commander.version') return { command: 'version', text: helpText };
      throw new NodetopError(e.message.replace(/^error: /, ''), { exitCode: ExitCode.Usage, hint: 'nodetop --help lists the commands' });
    }
    throw e;
  }
  if (!result) {
    // no sub-command
    return { command: 'help', text: program.helpInformation() };
  }
  return result;
}

const stdoutOut: Output = {
  write(text: string): void {
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  },
};

/** Exits once stdout has taken everything written so far (a pipe may still be draining). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

function report(e: unknown): number {
  if (isNodetopError(e)) {
    process.stderr.write(`nodetop: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    return e.exitCode;
  }
  const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.stderr.write(`nodetop: internal error (a bug in nodetop; please report it with this output)\n${stack}\n`);
  return ExitCode.Bug;
}

async function dispatch(inv: Invocation, out: Output): Promise<void> {
  switch (inv.command) {
    case 'help':
    case 'version':
      out.write(inv.text);
      return;
    case 'gc': {
      const { gcCommand } = await import('./commands/gc.js');
      await gcCommand({ ...inv.common, ...(inv.pid !== undefined ? { pid: inv.pid } : {}), select: inv.select, json: inv.json }, out);
      return;
    }
    case 'snapshot': {
      const { snapshotCommand } = await import('./commands/snapshot.js');
      const { common: c, pid, select, quiet, json, force, yes, gcFirst, maxGrowthBytes, output } = inv;
      await snapshotCommand(
        { ...c, select, quiet, json, force, yes, gcFirst, maxGrowthBytes, ...(output !== undefined ? { output } : {}), ...(pid !== undefined ? { pid } : {}) },
        out,
      );
      return;
    }
    case 'stats': {
      const { statsCommand } = await import('./commands/stats.js');
      await statsCommand(
        { ...inv.common, ...(inv.pid !== undefined ? { pid: inv.pid } : {}), windowMs: inv.windowMs, json: inv.json, workers: inv.workers },
        out,
      );
      return;
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  // `nodetop ... | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') void runCleanups().then(() => process.exit(ExitCode.Ok));
  });
  setExitHook(exitAfterFlush);
  let code: number = ExitCode.Ok;
  try {
    await dispatch(parseCommandLine(argv), stdoutOut);
  } catch (e) {
    code = report(e);
  }
  await runCleanups();
  exitAfterFlush(code);
}
