// Page 6: every event of the session, oldest first, the newest at the bottom: blocked episodes
// with their frames, spikes, full pools, workers, GCs and snapshots, answers lost, the exit.
// ↑/↓ scroll back; the selection is counted from the newest, so new events do not move it.

import type { Sample } from '../../model/sample';
import { type History, type Painter, type ViewState } from '../render';
import { eventLines } from './overview';

export function eventsPage(_s: Sample, _prev: Sample | null, _h: History, st: ViewState, p: Painter, _width: number, height: number): string[] {
  const events = st.events;
  const out = [p.paint(`Events of this session: ${events.length} (↑/↓ scroll back)`, 'bold')];
  if (events.length === 0) return [...out, p.paint('  none yet', 'dim')];
  const lines: string[] = [];
  for (const e of events) lines.push(...eventLines(e, p, false, 3));
  const rows = Math.max(1, height - 1);
  // st.selected scrolls back from the newest
  const end = Math.max(rows, lines.length - Math.max(0, st.selected));
  return [...out, ...lines.slice(Math.max(0, end - rows), end)];
}
