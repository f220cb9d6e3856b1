// The command line: parse argv (pure: `parseCommandLine` is tested without spawning), dispatch to
// one command, and turn whatever ends it into an exit code. A NodetopError is one line on
// stderr (plus a hint); anything else is a bug and prints its stack with a request to report it.
//
// Commands are loaded lazily: `nodetop stats` should not pay for blessed at start-up.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, NodetopError, isNodetopError } from './errors';
import { runCleanups, setExitHook } from './lifecycle';

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
  | { command: 'stats'; pid?: number; windowMs: number; json: boolean; common: CommonOptions }
  | { command: 'attach'; pids: number[]; cluster?: number; intervalMs: number; readonly: boolean; common: CommonOptions }
  | { command: 'demo'; intervalMs: number; readonly: boolean; timeoutMs: number }
  | { command: 'profile'; pid?: number; durationMs: number; intervalUs: number; top: number; output?: string; json: boolean; common: CommonOptions }
  | { command: 'heap-diff'; a: string; b: string; top: number; json: boolean }
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

export function parseDurationMs(text: string, name: string, min = 1, max = 86_400_000): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`${name} must be a duration such as 500, 500ms, 2s or 1m, not ${JSON.stringify(text)}`);
  const mult = m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1;
  const v = Math.round(Number(m[1]) * mult);
  if (v < min || v > max) throw new InvalidArgumentError(`${name} must be between ${min} ms and ${max} ms, not ${v} ms`);
  return v;
}

export function parsePositiveInt(text: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`${name} must be a whole number, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--timeout <ms>', 'bound on every inspector call and on opening the inspector')
        .default(5000)
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
      .option('--json', 'one JSON object (schema in the README)', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = { command: 'stats', windowMs: o.window as number, json: Boolean(o.json), common: c, ...(pid !== undefined ? { pid } : {}) };
  });

  addCommon(
    program
      .command('attach')
      .description('the live top-style view of a process, or an overview of several (q quits, ? lists the keys)')
      .argument('[pids...]', 'process ids')
      .option('--cluster <pid>', 'the primary and every Node process it forked', parsePid)
      .addOption(
        new Option('--interval <ms>', 'time between samples')
          .default(1000)
          .argParser((v) => parseDurationMs(v, '--interval', 100, 600_000)),
      )
      .option('--readonly', 'disable every key that changes the target (GC, snapshot)', false),
  ).action((pidArgs: string[], o: Record<string, unknown>) => {
    const c = common(o);
    const pids = pidArgs.map((p) => {
      try {
        return parsePid(p);
      } catch (e) {
        throw new NodetopError(e instanceof Error ? e.message : String(e), { exitCode: ExitCode.Usage });
      }
    });
    const cluster = o.cluster as number | undefined;
    if (cluster !== undefined && pids.length > 0) {
      throw new NodetopError('give pids or --cluster, not both', { exitCode: ExitCode.Usage });
    }
    if (new Set(pids).size !== pids.length) throw new NodetopError('a pid is given twice', { exitCode: ExitCode.Usage });
    requirePidOrEndpoint(pids[0] ?? cluster, c);
    result = { command: 'attach', pids, intervalMs: o.interval as number, readonly: Boolean(o.readonly), common: c, ...(cluster !== undefined ? { cluster } : {}) };
  });

  addCommon(
    program
      .command('profile')
      .description('a CPU profile of the main thread: a .cpuprofile file for DevTools and the top functions')
      .argument('[pid]', 'process id', parsePid)
      .addOption(
        new Option('--duration <time>', 'how long to profile (500ms, 5s, 1m)')
          .default(5000, '5s')
          .argParser((v) => parseDurationMs(v, '--duration', 100, 3_600_000)),
      )
      .addOption(
        new Option('--interval-us <us>', 'sampling interval in microseconds, as node --cpu-prof')
          .default(1000)
          .argParser((v) => parsePositiveInt(v, '--interval-us', 10, 1_000_000)),
      )
      .addOption(
        new Option('--top <n>', 'how many functions to list')
          .default(15)
          .argParser((v) => parsePositiveInt(v, '--top', 1, 10_000)),
      )
      .option('-o, --output <path>', 'where to write the .cpuprofile (default: <title>-<pid>-<time>.cpuprofile here)')
      .option('--json', 'one JSON object: the path and the top functions (schema in the README)', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'profile',
      durationMs: o.duration as number,
      intervalUs: o.intervalUs as number,
      top: o.top as number,
      json: Boolean(o.json),
      common: c,
      ...(pid !== undefined ? { pid } : {}),
      ...(typeof o.output === 'string' ? { output: o.output } : {}),
    };
  });

  program
    .command('heap-diff')
    .description('which constructors grew between two heap snapshots: counts and self sizes, b - a')
    .argument('<a>', 'the earlier .heapsnapshot')
    .argument('<b>', 'the later .heapsnapshot')
    .addOption(
      new Option('--top <n>', 'how many groups to list')
        .default(20)
        .argParser((v) => parsePositiveInt(v, '--top', 1, 1_000_000)),
    )
    .option('--json', 'one JSON object (schema in the README)', false)
    .action((a: string, b: string, o: Record<string, unknown>) => {
      result = { command: 'heap-diff', a, b, top: o.top as number, json: Boolean(o.json) };
    });

  program
    .command('demo')
    .description('start a bundled demo service and open the live view on it')
    .addOption(
      new Option('--interval <ms>', 'time between samples')
        .default(1000)
        .argParser((v) => parseDurationMs(v, '--interval', 100, 600_000)),
    )
    .option('--readonly', 'disable every key that changes the target (GC, snapshot)', false)
    .action((o: Record<string, unknown>) => {
      result = { command: 'demo', intervalMs: o.interval as number, readonly: Boolean(o.readonly), timeoutMs: 3000 };
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

function requireTerminal(): void {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new NodetopError('the live view needs a terminal; from a script use nodetop stats (or watch)', { exitCode: ExitCode.Usage });
  }
}

async function dispatch(inv: Invocation, out: Output): Promise<number | void> {
  switch (inv.command) {
    case 'help':
    case 'version':
      out.write(inv.text);
      return;
    case 'stats': {
      const { statsCommand } = await import('./commands/stats.js');
      await statsCommand({ ...inv.common, ...(inv.pid !== undefined ? { pid: inv.pid } : {}), windowMs: inv.windowMs, json: inv.json }, out);
      return;
    }
    case 'profile': {
      const { profileCommand } = await import('./commands/profile.js');
      await profileCommand(
        {
          ...inv.common,
          ...(inv.pid !== undefined ? { pid: inv.pid } : {}),
          ...(inv.output !== undefined ? { output: inv.output } : {}),
          durationMs: inv.durationMs,
          intervalUs: inv.intervalUs,
          top: inv.top,
          json: inv.json,
        },
        out,
      );
      return;
    }
    case 'heap-diff': {
      const { heapDiffCommand } = await import('./commands/heapdiff.js');
      await heapDiffCommand(inv, out);
      return;
    }
    case 'demo': {
      requireTerminal();
      const { demoCommand } = await import('./commands/demo.js');
      return demoCommand(inv);
    }
    case 'attach': {
      requireTerminal();
      const { attachCommand } = await import('./commands/attach.js');
      return attachCommand({ ...inv.common, pids: inv.pids, ...(inv.cluster !== undefined ? { cluster: inv.cluster } : {}), intervalMs: inv.intervalMs, readonly: inv.readonly });
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
    const c = await dispatch(parseCommandLine(argv), stdoutOut);
    if (typeof c === 'number') code = c;
  } catch (e) {
    code = report(e);
  }
  await runCleanups();
  exitAfterFlush(code);
}
