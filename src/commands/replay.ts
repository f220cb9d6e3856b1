// `nodetop replay incident.ndjson.gz`: the live view on a recording (`nodetop record`). The file
// is read and checked whole first (src/platform/recordingFile.ts: one sentence and exit 2 for
// anything that is not a recording this nodetop reads), then the same screen as `attach` runs
// with a time cursor instead of a sampler (src/tui/app.ts).

import { readRecording } from '../platform/recordingFile';
import { runTui } from '../tui/app';
import { VERSION } from '../version';

export interface ReplayOptions {
  file: string;
}

/** `screenReady` throws when there is no terminal: after the file is read, so a bad file is said first. */
export async function replayCommand(opts: ReplayOptions, screenReady: () => void): Promise<number> {
  const rec = await readRecording(opts.file, VERSION);
  screenReady();
  return runTui([], { intervalMs: rec.header.intervalMs, readonly: true, actions: () => ({}), replay: rec });
}
