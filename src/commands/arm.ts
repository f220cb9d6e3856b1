// `nodetop arm <pid>`: arm a running process for its own death, without a restart: a heap
// snapshot when its heap nears the limit (v8.setHeapSnapshotNearHeapLimit) and a diagnostic
// report on a fatal error (process.report). The one change nodetop deliberately leaves behind
// (docs/security.md): it outlives the session, `nodetop stats` shows it, and `--off` undoes what
// Node lets be undone (the report; a near-limit snapshot, once armed, stays armed).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExitCode, NodetopError } from '../errors';
import { attach, type AttachOptions } from '../inspector/attach';
import { evaluate } from '../inspector/session';
import { estimateSnapshot } from '../model/snapshotEstimate';
import { printable } from '../model/text';
import { bytes, ms } from '../model/units';
import { armProbe, type ArmState } from '../probes/arm';
import { recordArmed } from '../platform/armedRecord';
import type { Output } from '../cli';

export interface ArmOptions extends AttachOptions {
  oomSnapshot: boolean;
  reportOnFatal: boolean;
  dir: string | null;
  off: boolean;
  json: boolean;
}

export interface ArmResult {
  pid: number;
  state: ArmState;
  /** what a near-limit snapshot will need, when one is armed */
  snapshotCost: { diskBytes: number; extraMemoryBytes: number; freezeMs: [number, number] } | null;
}

export async function armCommand(opts: ArmOptions, out: Output): Promise<ArmResult> {
  let dir: string | null = null;
  if (opts.dir !== null) {
    dir = path.resolve(opts.dir);
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      throw new NodetopError(`--dir ${printable(dir)} does not exist`, { exitCode: ExitCode.Usage, hint: 'create it first, writable by the target\'s user: the target writes the report itself' });
    }
    if (!st.isDirectory()) throw new NodetopError(`--dir ${printable(dir)} is not a directory`, { exitCode: ExitCode.Usage });
  }
  const att = await attach(opts);
  try {
    const state = await evaluate(att.session, armProbe, { oomSnapshot: opts.oomSnapshot, reportOnFatal: opts.reportOnFatal, dir, off: opts.off }, { timeoutMs: att.timeoutMs, commandLineApi: true });
    const est = estimateSnapshot(state.heapLimitBytes);
    const result: ArmResult = {
      pid: att.pid,
      state,
      snapshotCost: state.oomSnapshot ? { diskBytes: state.heapLimitBytes, extraMemoryBytes: state.heapLimitBytes, freezeMs: [est.frozenMsLow, est.frozenMsHigh] } : null,
    };
    // for `ps`, which attaches to nothing (src/platform/armedRecord.ts): by the host pid the user
    // named (an --endpoint's pid is the target's own word, maybe from another pid namespace)
    if (opts.pid !== undefined && (opts.oomSnapshot || opts.reportOnFatal || opts.off)) recordArmed(opts.pid, {
      armedAtMs: Date.now(),
      oomSnapshotDirectory: state.oomSnapshot ? state.snapshotDirectory : null,
      reportDirectory: state.reportOnFatalError ? state.reportDirectory : null,
    });
    out.write(opts.json ? JSON.stringify(result) : renderArm(result, opts));
    return result;
  } finally {
    await att.detach();
  }
}

export function renderArm(r: ArmResult, opts: { off: boolean }): string {
  const s = r.state;
  const lines: string[] = [];
  if (s.oomSnapshot) {
    const c = r.snapshotCost!;
    lines.push(
      `near-limit heap snapshot: armed${s.oomSnapshot === 'flag' ? ' (by --heapsnapshot-near-heap-limit on its command line)' : ''}. When the heap of pid ${r.pid} nears its limit (${bytes(s.heapLimitBytes)}), V8 writes one snapshot into ${printable(s.snapshotDirectory)} (Heap.<date>.<pid>…heapsnapshot), then the process dies as it would have.`,
    );
    lines.push(
      `  it costs then: up to ~${bytes(c.diskBytes)} of disk there, about ~${bytes(c.extraMemoryBytes)} more memory while V8 builds it (Node's docs: about twice the heap in all; V8 raises the limit for it), and a freeze of ~${ms(c.freezeMs[0])} to ~${ms(c.freezeMs[1])}. Nothing until then.`,
    );
    lines.push('  it cannot be disarmed: Node takes it once and ignores every later call (--off leaves it armed).');
  } else lines.push('near-limit heap snapshot: not armed');
  if (s.reportOnFatalError) lines.push(`report on a fatal error: armed, into ${printable(s.reportDirectory)} (report.<date>.<pid>…json, ~100 KiB)`);
  else lines.push(`report on a fatal error: ${opts.off && !s.reportWas ? 'off (restored)' : 'off'}`);
  if (s.reportWas) lines.push(`  --off restores: reportOnFatalError ${s.reportWas.reportOnFatalError}, directory ${printable(s.reportWas.directory || '(the working directory)')}`);
  return lines.join('\n');
}
