// The last step before text leaves nodetop on stdout or stderr: every string that came from a
// target or a file has been through model/text.ts by here, and this pass catches what a field
// forgot (see terminalSafe). Commands write through these, never process.std*.write directly.

import { printable, terminalSafe } from '../model/text';
import { forLocale } from './ascii';

/** Text for stdout, one trailing newline. */
export function outText(text: string): string {
  const safe = forLocale(terminalSafe(text));
  return safe.endsWith('\n') ? safe : `${safe}\n`;
}

/** One line to stderr: its newlines become spaces (one message, one line). */
export function errLine(text: string): void {
  process.stderr.write(`${forLocale(printable(text))}\n`);
}
