// The command line: parse argv (pure: `parseCommandLine` is tested without spawning), dispatch to
// one command, and turn whatever ends it into an exit code. A NodetopError is one line on
// stderr (plus a hint); anything else is a bug and prints its stack with a request to report it.
//
// Commands are loaded lazily: `nodetop stats` should not pay for blessed at start-up.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { debugTrace } from './debug';
import { ExitCode, NodetopError, isNodetopError } from './errors';
import { installSignalHandlers, interruptedBy, runCleanups, setExitHook } from './lifecycle';
import { checkListen, parseListen } from './listen';
import { WATCH_FIELDS, type WatchField } from './sinks/line';
import { errLine, outText } from './sinks/terminal';
import type { IsolateSelection } from './inspector/isolates';
// types only: erased from the output, so the commands still load when they run
import type { AttachOptions } from './inspector/attach';
import type { AttachCommandOptions } from './commands/attach';
import type { ExportOptions } from './commands/export';
import type { GcOptions } from './commands/gc';
import type { ArmOptions } from './commands/arm';
import type { HeapDiffOptions } from './commands/heapdiff';
import type { HeapSummaryOptions } from './commands/heapsummary';
import type { ProfileOptions } from './commands/profile';
import type { RecordOptions } from './commands/record';
import type { PsOptions } from './commands/ps';
import type { SnapshotOptions } from './commands/snapshot';
import type { StatsOptions } from './commands/stats';
import type { WatchOptions } from './commands/watch';
import type { TriggerOptions } from './commands/triggerRun';
// pure and small: the trigger language is checked while the command line is parsed
import { Condition, ConditionError } from './model/trigger';
import { ActionError, parseAction, type TriggerSpec } from './model/triggers';

import type { Output } from './sinks/output';
export type { Output } from './sinks/output';

export interface CommonOptions {
  timeoutMs: number;
  endpoint?: string;
  allowRemote: boolean;
  keepInspector: boolean;
  forceSignal: boolean;
  /** A wrapper's pid (npm start, nodemon, pm2) stands for its single Node child. */
  followChild: boolean;
}

/**
 * A command against one target, as parsed: the command's own options (its options type less the
 * attach options), with the attach options every such command shares in `common`.
 */
type OnTarget<C extends string, O extends AttachOptions> = { command: C; pid?: number; common: CommonOptions } & Omit<O, keyof AttachOptions>;

export type Invocation =
  | OnTarget<'stats', StatsOptions>
  | ({ command: 'attach'; common: CommonOptions } & Omit<AttachCommandOptions, keyof AttachOptions>)
  | { command: 'demo'; intervalMs: number; readonly: boolean; timeoutMs: number }
  | ({ command: 'ps' } & PsOptions)
  | ({ command: 'watch'; common: CommonOptions } & Omit<WatchOptions, keyof CommonOptions>)
  | ({ command: 'export'; followChild: boolean } & ExportOptions)
  | { command: 'top'; intervalMs: number; timeoutMs: number }
  | OnTarget<'gc', Omit<GcOptions, 'notice'>>
  | OnTarget<'arm', ArmOptions>
  | OnTarget<'snapshot', SnapshotOptions>
  | OnTarget<'profile', ProfileOptions>
  | OnTarget<'record', RecordOptions>
  | { command: 'replay'; file: string }
  | ({ command: 'heap-diff' } & HeapDiffOptions)
  | ({ command: 'heap-summary' } & HeapSummaryOptions)
  | { command: 'ps-pids'; mine: boolean }
  | { command: 'completion'; text: string }
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

export function parsePositiveInt(text: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new InvalidArgumentError(`${name} must be a whole number, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, not ${n}`);
  return n;
}

type ExportLabel = { pid: number | null; name: string; value: string };
/** Labels nodetop sets itself (and prom-client's): a --label of that name would hide it. */
const RESERVED_LABELS = new Set(['pid', 'script', 'thread', 'type', 'space', 'kind', 'le', 'version', 'major', 'minor', 'patch', 'quantile', 'job', 'instance']);

/** `name=value` or `pid:name=value`: a Prometheus label for every series (or one pid's). */
export function parseLabel(text: string): ExportLabel {
  const m = /^(?:(\d+):)?([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$/s.exec(text);
  if (!m) throw new InvalidArgumentError(`--label takes name=value or pid:name=value (a name of letters, digits and _), not ${JSON.stringify(text)}`);
  const name = m[2]!;
  if (name.startsWith('__') || RESERVED_LABELS.has(name)) throw new InvalidArgumentError(`--label ${name}: that name is nodetop's or Prometheus's own`);
  return { pid: m[1] === undefined ? null : parsePid(m[1]), name, value: m[3]! };
}

function parseFields(text: string): WatchField[] {
  const names = text.split(',').map((f) => f.trim()).filter(Boolean);
  const bad = names.filter((n) => !(WATCH_FIELDS as readonly string[]).includes(n));
  if (bad.length || names.length === 0) {
    throw new InvalidArgumentError(`unknown field ${JSON.stringify(bad[0] ?? text)}; the fields are ${WATCH_FIELDS.join(',')}`);
  }
  return names as WatchField[];
}

/** --max-growth: snapshot's, and watch's for the snapshots its triggers take. */
function maxGrowthOption(): Option {
  return new Option('--max-growth <size>', 'refuse a snapshot when the target may need more than this much extra memory (e.g. 512M)').argParser((v) => parseBytes(v, '--max-growth'));
}

/**
 * watch's triggers: `--when COND` starts one, each `--then ACTION` after it adds an action to it,
 * in command-line order (commander calls the parsers in that order). The rest are its limits.
 */
function addTriggerOptions(cmd: Command, triggers: TriggerSpec[]): Command {
  return cmd
    .option('--when <condition>', "a trigger: 'heap.used > 85% of limit for 30s' (the language: docs/commands.md#triggers); repeatable", (v: string) => {
      try {
        new Condition(v);
      } catch (e) {
        if (e instanceof ConditionError) throw new InvalidArgumentError(`--when ${JSON.stringify(v)}: ${e.message}`);
        throw e;
      }
      triggers.push({ index: triggers.length + 1, when: v, actions: [] });
      return v;
    })
    .option('--then <action>', "what the --when before it does when it fires: snapshot, snapshot worker [N], 'profile 10s', gc, stats, 'exec CMD ARGS'; repeatable", (v: string) => {
      const last = triggers[triggers.length - 1];
      if (!last) throw new InvalidArgumentError(`--then ${JSON.stringify(v)} comes before any --when: give the condition first`);
      try {
        last.actions.push(parseAction(v));
      } catch (e) {
        if (e instanceof ActionError) throw new InvalidArgumentError(`--then ${e.message}`);
        throw e;
      }
      return v;
    })
    .option('--out <dir>', 'where the actions write their files (default: the current directory; created if missing)')
    .addOption(new Option('--max-actions <n>', 'firings that run their actions, in all; then watch exits with code 13').default(1).argParser((v) => parsePositiveInt(v, '--max-actions', 1, 1_000_000)))
    .addOption(
      new Option('--cooldown <duration>', 'after a firing, its trigger does not fire again on that target for this long (0s, 30s, 5m, 1h)')
        .default(60_000, '1m')
        .argParser((v) => parseCooldownMs(v)),
    )
    .option('--disk-budget <size>', "the most the actions' files may take in --out (e.g. 2G); a snapshot that may not fit is refused", (v) => parseBytes(v, '--disk-budget'))
    .addOption(maxGrowthOption())
    .option('--keep-watching', 'once --max-actions is spent, go on watching and reporting firings (their actions skipped)', false);
}

/** 0, 30s, 5m, 1h, 1500ms -> ms (a cooldown may be 0). */
function parseCooldownMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h)$/.exec(text.trim());
  if (!m && text.trim() !== '0') throw new InvalidArgumentError(`--cooldown must be a duration such as 0s, 30s, 5m or 1h, not ${JSON.stringify(text)}`);
  if (!m) return 0;
  const v = Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 }[m[2]!]!);
  if (v > 7 * 86_400_000) throw new InvalidArgumentError(`--cooldown must be at most 7 days, not ${JSON.stringify(text)}`);
  return v;
}

/** The trigger options as watchCommand takes them; null without --when. Throws a usage error for a limit without a trigger. */
function triggerOptions(o: Record<string, unknown>, triggers: TriggerSpec[]): TriggerOptions | null {
  if (triggers.length === 0) {
    const stray = ['out', 'diskBudget', 'maxGrowth', 'keepWatching'].find((k) => o[k] !== undefined && o[k] !== false);
    if (stray) throw new NodetopError(`--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --when (a trigger): there is none`, { exitCode: ExitCode.Usage });
    return null;
  }
  for (const t of triggers) {
    if (t.actions.some((a) => a.kind === 'snapshot' && a.worker === 'tripped') && !/\bworker[.[]/.test(t.when)) {
      throw new NodetopError(`--then "snapshot worker" needs a worker in its --when (worker.heap.used > 80% of limit): ${JSON.stringify(t.when)} names none; give a threadId (snapshot worker 3)`, {
        exitCode: ExitCode.Usage,
      });
    }
  }
  return {
    triggers,
    limits: { maxActions: o.maxActions as number, cooldownMs: o.cooldown as number, keepWatching: Boolean(o.keepWatching) },
    outDir: typeof o.out === 'string' ? o.out : '.',
    diskBudgetBytes: typeof o.diskBudget === 'number' ? o.diskBudget : null,
    maxGrowthBytes: typeof o.maxGrowth === 'number' ? o.maxGrowth : null,
  };
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
    .option('--keep-inspector', 'leave open an inspector that nodetop opened', false)
    .option('--force-signal', 'send SIGUSR1 even when the main thread is blocked outside JavaScript (the inspector then opens late; the watchdog closes it)', false)
    .option('--follow-child', 'when the pid is a wrapper (npm start, yarn, pnpm, nodemon, pm2), attach to its single Node child instead', false);
}

function common(o: Record<string, unknown>): CommonOptions {
  const c: CommonOptions = {
    timeoutMs: o.timeout as number,
    allowRemote: Boolean(o.allowRemote),
    keepInspector: Boolean(o.keepInspector),
    forceSignal: Boolean(o.forceSignal),
    followChild: Boolean(o.followChild),
  };
  if (typeof o.endpoint === 'string') c.endpoint = o.endpoint;
  return c;
}

/**
 * --cluster P: the pids of P's cluster, workers first (see clusterPids), read from /proc now. A
 * wrapper as P is refused, or stands for its Node child with --follow-child (src/platform/wrappers.ts).
 */
function withCluster(pids: number[], cluster: number | undefined, command: string, followChild: boolean): number[] {
  if (cluster === undefined) return pids;
  if (pids.length > 0) throw new NodetopError('give pids or --cluster, not both', { exitCode: ExitCode.Usage });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { clusterPids } = require('./platform/ps') as typeof import('./platform/ps');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { checkPid } = require('./inspector/locate') as typeof import('./inspector/locate');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { appPid } = require('./platform/wrappers') as typeof import('./platform/wrappers');
  checkPid(cluster);
  const primary = appPid(cluster, `${command} --cluster`, followChild);
  return clusterPids(primary);
}

function requirePidOrEndpoint(pid: number | undefined, c: CommonOptions): void {
  if (pid === undefined && c.endpoint === undefined) {
    throw new NodetopError('give the pid of a Node process, or --endpoint host:port', {
      exitCode: ExitCode.Usage,
      hint: 'nodetop ps lists the Node processes you can attach to',
    });
  }
}

/**
 * commander's help, less what is for programmers: no `(default: false)` after a flag, and
 * choices and defaults in one bracket.
 */
const HELP = {
  optionDescription(o: Option): string {
    const extra: string[] = [];
    if (o.argChoices) extra.push(`one of ${o.argChoices.join(', ')}`);
    if (o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean' && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0)) {
      extra.push(`default ${o.defaultValueDescription ?? String(o.defaultValue)}`);
    }
    return extra.length ? `${o.description} (${extra.join('; ')})` : o.description;
  },
};

const MAIN_HELP_AFTER = `
Examples:
  nodetop ps                                 the Node processes on this host
  nodetop attach 4242                        the live view (q quits, ? lists the keys)
  nodetop stats 4242 --json                  one sample, as JSON
  nodetop gc 4242                            garbage or held? heap before -> after a full GC
  nodetop profile 4242 --duration 5s         the functions that take the CPU
  nodetop watch 4242 4243 --interval 1s      one line per process per second
  nodetop record 4242 -o incident.ndjson.gz  the live view's samples and events, to a file
  nodetop replay incident.ndjson.gz          the live view on a recording
  nodetop export --all                       Prometheus metrics on 127.0.0.1:9464

Exit codes: 0 ok, 1 a bug in nodetop, 2 bad usage, 3 no such process, 4 not Node,
5 permission denied, 6 the inspector cannot be opened, 7 the endpoint failed,
8 the target exited, 9 the target did not answer, 10 another process's inspector,
11 refused as unsafe, 12 the output cannot be written, 13 watch's action budget is spent,
14 not signalled, 15 a network namespace nodetop cannot reach, 130/143 interrupted.

nodetop help <command> shows its options and an example. Incidents, step by step:
docs/runbooks.md; every command and flag: docs/commands.md.
`;

/** One example or two per command, as `nodetop help <command>` shows them. */
const EXAMPLES: Record<string, string[]> = {
  stats: ['nodetop stats 4242', 'nodetop stats 4242 --json --window 2s | jq .eventLoop.lagMs'],
  gc: ['nodetop gc 4242', 'nodetop gc 4242 --all-threads --json'],
  snapshot: ['nodetop snapshot 4242 -o before.heapsnapshot', 'nodetop snapshot 4242 --gc-first -y -q'],
  attach: ['nodetop attach 4242', 'nodetop attach --cluster 4242 --readonly'],
  profile: ['nodetop profile 4242 --duration 5s', 'nodetop profile 4242 --format collapsed -o cpu.collapsed'],
  'heap-diff': ['nodetop heap-diff before.heapsnapshot after.heapsnapshot --top 10'],
  'heap-summary': ['nodetop heap-summary after.heapsnapshot'],
  arm: ['nodetop arm 4242'],
  demo: ['nodetop demo'],
  record: ['nodetop record 4242 -o incident.ndjson.gz', 'nodetop record 4242 --interval 500ms --duration 10m -o /var/tmp/'],
  replay: ['nodetop replay incident.ndjson.gz'],
  watch: [
    'nodetop watch 4242 4243 --interval 1s --count 60',
    'nodetop watch --cluster 4242 --json > samples.ndjson',
    "nodetop watch 4242 --when 'heap.used > 85% of limit for 30s' --then snapshot --then 'profile 10s' --out /var/tmp/incident/",
    "nodetop watch 4242 --when 'lag.p99 > 200ms for 10s' --then profile --max-actions 3 --cooldown 5m",
    "nodetop watch 4242 --when 'fds > 90% of limit' --then stats --then 'exec ./page-oncall.sh'",
  ],
  export: ['nodetop export --all', 'nodetop export 4242 --label service=api --listen 127.0.0.1:9464'],
  ps: ['nodetop ps --mine', 'nodetop ps --json'],
  completion: ['nodetop completion bash > /etc/bash_completion.d/nodetop', 'source <(nodetop completion zsh)'],
};

/** The anchor of each command's section in docs/commands.md. */
const DOC_ANCHORS: Record<string, string> = {
  stats: 'nodetop-stats-pid',
  gc: 'nodetop-gc-pid',
  snapshot: 'nodetop-snapshot-pid',
  attach: 'nodetop-attach-pid--the-live-view',
  profile: 'nodetop-profile-pid--a-cpu-profile',
  'heap-diff': 'nodetop-heap-diff-aheapsnapshot-bheapsnapshot--what-grew',
  'heap-summary': 'nodetop-heap-summary-fileheapsnapshot--what-one-snapshot-holds',
  arm: 'nodetop-arm-pid--arm-a-process-for-its-own-death',
  demo: 'nodetop-demo',
  watch: 'nodetop-watch-pid',
  record: 'nodetop-record-pid--a-recording-of-the-live-view',
  replay: 'nodetop-replay-file--the-live-view-on-a-recording',
  export: 'nodetop-export',
  ps: 'nodetop-ps',
  completion: 'nodetop-completion-bashzsh',
};

/** commander's error, in nodetop's words: what was wrong, never commander's jargon. */
export function usageMessage(e: CommanderError): string {
  const m = e.message.replace(/^error: /, '');
  switch (e.code) {
    case 'commander.invalidArgument': {
      // "command-argument value 'abc' is invalid for argument 'pid'. <ours>", or
      // "option '--window <ms>' argument 'x' is invalid. <ours>"
      const ours = /is invalid(?: for argument '[^']*')?\. ([\s\S]*)$/.exec(m);
      const choice = /^option '(--?[\w-]+)[^']*' argument '([^']*)' is invalid\. Allowed choices are (.*)\.$/.exec(m);
      if (choice) return `${choice[1]} must be one of ${choice[3]}, not ${JSON.stringify(choice[2])}`;
      return ours ? ours[1]!.trim() : m;
    }
    case 'commander.unknownOption': {
      const u = /^unknown option '([^']*)'(?:\s*\(Did you mean (.*)\?\))?/.exec(m);
      return u ? `there is no option ${u[1]}${u[2] ? ` (did you mean ${u[2]}?)` : ''}` : m;
    }
    case 'commander.unknownCommand': {
      const u = /^unknown command '([^']*)'(?:\s*\(Did you mean (.*)\?\))?/.exec(m);
      return u ? `there is no command ${JSON.stringify(u[1])}${u[2] ? ` (did you mean ${u[2]}?)` : ''}` : m;
    }
    case 'commander.missingArgument': {
      const u = /^missing required argument '([^']*)'/.exec(m);
      return u ? `the argument <${u[1]}> is missing` : m;
    }
    case 'commander.optionMissingArgument': {
      const u = /^option '(--?[\w-]+)[^']*' argument missing/.exec(m);
      return u ? `${u[1]} needs a value` : m;
    }
    case 'commander.excessArguments': {
      const u = /^too many arguments(?: for '([^']*)')?\. Expected (\d+) arguments? but got (\d+)/.exec(m);
      return u ? `${u[1] ? `${u[1]} takes` : 'nodetop takes'} ${u[2]} argument${u[2] === '1' ? '' : 's'}, not ${u[3]}` : m;
    }
    default:
      return m.replace(/\n/g, ' ');
  }
}

function usageHint(argv: string[], program: Command): string {
  const sub = program.commands.find((c) => c.name() === argv[0]);
  return sub ? `nodetop help ${sub.name()} lists its options` : 'nodetop --help lists the commands';
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
      outputError: () => undefined,
    })
    .configureHelp(HELP)
    .showSuggestionAfterError(true)
    .helpCommand('help [command]', 'the options of a command, with an example')
    .addHelpText('after', MAIN_HELP_AFTER);

  addCommon(
    program
      .command('stats')
      .description('one sample of a process: memory, heap, GC, event loop, handles, host')
      .helpGroup('Look:')
      .argument('[pid]', 'process id', parsePid)
      .addOption(
        new Option('--window <ms>', 'how long lag, utilization, GC and CPU are measured')
          .default(1000)
          .argParser((v) => parseDurationMs(v, '--window', 10, 600_000)),
      )
      .option('--json', 'one JSON object (schema in the README)', false)
      .addOption(
        new Option('--top <n>', 'how many sockets to list one by one (the rest are in counts and groups)')
          .default(20)
          .argParser((v) => parsePositiveInt(v, '--top', 0, 1000)),
      )
      .option('--no-sockets', 'skip sockets and HTTP pools (their walk is linear in sockets: ~0.1 s at 20,000)')
      .option('--census', 'also find idle and unref’d sockets by walking the heap (Runtime.queryObjects: a full GC in the target)', false)
      .option('--no-workers', 'do not attach to worker threads (NodeWorker domain)'),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    if (o.census && o.sockets === false) {
      throw new NodetopError('--census counts sockets: it cannot go with --no-sockets', { exitCode: ExitCode.Usage });
    }
    result = {
      command: 'stats',
      windowMs: o.window as number,
      json: Boolean(o.json),
      sockets: o.sockets !== false,
      top: o.top as number,
      census: Boolean(o.census),
      workers: o.workers !== false,
      common: c,
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  addCommon(
    program
      .command('gc')
      .description('force a full GC in the target and report heap used before -> after (is it garbage or is it held?)')
      .helpGroup('Capture:')
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
      .command('arm')
      .description('arm the target for its own death: a heap snapshot near its heap limit, a report on a fatal error (outlives nodetop)')
      .helpGroup('Capture:')
      .argument('[pid]', 'process id', parsePid)
      .option('--oom-snapshot', 'write one heap snapshot when the heap nears its limit (cannot be disarmed)', false)
      .option('--report-on-fatal', 'write a diagnostic report on a fatal error (OOM included)', false)
      .option('--dir <dir>', "the report's directory (the snapshot goes to the target's diagnostic directory: arm says where)")
      .option('--off', 'restore the report settings arm changed (a near-limit snapshot stays armed)', false)
      .option('--json', 'one JSON object (schema in docs/json.md)', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    if (o.off && (o.oomSnapshot || o.reportOnFatal)) throw new InvalidArgumentError('--off cannot be given with --oom-snapshot or --report-on-fatal');
    result = {
      command: 'arm',
      oomSnapshot: Boolean(o.oomSnapshot),
      reportOnFatal: Boolean(o.reportOnFatal),
      dir: typeof o.dir === 'string' ? o.dir : null,
      off: Boolean(o.off),
      json: Boolean(o.json),
      common: c,
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  addCommon(
    program
      .command('snapshot')
      .description('write a heap snapshot of the main thread or a worker to disk (open it in Chrome DevTools or memlab)')
      .helpGroup('Capture:')
      .argument('[pid]', 'process id', parsePid)
      .option('-o, --output <path>', 'where to write it (default: <title>-<pid>-<time>.heapsnapshot here)')
      .option('--worker <threadId>', 'snapshot this worker thread instead of the main thread', parseThreadId)
      .option('--gc-first', 'force a full GC just before (the snapshot then holds only live objects)', false)
      .option('--stream', 'stream it through the inspector even when the target could write the file itself', false)
      .option('--force', 'take it even when the target may not have the memory for it', false)
      .addOption(maxGrowthOption())
      .option('-y, --yes', 'do not ask on a terminal before freezing the target', false)
      .option('-q, --quiet', 'print nothing but the path', false)
      .option('--progress-every <duration>', 'off a terminal, write a progress line this often while the target works (default 10s)', (v) =>
        parseDurationMs(v, '--progress-every', 1000, 600_000),
      )
      .option('--json', 'print a result object {path, bytes, durationMs, threadId, ...}', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'snapshot',
      ...(typeof o.progressEvery === 'number' ? { progressEveryMs: o.progressEvery } : {}),
      select: isolateSelection(o, false),
      quiet: Boolean(o.quiet),
      json: Boolean(o.json),
      force: Boolean(o.force),
      yes: Boolean(o.yes),
      gcFirst: Boolean(o.gcFirst),
      stream: Boolean(o.stream),
      maxGrowthBytes: typeof o.maxGrowth === 'number' ? o.maxGrowth : null,
      common: c,
      ...(typeof o.output === 'string' ? { output: o.output } : {}),
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  addCommon(
    program
      .command('attach')
      .description('the live top-style view of a process, or an overview of several (q quits, ? lists the keys)')
      .helpGroup('Look:')
      .argument('[pids...]', 'process ids')
      .option('--cluster <pid>', 'the primary and every Node process it forked', parsePid)
      .addOption(
        new Option('--interval <ms>', 'time between samples')
          .default(1000)
          .argParser((v) => parseDurationMs(v, '--interval', 100, 600_000)),
      )
      .option('--readonly', 'disable every key that changes the target (GC, snapshot)', false)
      .option('-y, --yes', 'do not ask before a GC or a snapshot freezes the target', false),
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
    result = { command: 'attach', pids, intervalMs: o.interval as number, readonly: Boolean(o.readonly), yes: Boolean(o.yes), common: c, ...(cluster !== undefined ? { cluster } : {}) };
  });

  addCommon(
    program
      .command('profile')
      .description('a CPU profile of the main thread: a .cpuprofile file for DevTools and the top functions')
      .helpGroup('Capture:')
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
      .option('-o, --output <path>', 'where to write the file (default: <title>-<pid>-<time>.cpuprofile or .collapsed here)')
      .addOption(
        new Option('--format <format>', 'cpuprofile (Chrome DevTools, VS Code) or collapsed (stacks for flamegraph.pl, inferno, speedscope)')
          .choices(['cpuprofile', 'collapsed'])
          .default('cpuprofile'),
      )
      .option('--json', 'one JSON object: the path and the top functions (schema in the README)', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'profile',
      durationMs: o.duration as number,
      intervalUs: o.intervalUs as number,
      top: o.top as number,
      format: o.format as 'cpuprofile' | 'collapsed',
      json: Boolean(o.json),
      common: c,
      ...(pid !== undefined ? { pid } : {}),
      ...(typeof o.output === 'string' ? { output: o.output } : {}),
    };
  });

  addCommon(
    program
      .command('record')
      .description("record the live view's samples and events (workers, sockets) to a file, for nodetop replay")
      .helpGroup('Capture:')
      .argument('[pid]', 'process id', parsePid)
      .option('-o, --output <path>', 'the file (.gz: gzip-compressed; default <title>-<pid>-<UTC time>.ndjson.gz here); never written over')
      .addOption(
        new Option('--interval <ms>', 'time between samples')
          .default(1000)
          .argParser((v) => parseDurationMs(v, '--interval', 100, 600_000)),
      )
      .addOption(
        new Option('--duration <time>', 'stop after this long (default: until Ctrl-C or the target exits)').argParser((v) =>
          parseDurationMs(v, '--duration', 100, 30 * 86_400_000),
        ),
      )
      .option('-q, --quiet', 'print nothing but errors', false),
  ).action((pid: number | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    requirePidOrEndpoint(pid, c);
    result = {
      command: 'record',
      intervalMs: o.interval as number,
      durationMs: (o.duration as number | undefined) ?? null,
      quiet: Boolean(o.quiet),
      common: c,
      ...(typeof o.output === 'string' ? { output: o.output } : {}),
      ...(pid !== undefined ? { pid } : {}),
    };
  });

  program
    .command('replay')
    .description('the live view on a recording (nodetop record): a time cursor, the events, play at 1x/10x/60x')
    .helpGroup('Look:')
    .argument('<file>', 'a recording (.ndjson or .ndjson.gz)')
    .action((file: string) => {
      result = { command: 'replay', file };
    });

  program
    .command('heap-diff')
    .description('which constructors grew between two heap snapshots (b - a), and who holds what grew')
    .helpGroup('Capture:')
    .argument('<a>', 'the earlier .heapsnapshot')
    .argument('<b>', 'the later .heapsnapshot')
    .addOption(
      new Option('--top <n>', 'how many groups to list')
        .default(20)
        .argParser((v) => parsePositiveInt(v, '--top', 1, 1_000_000)),
    )
    .addOption(
      new Option('--paths <n>', 'retaining paths shown per grower (0: none, and b is only streamed)')
        .default(3)
        .argParser((v) => parsePositiveInt(v, '--paths', 0, 100)),
    )
    .option('--json', 'one JSON object (schema in docs/json.md)', false)
    .action((a: string, b: string, o: Record<string, unknown>) => {
      result = { command: 'heap-diff', a, b, top: o.top as number, json: Boolean(o.json), paths: o.paths as number };
    });

  program
    .command('heap-summary')
    .description('what one heap snapshot holds: the largest retainers and constructors')
    .helpGroup('Capture:')
    .argument('<file>', 'a .heapsnapshot')
    .addOption(
      new Option('--top <n>', 'how many retainers and groups to list')
        .default(10)
        .argParser((v) => parsePositiveInt(v, '--top', 1, 1_000_000)),
    )
    .option('--json', 'one JSON object (schema in docs/json.md)', false)
    .action((file: string, o: Record<string, unknown>) => {
      result = { command: 'heap-summary', file, top: o.top as number, json: Boolean(o.json) };
    });

  program
    .command('demo')
    .description('start a bundled demo service and open the live view on it')
    .helpGroup('Look:')
    .addOption(
      new Option('--interval <ms>', 'time between samples')
        .default(1000)
        .argParser((v) => parseDurationMs(v, '--interval', 100, 600_000)),
    )
    .option('--readonly', 'disable every key that changes the target (GC, snapshot)', false)
    .action((o: Record<string, unknown>) => {
      result = { command: 'demo', intervalMs: o.interval as number, readonly: Boolean(o.readonly), timeoutMs: 3000 };
    });

  const triggers: TriggerSpec[] = [];
  addCommon(
    addTriggerOptions(program
      .command('watch')
      .description('sample one or more processes every --interval: one line (or one NDJSON object) per target per sample')
      .helpGroup('Script:')
      .argument('[pid...]', 'process ids', (v: string, prev: number[] = []) => [...prev, parsePid(v)])
      .option('--cluster <pid>', 'the primary and every Node process it forked (taken at start)', parsePid)
      .addOption(
        new Option('--interval <ms>', 'time between samples').default(1000).argParser((v) => parseDurationMs(v, '--interval', 50, 3_600_000)),
      )
      .addOption(new Option('--count <n>', 'stop after n samples of each target').argParser((v) => parsePositiveInt(v, '--count', 1, 1_000_000_000)))
      .addOption(
        new Option('--duration <ms>', 'stop after this long (the samples due within it)').argParser((v) => parseDurationMs(v, '--duration', 1, 30 * 86_400_000)),
      )
      .option('--json', 'NDJSON: one stats --json object per line, plus index, pid, lateMs, skipped', false)
      .addOption(new Option('--fields <list>', `columns of the human line: ${WATCH_FIELDS.join(',')}`).argParser(parseFields)), triggers),
  ).action((pids: number[] | undefined, o: Record<string, unknown>) => {
    const c = common(o);
    const list = withCluster(pids ?? [], o.cluster as number | undefined, 'watch', c.followChild);
    if (list.length === 0) requirePidOrEndpoint(undefined, c);
    if (new Set(list).size !== list.length) throw new NodetopError('a pid is named twice', { exitCode: ExitCode.Usage });
    const intervalMs = o.interval as number;
    const durationMs = (o.duration as number | undefined) ?? null;
    if (durationMs !== null && durationMs < intervalMs) {
      throw new NodetopError(`--duration ${durationMs} ms is shorter than one --interval (${intervalMs} ms): no sample would be taken`, {
        exitCode: ExitCode.Usage,
      });
    }
    result = {
      command: 'watch',
      pids: list,
      intervalMs,
      count: (o.count as number | undefined) ?? null,
      durationMs,
      json: Boolean(o.json),
      fields: (o.fields as WatchField[] | undefined) ?? [...WATCH_FIELDS],
      triggers: triggerOptions(o, triggers),
      common: c,
    };
  });

  program
    .command('export')
    .description('serve the numbers of one or more processes in the Prometheus text format (/metrics)')
    .helpGroup('Fleet:')
    .argument('[pid...]', 'process ids', (v: string, prev: number[] = []) => [...prev, parsePid(v)])
    .option('--cluster <pid>', 'the primary and every Node process it forked (taken at start)', parsePid)
    .option('--endpoint <host:port|ws-url>', 'an inspector that is already open (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--all', 'every Node process of yours whose inspector is already open (never signals one)', false)
    .addOption(
      new Option('--interval <ms>', 'time between samples (and the window of lag, ELU)').default(5000).argParser((v) => parseDurationMs(v, '--interval', 100, 3_600_000)),
    )
    .addOption(
      new Option('--rescan <ms>', 'with --all: how often /proc is searched for new processes').default(10_000).argParser((v) => parseDurationMs(v, '--rescan', 100, 86_400_000)),
    )
    .option('--listen <host:port>', 'where /metrics is served', '127.0.0.1:9464')
    .option('--allow-remote-listen', 'allow a non-loopback --listen (the metrics name your processes; no authentication)', false)
    .option('--label <name=value>', 'a label on every series (pid:name=value: on that pid\'s only); repeatable', (v: string, prev: ExportLabel[] = []) => [...prev, parseLabel(v)])
    .addOption(
      new Option('--timeout <ms>', 'bound on every inspector call and on opening the inspector')
        .default(3000)
        .argParser((v) => parseDurationMs(v, '--timeout', 50, 600_000)),
    )
    .option('--allow-remote', 'allow a non-loopback --endpoint (the inspector is remote code execution)', false)
    .option('--keep-inspector', 'leave open an inspector that nodetop opened', false)
    .option('--follow-child', 'when a pid is a wrapper (npm start, yarn, pnpm, nodemon, pm2), export its single Node child instead', false)
    .action((pids: number[] | undefined, o: Record<string, unknown>) => {
      const list = withCluster(pids ?? [], o.cluster as number | undefined, 'export', Boolean(o.followChild));
      const endpoints = (o.endpoint as string[] | undefined) ?? [];
      if (list.length === 0 && endpoints.length === 0 && !o.all) {
        throw new NodetopError('give pids, --endpoint host:port, or --all', {
          exitCode: ExitCode.Usage,
          hint: 'nodetop ps lists the Node processes on this host',
        });
      }
      if (new Set(list).size !== list.length) throw new NodetopError('a pid is named twice', { exitCode: ExitCode.Usage });
      checkListen(parseListen(o.listen as string), Boolean(o.allowRemoteListen));
      result = {
        command: 'export',
        pids: list,
        endpoints,
        all: Boolean(o.all),
        intervalMs: o.interval as number,
        rescanMs: o.rescan as number,
        listen: o.listen as string,
        allowRemoteListen: Boolean(o.allowRemoteListen),
        allowRemote: Boolean(o.allowRemote),
        keepInspector: Boolean(o.keepInspector),
        timeoutMs: o.timeout as number,
        labels: (o.label as ExportLabel[] | undefined) ?? [],
        followChild: Boolean(o.followChild),
      };
    });

  program
    .command('ps')
    .description('list the Node processes on this host (from /proc: attaches to nothing, signals nothing)')
    .helpGroup('Look:')
    .option('--json', 'a JSON array, one object per process (fields in the README)', false)
    .addOption(
      new Option('--cpu-window <ms>', 'CPU % is measured between two /proc readings this far apart; 0 = average since start')
        .default(200)
        .argParser((v) => (v.trim() === '0' ? 0 : parseDurationMs(v, '--cpu-window', 10, 60_000))),
    )
    .option('--mine', "only your own processes", false)
    .option('--pids', 'only the pids, one a line (for shell completion and scripts)', false)
    .action((o: Record<string, unknown>) => {
      if (o.pids) {
        result = { command: 'ps-pids', mine: Boolean(o.mine) };
        return;
      }
      result = { command: 'ps', json: Boolean(o.json), cpuWindowMs: o.cpuWindow as number, mine: Boolean(o.mine) };
    });

  program
    .command('completion')
    .description('a bash or zsh completion script: commands, flags, and the pids of Node processes')
    .helpGroup('Script:')
    .argument('<shell>', 'bash or zsh', (v: string) => {
      if (v !== 'bash' && v !== 'zsh') throw new InvalidArgumentError(`completion scripts exist for bash and zsh, not ${JSON.stringify(v)}`);
      return v;
    })
    .action((shell: 'bash' | 'zsh') => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { completionScript } = require('./commands/completion') as typeof import('./commands/completion');
      const commands: Record<string, string[]> = {};
      for (const c of program.commands) {
        if (c.name() === 'help') continue;
        commands[c.name()] = c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => typeof f === 'string')).concat('--help');
      }
      const pidCommands = ['stats', 'gc', 'snapshot', 'attach', 'profile', 'watch', 'export', 'record'];
      result = { command: 'completion', text: completionScript(shell, { commands, pidCommands, fileCommands: ['heap-diff', 'heap-summary', 'replay'] }) };
    });

  for (const c of program.commands) {
    const ex = EXAMPLES[c.name()];
    if (ex) c.addHelpText('after', `\nExamples:\n${ex.map((l) => `  ${l}`).join('\n')}\n\nExit codes: docs/commands.md#exit-codes. Every option: docs/commands.md#${DOC_ANCHORS[c.name()] ?? ''}\n`);
  }
  if (argv.length === 0) {
    // In a terminal, no arguments is the host overview; anywhere else, the help.
    if (process.stdout.isTTY && process.stdin.isTTY) return { command: 'top', intervalMs: 1000, timeoutMs: 5000 };
    return { command: 'help', text: program.helpInformation() + MAIN_HELP_AFTER };
  }
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { command: 'help', text: helpText || program.helpInformation() + MAIN_HELP_AFTER };
      if (e.code === 'commander.version') return { command: 'version', text: helpText };
      throw new NodetopError(usageMessage(e), { exitCode: ExitCode.Usage, hint: usageHint(argv, program) });
    }
    throw e;
  }
  if (!result) {
    // no sub-command
    return { command: 'help', text: program.helpInformation() + MAIN_HELP_AFTER };
  }
  return result;
}

const stdoutOut: Output = {
  write(text: string): void {
    if (text !== '') process.stdout.write(outText(text));
  },
};

/** Exits once stdout has taken everything written so far (a pipe may still be draining). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

function report(e: unknown): number {
  if (isNodetopError(e)) {
    // messages quote the target (an Error it threw, its title): one line each, made printable
    errLine(`nodetop: ${e.message}`);
    if (e.hint) errLine(`  hint: ${e.hint}`);
    return e.exitCode;
  }
  const stack = e instanceof Error ? (e.stack ?? e.message) : String(e);
  process.stderr.write(outText(`nodetop: internal error (a bug in nodetop; please report it with this output)\n${stack}`));
  return ExitCode.Bug;
}

function requireTerminal(): void {
  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new NodetopError('the live view needs a terminal; from a script use nodetop stats (or watch)', { exitCode: ExitCode.Usage });
  }
}

/** A one-target command's options as the command takes them: `common` spread, `pid` when given. */
function targetOptions<T extends { command: string; pid?: number; common: CommonOptions }>(inv: T): Omit<T, 'command' | 'pid' | 'common'> & CommonOptions & { pid?: number } {
  const { command: _command, pid, common, ...own } = inv;
  return { ...common, ...own, ...(pid !== undefined ? { pid } : {}) };
}

/**
 * Every pid a command was given, after wrappers: `nodetop stats <pid of npm start>` would report
 * npm's own heap and loop. A wrapper is refused with a sentence naming its Node child (exit 2),
 * or replaced by that child with --follow-child. Read from /proc before anything is sent.
 */
function resolveWrappers(inv: Invocation): Invocation {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { appPid } = require('./platform/wrappers') as typeof import('./platform/wrappers');
  switch (inv.command) {
    case 'stats':
    case 'gc':
    case 'arm':
    case 'snapshot':
    case 'profile':
      if (inv.pid === undefined) return inv;
      return { ...inv, pid: appPid(inv.pid, inv.command, inv.common.followChild) } as Invocation;
    case 'attach': {
      const follow = inv.common.followChild;
      const cluster = inv.cluster === undefined ? {} : { cluster: appPid(inv.cluster, 'attach --cluster', follow) };
      return { ...inv, pids: inv.pids.map((p) => appPid(p, 'attach', follow)), ...cluster };
    }
    case 'watch':
      return { ...inv, pids: inv.pids.map((p) => appPid(p, 'watch', inv.common.followChild)) };
    case 'export':
      return { ...inv, pids: inv.pids.map((p) => appPid(p, 'export', inv.followChild)) };
    default:
      return inv;
  }
}

async function dispatch(given: Invocation, out: Output): Promise<number | void> {
  const inv = resolveWrappers(given);
  switch (inv.command) {
    case 'help':
    case 'version':
      out.write(inv.text);
      return;
    case 'arm': {
      const { armCommand } = await import('./commands/arm.js');
      await armCommand(targetOptions(inv), out);
      return;
    }
    case 'gc': {
      const { gcCommand } = await import('./commands/gc.js');
      await gcCommand(targetOptions(inv), out);
      return;
    }
    case 'snapshot': {
      const { snapshotCommand } = await import('./commands/snapshot.js');
      await snapshotCommand(targetOptions(inv), out);
      return;
    }
    case 'stats': {
      const { statsCommand } = await import('./commands/stats.js');
      await statsCommand(targetOptions(inv), out);
      return;
    }
    case 'top': {
      const { topCommand } = await import('./commands/top.js');
      return topCommand(inv, out);
    }
    case 'profile': {
      const { profileCommand } = await import('./commands/profile.js');
      await profileCommand(targetOptions(inv), out);
      return;
    }
    case 'heap-diff': {
      const { heapDiffCommand } = await import('./commands/heapdiff.js');
      await heapDiffCommand(inv, out);
      return;
    }
    case 'heap-summary': {
      const { heapSummaryCommand } = await import('./commands/heapsummary.js');
      await heapSummaryCommand(inv, out);
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
      const { command: _command, common, ...own } = inv;
      return attachCommand({ ...common, ...own });
    }
    case 'record': {
      const { recordCommand } = await import('./commands/record.js');
      return recordCommand(targetOptions(inv));
    }
    case 'replay': {
      const { replayCommand } = await import('./commands/replay.js');
      return replayCommand({ file: inv.file }, requireTerminal);
    }
    case 'watch': {
      const { watchCommand } = await import('./commands/watch.js');
      const { command: _command, common, ...own } = inv;
      await watchCommand({ ...common, ...own }, out);
      return;
    }
    case 'export': {
      const { exportCommand } = await import('./commands/export.js');
      const { command: _command, followChild: _followChild, ...opts } = inv;
      await exportCommand(opts, out);
      return;
    }
    case 'ps-pids': {
      const { printPids } = await import('./commands/completion.js');
      await printPids(inv.mine, out);
      return;
    }
    case 'completion':
      out.write(inv.text);
      return;
    case 'ps': {
      const { psCommand } = await import('./commands/ps.js');
      const { command: _command, ...opts } = inv;
      await psCommand(opts, out);
      return;
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  debugTrace('main');
  // `nodetop ... | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') void runCleanups().then(() => process.exit(ExitCode.Ok));
  });
  setExitHook(exitAfterFlush);
  installSignalHandlers();
  let code: number = ExitCode.Ok;
  try {
    const c = await dispatch(parseCommandLine(argv), stdoutOut);
    if (typeof c === 'number') code = c;
  } catch (e) {
    // Ctrl-C detaches, which fails whatever call was in flight: that failure is not the news.
    // The signal's handler finishes the detach and exits with 130/143.
    if (interruptedBy()) return;
    code = report(e);
  }
  if (interruptedBy()) return;
  await runCleanups();
  debugTrace(`exit ${code}`);
  exitAfterFlush(code);
}
