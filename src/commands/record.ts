// `nodetop record <pid> -o incident.ndjson.gz`: the live view's samples and events, to a file,
// until Ctrl-C, --duration, or the target's exit. The same sampling as `attach` (src/feed.ts),
// the lines of src/model/recording.ts, written by src/sinks/recording.ts; `nodetop replay`
// shows the file in the live view.

import { ExitCode, NodetopError } from '../errors';
import { FeedLoop, LiveTarget } from '../feed';
import { attach, type AttachOptions, type Attachment } from '../inspector/attach';
import { howItEnded } from '../inspector/ended';
import { onExit } from '../lifecycle';
import { exposedWarning } from '../loopback';
import { endLine, errorLine, eventLine, headerLine, sampleLine, type EndReason } from '../model/recording';
import { bytes } from '../model/units';
import { defaultBaseName, describeWriteError, resolveOutputPath, usesDefaultName } from '../platform/outfile';
import { createRecordingFile, isGzipName } from '../platform/recordingFile';
import { RecordingWriter } from '../sinks/recording';
import { errLine } from '../sinks/terminal';
import { VERSION } from '../version';

export interface RecordOptions extends AttachOptions {
  output?: string;
  intervalMs: number;
  durationMs: number | null;
  /** Print nothing but errors. */
  quiet: boolean;
}

export async function recordCommand(opts: RecordOptions): Promise<number> {
  const say = (text: string): void => {
    if (!opts.quiet) errLine(`nodetop: ${text}`);
  };
  // a named file is created before anything is done to the target: a path that cannot be
  // written fails first; the default name needs the target's title
  const named = !usesDefaultName(opts.output);
  let file = named ? resolveOutputPath(opts.output, '') : '';
  const created = named ? createRecordingFile(file) : null;
  let fd = created ? created.fd : null;
  // nothing recorded yet: an interrupted or failed attach leaves no empty file behind
  const unAbandon = created ? onExit(() => created.abandon()) : () => undefined;
  let att: Attachment;
  try {
    att = await attach({ ...opts, leaseMs: Math.max(60_000, opts.intervalMs * 10) });
  } catch (e) {
    unAbandon();
    created?.abandon();
    throw e;
  }
  unAbandon();
  created?.keep();
  if (att.inspector.exposedOn?.length) errLine(`nodetop: ${exposedWarning(att.pid, att.inspector.exposedOn)}`);
  if (fd === null) {
    file = resolveOutputPath(opts.output, `${defaultBaseName(att.identity.title, att.pid)}.ndjson.gz`);
    try {
      const later = createRecordingFile(file);
      later.keep();
      fd = later.fd;
    } catch (e) {
      await att.detach();
      throw e;
    }
  }
  const writer = new RecordingWriter(fd, isGzipName(file));
  const target = new LiveTarget(att);
  const startedAt = Date.now();
  writer.write(
    headerLine({
      nodetop: VERSION,
      node: { target: att.identity.nodeVersion, cli: process.version },
      pid: att.pid,
      startedAt: new Date(startedAt).toISOString(),
      intervalMs: opts.intervalMs,
    }),
  );
  let samples = 0;
  let finish: (r: { reason: EndReason; code: number; text?: string }) => void = () => undefined;
  const ended = new Promise<{ reason: EndReason; code: number; text?: string }>((r) => (finish = r));
  let stopping = false;
  const loop = new FeedLoop(
    () => opts.intervalMs,
    async (started) => {
      if (stopping || !target.due(started)) return;
      const step = await target.step(opts.intervalMs, false);
      if (stopping) return;
      if (step.kind === 'sample') {
        writer.write(sampleLine(step.sample, step.atMs, step.rttMs, step.walked));
        samples++;
      } else if (step.kind === 'error') writer.write(errorLine(step.atMs, step.message));
      if (step.kind !== 'gone') for (const e of step.events) writer.write(eventLine(e));
      if (opts.durationMs !== null && Date.now() - startedAt >= opts.durationMs) finish({ reason: 'duration', code: ExitCode.Ok });
    },
  );
  writer.onError = () => finish({ reason: 'stopped', code: ExitCode.OutputFailed });
  // the end line and the gzip trailer, however it ends (Ctrl-C runs this before the detach)
  let closed: Promise<void> | null = null;
  const close = (reason: EndReason, text?: string): Promise<void> => {
    if (closed) return closed;
    stopping = true;
    loop.stop();
    writer.write(endLine(Date.now(), reason, samples));
    closed = (async () => {
      await writer.close();
      await target.sampler.close().catch(() => undefined);
      if (writer.error) return;
      const tookS = Math.round((Date.now() - startedAt) / 1000);
      say(`${text ? `${text}: ` : ''}recorded ${samples} sample${samples === 1 ? '' : 's'} in ${tookS} s to ${file} (${bytes(writer.bytesOut)} on disk, ${bytes(writer.bytesIn)} of lines)`);
    })();
    return closed;
  };
  const unregister = onExit(() => close('stopped'));
  att.session.onClose(() => {
    if (stopping) return;
    void howItEnded(att).then((end) => {
      if (stopping) return;
      writer.write(eventLine(target.events.event(Date.now(), 'exit', 'bad', end.text)));
      finish({ reason: end.exited ? 'exited' : 'disconnected', code: ExitCode.TargetExited, text: end.text });
    });
  });
  // measured on the demo service at 1 s: ~19 MB an hour plain, ~1.6 MB gzip (docs/commands.md)
  const form = isGzipName(file) ? ' (gzip)' : ' (not compressed: a name ending in .gz takes about a tenth of the space)';
  say(`recording pid ${att.pid} every ${opts.intervalMs} ms to ${file}${form}; Ctrl-C stops`);
  loop.start();
  const end = await ended;
  await close(end.reason, end.text);
  unregister();
  await att.detach();
  if (writer.error) throw new NodetopError(`cannot write ${file}: ${describeWriteError(writer.error)}`, { exitCode: ExitCode.OutputFailed });
  return end.code;
}
