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
