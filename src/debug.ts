// NODETOP_DEBUG=protocol: every inspector message and nodetop's own phases, each line stamped
// with the milliseconds since this process started (how long an attach spends where).

import * as fs from 'node:fs';
import { terminalSafe } from './model/text';

export const debugProtocol = /\bprotocol\b/.test(process.env.NODETOP_DEBUG ?? '');
/** NODETOP_TRACE_FILE: the protocol trace goes to this file instead of stderr (the TUI owns the terminal). */
const traceFile = process.env.NODETOP_TRACE_FILE || null;

/** NODETOP_DEBUG=protocol: a phase of nodetop's own work, on the protocol trace's clock. */
export function debugTrace(what: string): void {
  if (debugProtocol) trace(`== ${what}\n`);
}

export function trace(line: string): void {
  // milliseconds since this process started: phase by phase timing of an attach
  // frames quote the target: its strings must not drive the terminal the trace goes to
  line = `${performance.now().toFixed(1).padStart(8)} ${terminalSafe(line)}`;
  if (traceFile) {
    try {
      fs.appendFileSync(traceFile, line, { mode: 0o600 });
    } catch {
      /* tracing must never break a session */
    }
  } else process.stderr.write(line);
}

/** NODETOP_DEBUG=memory: heap-diff and heap-summary trace their memory phase by phase. */
export const debugMemory = /\bmemory\b/.test(process.env.NODETOP_DEBUG ?? '');

/** NODETOP_DEBUG=memory: the RSS, its peak so far (VmHWM) and the JS heap after a phase, in MiB. */
export function memoryTrace(phase: string): void {
  if (!debugMemory) return;
  let hwm = '?';
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) hwm = (Number(m[1]) / 1024).toFixed(0);
  } catch {
    /* not Linux: the RSS alone */
  }
  const u = process.memoryUsage();
  const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
  trace(`== memory ${phase}: rss ${mib(u.rss)} MiB, peak ${hwm} MiB, js heap ${mib(u.heapUsed)}/${mib(u.heapTotal)} MiB, array buffers ${mib(u.arrayBuffers)} MiB, cpu ${((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(1)} s\n`);
}
