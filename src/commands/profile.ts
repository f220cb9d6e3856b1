// `nodetop profile <pid> --duration 5s`: a CPU profile of the target's main thread over the
// inspector, written as a .cpuprofile (the JSON Chrome DevTools and VS Code open) and summed up
// in the terminal as the functions that took the time.
//
// The Profiler domain is enabled only for the duration of the profile, and every way out stops
// and disables it: the normal end, an error, the target exiting (its session is gone, nothing to
// undo), Ctrl-C or SIGTERM (the cleanup registered with lifecycle.onExit runs before detach).
// If nodetop itself is killed (SIGKILL), the inspector session closes and V8 stops the profiler
// of that session on its own. The output path is checked (a temporary file is created) before
// the profiler starts; the file appears under its final name only once complete.

import * as path from 'node:path';
import { attach, explainCallFailure, type AttachOptions } from '../inspector/attach';
import { waitWhileConnected } from '../inspector/session';
import { ExitCode, NodetopError } from '../errors';
import { onExit, onInterrupt } from '../lifecycle';
import { checkProfile, collapsedStacks, renderProfileSummary, summarizeProfile, type CpuProfile, type FunctionTime, type RuntimeTime } from '../model/profile';
import { AtomicFile, defaultBaseName, resolveOutputPath, usesDefaultName } from '../platform/outfile';
import { printable } from '../model/text';
import type { Output } from '../sinks/output';

export interface ProfileOptions extends AttachOptions {
  durationMs: number;
  intervalUs: number;
  top: number;
  /** cpuprofile: the profile as V8 gives it; collapsed: one line per stack (flame graphs) */
  format: 'cpuprofile' | 'collapsed';
  output?: string;
  json: boolean;
}

export interface ProfileResult {
  path: string;
  pid: number;
  durationMs: number;
  intervalUs: number;
  samples: number;
  bytes: number;
  format: 'cpuprofile' | 'collapsed';
  /** idle, native, GC and nodetop's own time: not in `top` */
  runtime: RuntimeTime;
  top: FunctionTime[];
}

/**
 * Profiler.stop makes V8 build the whole profile on the target's main thread and send it in one
 * message: a few ms for seconds of a small app, more for a long profile of a large one on a busy
 * machine. It gets a generous bound of its own, never below --timeout.
 */
export const STOP_TIMEOUT_MS = 60_000;

export async function profileCommand(opts: ProfileOptions, out: Output): Promise<ProfileResult> {
  // The output is checked before the target is touched (no SIGUSR1 for a run that cannot write):
  // the temporary file is created now, under a name that is final once the title is known.
  const ext = opts.format === 'collapsed' ? '.collapsed' : '.cpuprofile';
  const provisional = `${defaultBaseName('node', opts.pid ?? 0)}${ext}`;
  const file = AtomicFile.create(resolveOutputPath(opts.output, provisional));
  // Ctrl-C while attaching must not leave the temporary file either
  const unregister = onExit(() => file.discard());
  // On Ctrl-C or SIGTERM the lifecycle's handler runs the cleanups (stop the profiler, discard the
  // file, detach) and exits with 130/143. The detach closes the session this flow is waiting on:
  // its error must not race the handler to report "closed the connection" and exit 8.
  let interrupted = false;
  const unlisten = onInterrupt(() => {
    interrupted = true;
    process.stderr.write('nodetop: interrupted; the profiler is stopped and no file is written\n');
  });
  try {
    return await profileWithFile(opts, out, file);
  } catch (e) {
    if (interrupted) await new Promise<never>(() => undefined); // the handler exits the process
    throw e;
  } finally {
    file.discard();
    unregister();
    unlisten();
  }
}

async function profileWithFile(opts: ProfileOptions, out: Output, file: AtomicFile): Promise<ProfileResult> {
  // attach's instruments remove themselves (and close an inspector nodetop opened) when no
  // sample renews their lease for 60 s: a profile takes no samples, so the lease must outlast it.
  const att = await attach({ ...opts, leaseMs: Math.max(60_000, opts.durationMs + Math.max(opts.timeoutMs, STOP_TIMEOUT_MS) + 30_000) });
  const session = att.session;
  const pid = att.identity.pid;
  let enabled = false;
  let started = false;

  /** Leaves the target as it was: profiler stopped, domain disabled. Bounded; never throws. */
  const restore = async (): Promise<void> => {
    if (session.isClosed) {
      started = enabled = false;
      return;
    }
    if (started) {
      started = false;
      try {
        await session.send('Profiler.stop', {}, { timeoutMs: Math.max(opts.timeoutMs, 2000), label: 'Profiler.stop' });
      } catch {
        /* the session closing stops it anyway */
      }
    }
    if (enabled) {
      enabled = false;
      try {
        await session.send('Profiler.disable', {}, { timeoutMs: Math.max(opts.timeoutMs, 2000), label: 'Profiler.disable' });
      } catch {
        /* idem */
      }
    }
  };
  // Registered after attach's own cleanup, so it runs before the detach on Ctrl-C.
  const unregister = onExit(async () => {
    file.discard();
    await restore();
  });

  try {
    if (usesDefaultName(opts.output)) {
      // a default name: now with the title and the pid that answered
      file.retarget(path.join(path.dirname(file.finalPath), `${defaultBaseName(att.identity.title, pid)}${opts.format === 'collapsed' ? '.collapsed' : '.cpuprofile'}`));
    }

    let profile: CpuProfile;
    try {
      enabled = true; // set first: a timeout may still have enabled it in the target
      await session.send('Profiler.enable', {}, { timeoutMs: opts.timeoutMs });
      await session.send('Profiler.setSamplingInterval', { interval: opts.intervalUs }, { timeoutMs: opts.timeoutMs });
      started = true;
      await session.send('Profiler.start', {}, { timeoutMs: opts.timeoutMs });
      if (!opts.json && process.stderr.isTTY) {
        process.stderr.write(`profiling pid ${pid} for ${(opts.durationMs / 1000).toFixed(1)} s (Ctrl-C stops without writing)\n`);
      }
      await waitWhileConnected(session, opts.durationMs, 'the profile');
      const stopTimeoutMs = Math.max(opts.timeoutMs, STOP_TIMEOUT_MS);
      const res = await session.send<{ profile: unknown }>('Profiler.stop', {}, { timeoutMs: stopTimeoutMs, label: 'Profiler.stop (V8 builds and sends the whole profile)' });
      started = false;
      await session.send('Profiler.disable', {}, { timeoutMs: opts.timeoutMs });
      enabled = false;
      const p = res?.profile;
      try {
        checkProfile(p);
      } catch (e) {
        throw new NodetopError(`pid ${pid} returned something that is not a CPU profile (${(e as Error).message})`, { exitCode: ExitCode.EndpointFailed });
      }
      profile = p;
    } catch (e) {
      throw await explainCallFailure(e, pid, `pid ${pid}`);
    }

    const summary = summarizeProfile(profile);
    const bytes = await file.commit(opts.format === 'collapsed' ? collapsedStacks(profile) : JSON.stringify(profile));
    const result: ProfileResult = {
      path: file.finalPath,
      pid,
      durationMs: summary.durationMs,
      intervalUs: opts.intervalUs,
      samples: summary.samples,
      bytes,
      format: opts.format,
      runtime: summary.runtime,
      top: summary.functions.slice(0, opts.top),
    };
    if (opts.json) {
      out.write(JSON.stringify(result));
    } else {
      const cwdUrl = `file://${process.cwd()}/`;
      out.write(
        [
          `CPU profile of pid ${pid} (${printable(att.identity.title)}): ${(summary.durationMs / 1000).toFixed(2)} s, ${summary.samples} samples every ${opts.intervalUs} µs`,
          opts.format === 'collapsed'
            ? `written to ${file.finalPath} (collapsed stacks: flamegraph.pl, inferno-flamegraph, or speedscope.app)`
            : `written to ${file.finalPath} (open it in Chrome DevTools > Performance, or VS Code)`,
          '',
          renderProfileSummary(summary, opts.top, cwdUrl),
        ].join('\n'),
      );
    }
    return result;
  } finally {
    file.discard();
    await restore();
    unregister();
    await att.detach();
  }
}
