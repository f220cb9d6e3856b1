// `nodetop watch <pid>...`: one attachment and one Sampler per target, kept for the whole run,
// sampled together on a fixed-rate clock (src/ticker.ts). A target still answering the
// previous tick when the next one is due is skipped for that tick (counted in `skipped`), never
// queued. A target that exits ends its stream with an `exited` record; the others go on; when
// none is left the command ends with exit code 8. Ctrl-C, SIGTERM and the normal end detach.
// Below one second the target takes its own readings on every tick (src/probes/record.ts) and
// a tick about once a second collects them: one round trip a second, whatever the interval.
// --when/--then: every sample written is shown to the trigger engine (./triggerRun.ts), which
// runs the actions of what fires; a target a snapshot or a GC freezes is not sampled meanwhile.

import { ExitCode, NodetopError, isNodetopError } from '../errors';
import { attach, type AttachOptions, type Attachment } from '../inspector/attach';
import { onExit } from '../lifecycle';
import { processAlive } from '../platform/ps';
import { howItEnded } from '../inspector/ended';
import { EventDetector, type TargetEvent } from '../model/events';
import type { Sample } from '../model/sample';
import { Sampler, type SamplerOptions } from '../sampler';
import { watchEventLine, watchHeader, watchLine, type WatchField } from '../sinks/line';
import { Ticker, type Tick } from '../ticker';
import { exposedWarning } from '../loopback';
import { errLine } from '../sinks/terminal';
import type { Output } from '../cli';
import { budgetSpentError, prepareOutDir, TriggerRunner, type TriggerOptions, type TriggerRunOptions } from './triggerRun';

export interface WatchOptions {
  pids: number[];
  endpoint?: string;
  allowRemote: boolean;
  keepInspector: boolean;
  forceSignal?: boolean;
  timeoutMs: number;
  intervalMs: number;
  count: number | null;
  durationMs: number | null;
  json: boolean;
  fields: WatchField[];
  /** --when/--then and their limits; null without --when. */
  triggers: TriggerOptions | null;
}

/**
 * Below this interval the target takes its own readings and nodetop collects them about once a
 * second (src/probes/record.ts): one round trip a second instead of one per reading.
 */
export const RECORD_BELOW_MS = 1000;

interface Target {
  label: string;
  att: Attachment;
  sampler: Sampler;
  /** Samples written so far: the next record's index. */
  index: number;
  inFlight: boolean;
  /** Ticks this target missed since its last record (its previous sample was still running, or the clock was late). */
  skipped: number;
  done: boolean;
  exited: boolean;
  /** Its `exited` (or `disconnected`) record is written, or being written: once per target. */
  endWritten: boolean;
  /** Recording (a sub-second interval): ticks since the last collect. */
  sinceCollect: number;
  /** --json: the last socket walk, repeated (with its own sockets.readAt) on ticks the ration skips it. */
  lastNet: Pick<Sample, 'sockets' | 'httpPools'> | null;
  /** A trigger's snapshot or GC freezes it: no sample is sent meanwhile (ticks count as skipped). */
  paused: boolean;
  /** What the samples say happened (a blocked episode, a lag spike...): the live view's events. */
  events: EventDetector;
}

/**
 * --json writes what `stats --json` writes: sockets, httpPools and workers too, rationed as the
 * live view reads them (the socket walk at most 0.5% of a core, workers a few reads a second,
 * each reading keeping the time it was made: sockets.readAt, workers[].readAt). The text line
 * needs none of them. Records made inside the target below one second carry null for the three.
 */
export function jsonSamplerOptions(opts: Pick<WatchOptions, 'json'>): SamplerOptions {
  return opts.json ? { net: { top: 50, groups: 50 }, workers: true } : {};
}

/** As the live view does: a tick the walk's ration skips repeats the last walk (its readAt says when). */
function withLastNet(t: Pick<Target, 'lastNet'>, s: Sample): void {
  if (s.sockets || s.httpPools) t.lastNet = { sockets: s.sockets, httpPools: s.httpPools };
  else if (t.lastNet) {
    s.sockets = t.lastNet.sockets;
    s.httpPools = t.lastNet.httpPools;
  }
}

/** Attaches to every target, or to none: a failure detaches the ones already attached. */
async function attachAll(opts: WatchOptions): Promise<Attachment[]> {
  const base = {
    timeoutMs: opts.timeoutMs,
    allowRemote: opts.allowRemote,
    keepInspector: opts.keepInspector,
    forceSignal: opts.forceSignal ?? false,
    // the instruments outlive nodetop by at most this long if it is killed with SIGKILL; they
    // are renewed by every sample, so the lease must outlast a few intervals
    leaseMs: Math.max(60_000, opts.intervalMs * 3),
  };
  const wanted: AttachOptions[] = opts.pids.map((pid) => ({ ...base, pid }));
  if (opts.endpoint !== undefined) wanted.push({ ...base, endpoint: opts.endpoint });
  const results = await Promise.allSettled(wanted.map((w) => attach(w)));
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(ok.map((a) => a.detach()));
    throw failed.reason;
  }
  const seen = new Set<number>();
  for (const a of ok) {
    if (seen.has(a.pid)) {
      await Promise.all(ok.map((x) => x.detach()));
      throw new NodetopError(`pid ${a.pid} is named twice`, { exitCode: ExitCode.Usage });
    }
    seen.add(a.pid);
  }
  return ok;
}

export async function watchCommand(opts: WatchOptions, out: Output): Promise<void> {
  // the output directory is checked before any target is touched
  const triggerOpts: TriggerRunOptions | null = opts.triggers ? { ...opts.triggers, outDir: prepareOutDir(opts.triggers.outDir) } : null;
  const runner = triggerOpts ? new TriggerRunner(triggerOpts, opts.json, opts.fields, out, opts.timeoutMs, opts.allowRemote) : null;
  const atts = await attachAll(opts);
  // stderr: the lines (or NDJSON, where target.inspector.exposedOn says it) stay parseable
  for (const a of atts) if (a.inspector.exposedOn?.length) errLine(`nodetop: ${exposedWarning(a.pid, a.inspector.exposedOn)}`);
  const targets: Target[] = atts.map((att) => ({
    label: `pid ${att.pid}`,
    att,
    // a condition on a worker's readings needs the workers read in text mode too
    sampler: new Sampler(att, { ...jsonSamplerOptions(opts), ...(runner?.engine.readsWorkers ? { workers: true } : {}) }),
    index: 0,
    inFlight: false,
    skipped: 0,
    done: false,
    exited: false,
    endWritten: false,
    sinceCollect: 0,
    lastNet: null,
    paused: false,
    events: new EventDetector(att.pid),
  }));
  const recording = opts.intervalMs < RECORD_BELOW_MS;
  // collect about once a second; the recorder keeps up to 4 collects' worth if one is late
  const collectEvery = Math.ceil(RECORD_BELOW_MS / opts.intervalMs);
  let ticker = null as Ticker | null;
  // registered after the attachments, so it runs first on Ctrl-C: no tick after a detach
  const unregister = onExit(() => ticker?.stop());
  // A target that exits (or says it is exiting: the session leaves at once, see
  // src/inspector/session.ts) ends its stream now, not at its next tick.
  let detaching = false;
  let streaming = false;
  let afterEnd = (): void => {};
  let endAll = (): void => {};
  let spent = false;
  runner?.whenSpent(() => {
    spent = true;
    endAll();
  });
  for (const t of targets) {
    t.att.session.onClose(() => {
      if (detaching || t.done) return;
      t.exited = true;
      t.done = true;
      // before the header, the loop after the baselines writes it
      if (streaming) void writeExited(t, opts, out).then(() => afterEnd());
    });
  }
  try {
    await Promise.all(
      targets.map(async (t) => {
        try {
          await t.sampler.baseline();
          if (recording) await t.sampler.startRecording(opts.intervalMs, 4 * collectEvery);
        } catch (e) {
          endStream(t, e);
        }
      }),
    );
    if (!opts.json) out.write(watchHeader(opts.fields));
    streaming = true;
    for (const t of targets) if (t.exited) await writeExited(t, opts, out);

    await new Promise<void>((resolve) => {
      // --duration D means the ticks due within D: floor(D / interval) of them
      const lastTick = opts.durationMs !== null ? Math.floor(opts.durationMs / opts.intervalMs) - 1 : null;
      let stopping = false;
      afterEnd = () => finishIfDone();
      endAll = () => {
        stopping = true;
        finishIfDone();
      };
      const finishIfDone = (): void => {
        if (stopping) for (const t of targets) if (!t.inFlight) t.done = true;
        if (targets.every((t) => t.done)) {
          ticker?.stop();
          resolve();
        }
      };
      const write = (t: Target, s: Sample, lateMs: number, recorded: { fullAt: number | null } | null): void => {
        if (t.done) return;
        if (opts.json) {
          const rec = recorded ? { recorded: true, ...(recorded.fullAt !== null ? { fullAt: new Date(recorded.fullAt).toISOString() } : {}) } : {};
          if (!recorded) withLastNet(t, s);
          out.write(JSON.stringify({ index: t.index, pid: t.att.pid, lateMs: Math.round(lateMs), skipped: t.skipped, ...rec, ...s }));
        } else {
          out.write(watchLine(s, opts.fields));
        }
        // the events this sample shows, after it, with its index
        for (const e of t.events.fromSample(s)) out.write(eventRecord(t, e, opts));
        runner?.observe(t, s);
        t.index++;
        t.skipped = 0;
        if (opts.count !== null && t.index >= opts.count) t.done = true;
      };
      const sampleOne = async (t: Target, lateMs: number, last: boolean): Promise<void> => {
        try {
          if (recording) {
            t.sinceCollect = 0;
            // the last collect of the run asks for a reading no older than half an interval
            const got = await t.sampler.collect(last ? opts.intervalMs / 2 : undefined);
            // readings the target dropped (nobody collected them in time) count as skipped
            t.skipped = t.sampler.lastRecordLoss;
            for (const r of got) write(t, r.sample, 0, r);
          } else {
            write(t, await t.sampler.sample(), lateMs, null);
          }
        } catch (e) {
          if (!isGone(e, t)) {
            // not answering this time (a blocked loop): say so and try again next tick
            const msg = e instanceof Error ? e.message : String(e);
            // the error record says it; the detector remembers, and says "answering again" later
            t.events.noAnswer(Date.now(), msg);
            if (opts.json) {
              out.write(JSON.stringify({ index: t.index, pid: t.att.pid, event: 'error', message: msg, ...(isNodetopError(e) ? { exitCode: e.exitCode } : {}) }));
            } else out.write(watchEventLine(new Date().toISOString(), t.att.pid, `no sample: ${msg}`, opts.fields));
            return;
          }
          endStream(t, e);
          await writeExited(t, opts, out);
        }
      };
      const onTick = (tick: Tick): void => {
        if (lastTick !== null && tick.index > lastTick) {
          stopping = true;
          finishIfDone();
          return;
        }
        const last = lastTick !== null && tick.index >= lastTick;
        for (const t of targets) {
          if (t.done) continue;
          if (recording) {
            // the target records every tick itself: collect about once a second, at the end, and
            // when the readings under way are all that --count still wants
            t.sinceCollect += 1 + tick.skipped;
            const wanted = opts.count !== null && t.index + t.sinceCollect >= opts.count;
            if (t.sinceCollect < collectEvery && !last && !wanted) continue;
          } else {
            t.skipped += tick.skipped;
          }
          if (t.paused && !t.inFlight) {
            if (!recording) t.skipped++;
            continue;
          }
          if (t.inFlight || t.att.session.unansweredCalls > 0) {
            // still answering the previous tick (or a call that timed out is still queued in
            // it): skip, never queue
            if (!recording) t.skipped++;
            continue;
          }
          t.inFlight = true;
          void sampleOne(t, tick.lateMs, last).finally(() => {
            t.inFlight = false;
            finishIfDone();
          });
        }
        if (last) {
          stopping = true;
          finishIfDone();
        }
      };
      ticker = new Ticker(opts.intervalMs, onTick);
      if (targets.every((t) => t.done)) resolve();
      else ticker.start();
    });
  } finally {
    ticker?.stop();
    // an action under way ends first (a snapshot is never cut off by the end of --duration)
    await runner?.settled();
    detaching = true;
    unregister();
    await Promise.all(targets.map((t) => t.att.detach()));
  }
  if (spent && runner) throw budgetSpentError(runner.engine.actionsRun);
  if (targets.every((t) => t.exited)) {
    throw new NodetopError(targets.length === 1 ? `${targets[0]!.label} exited` : `all ${targets.length} targets exited`, {
      exitCode: ExitCode.TargetExited,
    });
  }
}

function isGone(e: unknown, t: Target): boolean {
  return t.att.gone || !processAlive(t.att.pid) || (isNodetopError(e) && e.exitCode === ExitCode.TargetExited);
}

function endStream(t: Target, e: unknown): void {
  if (isGone(e, t)) {
    t.exited = true;
    t.done = true;
    return;
  }
  throw e;
}

async function writeExited(t: Target, opts: WatchOptions, out: Output): Promise<void> {
  if (t.endWritten) return;
  t.endWritten = true;
  const end = await howItEnded(t.att);
  const event = end.exited ? 'exited' : 'disconnected';
  if (opts.json) out.write(JSON.stringify({ pid: t.att.pid, event, index: t.index }));
  else out.write(watchEventLine(new Date().toISOString(), t.att.pid, end.exited ? 'exited' : 'closed the inspector connection: no more samples', opts.fields));
}

/**
 * An event as its own record: `{"index","pid","event":"blocked",...}` beside the `exited` and
 * `error` records (the kinds the detector finds in samples never take their names), or a line.
 */
function eventRecord(t: Target, e: TargetEvent, opts: WatchOptions): string {
  if (!opts.json) return watchEventLine(e.time, e.pid, e.text, opts.fields);
  return JSON.stringify({ index: t.index, pid: e.pid, event: e.kind, level: e.level, time: e.time, message: e.text, ...(e.frames ? { frames: e.frames } : {}) });
}
