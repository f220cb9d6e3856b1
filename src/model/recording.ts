// A recording (`nodetop record`, replayed by `nodetop replay`) as data. Pure: lines of NDJSON
// in, a checked recording out; and the lines a recorder writes. The file is input from anyone
// (handed over after an incident), so every line is checked against the shape nodetop writes
// before any of it reaches the screen, and every string in it is made printable
// (model/text.ts) as it is read.
//
// The format (docs/json.md "Recordings"): a header line, then one line per sample, per failed
// sample, per event, and an end line. FORMAT changes when a reader of the previous format
// would misread a file; readers skip line types they do not know (added without a new format).

import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { EventLevel, TargetEvent } from './events';
import type { Sample } from './sample';
import { chartPoints, type ChartPoints } from './series';
import { printable } from './text';

/** The format this nodetop writes; it reads this one and every older one. */
export const RECORDING_FORMAT = 1;
export const RECORDING_KIND = 'nodetop-recording';

export interface RecordingHeader {
  kind: typeof RECORDING_KIND;
  format: number;
  /** The nodetop that recorded it. */
  nodetop: string;
  /** process.version of the target and of the nodetop that recorded it. */
  node: { target: string; cli: string };
  pid: number;
  /** ISO time the recording began. */
  startedAt: string;
  intervalMs: number;
}

/** Why a recording ended: the user stopped it, --duration ran out, the target exited or only closed the connection. */
export type EndReason = 'stopped' | 'duration' | 'exited' | 'disconnected';

export type RecordLine =
  | { type: 'sample'; at: number; rttMs: number | null; walked: boolean; sample: Sample }
  | { type: 'error'; at: number; message: string }
  | { type: 'event'; event: TargetEvent }
  | { type: 'end'; at: number; reason: EndReason; samples: number };

/** A line as the recorder writes it: a sample that did not walk sockets leaves them to the last walk. */
export function sampleLine(s: Sample, atMs: number, rttMs: number | null, walked: boolean): string {
  const sample = walked ? s : { ...s, sockets: null, httpPools: null };
  return JSON.stringify({ type: 'sample', at: atMs, rttMs: rttMs === null ? null : Math.round(rttMs * 100) / 100, walked, sample });
}

export function errorLine(atMs: number, message: string): string {
  return JSON.stringify({ type: 'error', at: atMs, message });
}

export function eventLine(e: TargetEvent): string {
  return JSON.stringify({ type: 'event', event: e });
}

export function endLine(atMs: number, reason: EndReason, samples: number): string {
  return JSON.stringify({ type: 'end', at: atMs, reason, samples });
}

export function headerLine(h: Omit<RecordingHeader, 'kind' | 'format'>): string {
  return JSON.stringify({ kind: RECORDING_KIND, format: RECORDING_FORMAT, ...h });
}

/** A file that is not a recording this nodetop can read: one sentence, with the line. */
export class RecordingFormatError extends Error {}

// --- shapes -----------------------------------------------------------------------------------

/** Null when `v` has the shape, else what is wrong with it, at `path`. */
type Shape = (v: unknown, path: string) => string | null;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num: Shape = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? null : `${p} is not a number`);
const str: Shape = (v, p) => (typeof v === 'string' ? null : `${p} is not a string`);
const bool: Shape = (v, p) => (typeof v === 'boolean' ? null : `${p} is not true or false`);
const orNull =
  (s: Shape): Shape =>
  (v, p) =>
    v === null ? null : s(v, p);
const oneOf =
  (...values: string[]): Shape =>
  (v, p) =>
    typeof v === 'string' && values.includes(v) ? null : `${p} is not one of ${values.join(', ')}`;
const arr =
  (s: Shape): Shape =>
  (v, p) => {
    if (!Array.isArray(v)) return `${p} is not a list`;
    for (let i = 0; i < v.length; i++) {
      const bad = s(v[i], `${p}[${i}]`);
      if (bad) return bad;
    }
    return null;
  };
/** An object with these fields (others are allowed: a newer nodetop may add some). */
const obj =
  (fields: Record<string, Shape>): Shape =>
  (v, p) => {
    if (!isObj(v)) return `${p} is not an object`;
    for (const [k, s] of Object.entries(fields)) {
      const bad = s(v[k], `${p}.${k}`);
      if (bad) return bad;
    }
    return null;
  };
/** A map of names to values of one shape. */
const rec =
  (s: Shape): Shape =>
  (v, p) => {
    if (!isObj(v)) return `${p} is not an object`;
    for (const [k, x] of Object.entries(v)) {
      const bad = s(x, `${p}.${k}`);
      if (bad) return bad;
    }
    return null;
  };
/** A field a newer nodetop writes and an older recording may lack. */
const optional =
  (s: Shape): Shape =>
  (v, p) =>
    v === undefined ? null : s(v, p);

const nnum = orNull(num);
const nstr = orNull(str);
const lag = orNull(obj({ p50: num, p90: num, p99: num, max: num, mean: num, min: num }));
const blocked = orNull(obj({ forMs: num, stack: arr(str) }));
const counts = orNull(obj({ total: num, byType: rec(num) }));
const gc = orNull(obj({ count: num, pauseMs: num, byKind: rec(obj({ count: num, pauseMs: num })) }));
const loop = obj({ windowMs: nnum, lagMs: lag, utilization: nnum, blocked });
const workerLoop = obj({ windowMs: nnum, lagMs: lag, utilization: nnum, blocked, waiting: optional(orNull(obj({ in: oneOf('Atomics.wait'), forMs: num }))) });
const tls = orNull(obj({ protocol: nstr, cipher: nstr, servername: nstr, authorized: orNull(bool), sessionReused: orNull(bool) }));

const SOCKETS: Shape = orNull(
  obj({
    total: num,
    byKind: obj({ tcp: num, tls: num }),
    byDirection: obj({ client: num, server: num }),
    byState: rec(num),
    idle: num,
    groups: arr(
      obj({
        direction: orNull(oneOf('client', 'server')),
        endpoint: str,
        count: num,
        tls: num,
        idle: num,
        bytesRead: num,
        bytesWritten: num,
        pendingWriteBytes: num,
        pendingReadBytes: num,
        byPool: rec(num),
        unseen: num,
      }),
    ),
    groupsOmitted: obj({ groups: num, connections: num }),
    top: arr(
      obj({
        kind: oneOf('tcp', 'tls'),
        direction: orNull(oneOf('client', 'server')),
        state: str,
        local: nstr,
        remote: nstr,
        bytesRead: nnum,
        bytesWritten: nnum,
        pendingWriteBytes: num,
        pendingReadBytes: num,
        ageMs: nnum,
        pool: nstr,
        idle: bool,
        tls,
      }),
    ),
    found: obj({ handles: num, agents: num, fetch: num, census: nnum }),
    census: orNull(obj({ wallMs: nnum })),
    probeMs: num,
    readAt: nstr,
    notSeen: arr(str),
    poolsOmitted: obj({ pools: num, origins: num }),
    errors: arr(str),
    findings: arr(str),
    kernel: orNull(obj({ total: num, unseen: num, unseenTls: num })),
  }),
);

const POOLS: Shape = orNull(
  arr(
    obj({
      kind: oneOf('http.Agent', 'fetch', 'undici'),
      name: str,
      protocol: nstr,
      maxSockets: nnum,
      maxFreeSockets: nnum,
      maxTotalSockets: nnum,
      keepAlive: orNull(bool),
      origins: arr(
        obj({
          origin: str,
          endpoint: nstr,
          servername: nstr,
          key: str,
          inUse: nnum,
          free: nnum,
          queued: nnum,
          connected: nnum,
          pending: nnum,
          running: nnum,
          size: nnum,
        }),
      ),
      totals: obj({ inUse: num, free: num, queued: num }),
      note: nstr,
    }),
  ),
);

const WORKER: Shape = obj({
  threadId: nnum,
  name: str,
  title: str,
  state: oneOf('running', 'gone', 'not-responding', 'failed'),
  error: nstr,
  heapUsedBytes: nnum,
  heapTotalBytes: nnum,
  heapLimitBytes: nnum,
  externalBytes: nnum,
  arrayBuffersBytes: nnum,
  eventLoop: workerLoop,
  gc,
  handles: counts,
  readAt: (v, p) => isoTime(v, p),
});

/** The Sample as format 1 holds it (src/model/sample.ts). */
const SAMPLE: Shape = obj({
  time: (v, p) => isoTime(v, p),
  target: obj({
    pid: num,
    title: str,
    argv: arr(str),
    execPath: str,
    nodeVersion: str,
    v8Version: str,
    uptimeSec: num,
    inspector: obj({ url: str, openedByNodetop: bool, exposedOn: orNull(arr(str)) }),
    armed: optional(orNull(obj({ oomSnapshot: orNull(oneOf('nodetop', 'flag')), reportOnFatalError: bool }))),
  }),
  process: obj({ rssBytes: nnum, cpuPercent: nnum, cpuUserPercent: nnum, cpuSystemPercent: nnum, fds: obj({ open: nnum, limit: nnum }), threads: nnum }),
  memory: obj({
    heapUsedBytes: nnum,
    heapTotalBytes: nnum,
    heapLimitBytes: nnum,
    externalBytes: nnum,
    arrayBuffersBytes: nnum,
    mallocedBytes: nnum,
    nativeContexts: nnum,
    detachedContexts: nnum,
    spaces: arr(obj({ name: str, sizeBytes: nnum, usedBytes: nnum, availableBytes: nnum })),
  }),
  gc,
  eventLoop: loop,
  handles: counts,
  requests: counts,
  sockets: SOCKETS,
  httpPools: POOLS,
  host: orNull(obj({ cpus: num, loadAvg: (v, p) => (Array.isArray(v) && v.length === 3 ? arr(num)(v, p) : `${p} is not three numbers`), memTotalBytes: num, memAvailableBytes: num })),
  workers: orNull(arr(WORKER)),
  unavailable: rec(str),
});

function isoTime(v: unknown, p: string): string | null {
  return typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && Number.isFinite(Date.parse(v)) ? null : `${p} is not an ISO time`;
}

const LEVELS: EventLevel[] = ['info', 'good', 'warn', 'bad'];
const EVENT: Shape = obj({ time: isoTime, pid: num, kind: str, level: oneOf(...LEVELS), text: str, frames: optional(arr(str)) });

/** The interval a header may name: what `nodetop record -i` accepts. */
export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 600_000;

const HEADER: Shape = obj({
  format: num,
  nodetop: str,
  node: obj({ target: str, cli: str }),
  pid: num,
  startedAt: isoTime,
  // what `record -i` takes; a file's 1e308 or 0 would reach timers (a flood of TimeoutOverflowWarning)
  intervalMs: (v, p) => (typeof v === 'number' && v >= MIN_INTERVAL_MS && v <= MAX_INTERVAL_MS ? null : `${p} is not between ${MIN_INTERVAL_MS} ms and ${MAX_INTERVAL_MS / 1000} s`),
});

/** A time nodetop could have written: ms since the epoch, within Date's range. */
const atMs: Shape = (v, p) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 8.64e15 ? null : `${p} is not a time`);

/** Longest string kept from a file; the screen shows far less. */
export const MAX_TEXT = 4096;

/**
 * A copy with every string (names of fields too: handle types, pool names) printable and at
 * most MAX_TEXT long. Objects are built with defineProperty semantics (Object.fromEntries), so
 * a "__proto__" name in the file stays a name.
 */
export function sanitized<T>(v: T): T {
  // the cut is copied through bytes: a slice of V8 is a view that keeps the whole string (the
  // line of up to 16 MiB it was parsed from) alive, which 40 events of 15 MB made 600 MB
  if (typeof v === 'string') return (v.length > MAX_TEXT ? `${printable(Buffer.from(v.slice(0, MAX_TEXT), 'utf8').toString('utf8'))}…` : printable(v)) as T;
  if (Array.isArray(v)) return v.map(sanitized) as T;
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [sanitized(k), sanitized(x)])) as T;
  return v;
}

// --- the reader -------------------------------------------------------------------------------

/** One recorded sample (or a failed one) as the replay keeps it. */
export interface Frame {
  at: number;
  rttMs: number | null;
  /**
   * The line as UTF-8, parsed again when the frame is shown; null for a sample that failed. Kept
   * as bytes outside the JS heap: a day at 1 s is ~450 MB of lines, twice that as JS strings
   * (a line with one non-Latin-1 character is stored two bytes a character).
   */
  line: Buffer | null;
  /**
   * The live view's timeline only: `line` is deflated with this line (an earlier frame's, kept as
   * it is and shared by the frames after it) as zlib's dictionary. Null or absent: `line` as is.
   */
  dict?: Buffer | null;
  /** Why the sample failed; null for a sample. */
  error: string | null;
  points: ChartPoints | null;
  /** The frame whose sockets and pools this one shows (its own index when it walked them); -1: none. */
  netFrom: number;
}

export interface Recording {
  header: RecordingHeader;
  frames: Frame[];
  /** Every event, oldest first, sanitized. */
  events: TargetEvent[];
  /** The frame each event came with (the sample line before it): the replay shows it from there. */
  eventFrames: number[];
  /** Its end line; null when the file stops without one (nodetop was killed, the disk filled). */
  end: { at: number; reason: EndReason; samples: number } | null;
  /** The last line was cut off (not a whole line): dropped. */
  cutShort: boolean;
}

/** The most lines a replay takes: a week at 1 s, more than memory would hold comfortably. */
export const MAX_LINES = 2_000_000;
/**
 * The most characters of events and failed samples' messages a replay keeps (each string is cut
 * to MAX_TEXT, but an event's frames are a list of any length). nodetop writes an event of well
 * under 1 KB (its text and three frames): this is over 100 000 of them.
 */
export const MAX_KEPT_TEXT = 128 * 1024 * 1024;

/** The characters of the strings in `v` (what sanitized() keeps of it). */
function textSize(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + textSize(x), 0);
  if (isObj(v)) return Object.entries(v).reduce((n, [k, x]) => n + k.length + textSize(x), 0);
  return 0;
}

/**
 * Reads a recording line by line (the platform reader feeds it, decompressed). Throws
 * RecordingFormatError on the first line that is not what nodetop writes.
 */
export class RecordingReader {
  private header: RecordingHeader | null = null;
  private readonly frames: Frame[] = [];
  private readonly events: TargetEvent[] = [];
  private readonly eventFrames: number[] = [];
  private end: Recording['end'] = null;
  private lineNo = 0;
  private lastNet = -1;
  private lastAt = -Infinity;
  private keptText = 0;

  constructor(private readonly nodetopVersion: string) {}

  get hasHeader(): boolean {
    return this.header !== null;
  }

  push(text: string): void {
    this.lineNo++;
    if (text.trim() === '') return;
    if (this.lineNo > MAX_LINES) this.fail(`it has more than ${MAX_LINES} lines, more than nodetop replays`);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      if (this.header === null) this.fail('it is not a nodetop recording (its first line is not JSON)', false);
      this.fail('it is not JSON');
    }
    if (this.header === null) return this.readHeader(v);
    if (this.end) this.fail('it comes after the end line');
    if (!isObj(v)) this.fail('it is not an object');
    switch (v.type) {
      case 'sample': {
        this.check(obj({ at: atMs, rttMs: nnum, walked: bool, sample: SAMPLE }), v);
        const at = this.time(v.at as number);
        const sample = v.sample as Sample;
        const walked = v.walked as boolean;
        if (walked) this.lastNet = this.frames.length;
        this.frames.push({ at, rttMs: v.rttMs as number | null, line: Buffer.from(text), error: null, points: chartPoints(sample), netFrom: this.lastNet });
        return;
      }
      case 'error': {
        this.check(obj({ at: atMs, message: str }), v);
        const at = this.time(v.at as number);
        const error = this.keep(sanitized(v.message as string));
        this.frames.push({ at, rttMs: null, line: null, error, points: null, netFrom: this.lastNet });
        return;
      }
      case 'event':
        this.check(obj({ event: EVENT }), v);
        this.events.push(this.keep(sanitized(v.event as TargetEvent)));
        this.eventFrames.push(Math.max(0, this.frames.length - 1));
        return;
      case 'end':
        this.check(obj({ at: atMs, reason: oneOf('stopped', 'duration', 'exited', 'disconnected'), samples: num }), v);
        this.end = { at: v.at as number, reason: v.reason as EndReason, samples: v.samples as number };
        return;
      default:
        // a line type added by a newer nodetop within this format: not needed to replay
        if (typeof v.type !== 'string') this.fail('it has no type');
    }
  }

  /** The recording read so far; `cutShort`: the file ended inside a line (dropped by the caller). */
  finish(cutShort: boolean): Recording {
    if (this.header === null) this.fail('it is empty: not even a header line', false);
    if (this.frames.length === 0) throw new RecordingFormatError('it holds no sample: the recording ended before its first sample');
    return { header: this.header!, frames: this.frames, events: this.events, eventFrames: this.eventFrames, end: this.end, cutShort };
  }

  private readHeader(v: unknown): void {
    if (!isObj(v) || v.kind !== RECORDING_KIND) this.fail('it is not a nodetop recording (its first line is not a recording header)', false);
    const h = v as Record<string, unknown>;
    if (typeof h.format !== 'number' || !Number.isInteger(h.format) || h.format < 1) this.fail('its format version is not a positive whole number');
    if ((h.format as number) > RECORDING_FORMAT) {
      throw new RecordingFormatError(
        `it is in recording format ${h.format as number}${typeof h.nodetop === 'string' ? ` (written by nodetop ${printable(h.nodetop).slice(0, 40)})` : ''}, and this nodetop (${this.nodetopVersion}) reads formats up to ${RECORDING_FORMAT}: replay it with a newer nodetop`,
      );
    }
    this.check(HEADER, h);
    this.header = sanitized(h) as unknown as RecordingHeader;
  }

  /** `v`, counted against MAX_KEPT_TEXT. */
  private keep<T>(v: T): T {
    this.keptText += textSize(v);
    if (this.keptText > MAX_KEPT_TEXT) this.fail(`its events and errors hold more than ${MAX_KEPT_TEXT / 1024 / 1024} MiB of text, more than nodetop writes`);
    return v;
  }

  private time(at: number): number {
    if (at < this.lastAt) this.fail('its time goes back before the line above');
    this.lastAt = at;
    return at;
  }

  private check(shape: Shape, v: unknown): void {
    const bad = shape(v, 'line');
    if (bad) this.fail(bad.replace(/^line\.?/, '').replace(/^(\S)/, '$1') || 'it has the wrong shape');
  }

  private fail(why: string, withLine = true): never {
    // a path in the message names fields of the file: a crafted name may be of any length
    const said = why.length > 300 ? `${why.slice(0, 300)}…` : why;
    throw new RecordingFormatError(withLine ? `line ${this.lineNo}: ${said}` : said);
  }
}

/** The sample a frame shows, parsed and sanitized, with the sockets and pools of its last walk. */
export function frameSample(rec: Recording, i: number): Sample | null {
  const f = rec.frames[i];
  if (!f?.line) return null;
  const s = sanitized((JSON.parse(lineText(f)) as { sample: Sample }).sample);
  if (f.netFrom !== i && f.netFrom >= 0) {
    const net = sanitized((JSON.parse(lineText(rec.frames[f.netFrom]!)) as { sample: Sample }).sample);
    s.sockets = net.sockets;
    s.httpPools = net.httpPools;
  }
  return s;
}

/** The index of the last frame at or before `atMs` (0 when none is). */
export function frameAt(rec: Recording, atMs: number): number {
  let lo = 0;
  let hi = rec.frames.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (rec.frames[mid]!.at <= atMs) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The events up to frame `i`: what the live view's log held then. */
export function eventsUntil(rec: Recording, i: number): TargetEvent[] {
  let n = 0;
  while (n < rec.events.length && rec.eventFrames[n]! <= i) n++;
  return rec.events.slice(0, n);
}

/** The frame of the next event after frame `i` (dir 1) or the one before it (dir -1); null: none. */
export function eventFrame(rec: Recording, i: number, dir: 1 | -1): number | null {
  if (dir > 0) return rec.eventFrames.find((f) => f > i) ?? null;
  for (let k = rec.eventFrames.length - 1; k >= 0; k--) if (rec.eventFrames[k]! < i) return rec.eventFrames[k]!;
  return null;
}

// --- the live view's own history (scrolled back with the same cursor as a replay) ------------

/**
 * The live view's own history: a recording whose lines are kept deflated, bounded by a count and
 * by bytes. Consecutive samples differ in a few numbers: deflated against a line of up to a
 * minute before (zlib's preset dictionary), the bench's idle HTTP target's 2.6 KB lines take
 * ~420 bytes with the lines kept as they are to serve as dictionaries, ~40 us of CPU a sample
 * here (zlib's level 1 was no faster: most of it is setting up the stream). An hour at 1 s is
 * ~1.5 MB instead of 9.5 MB of lines.
 */
export interface Timeline extends Recording {
  /** The line the next samples are deflated against (a frame's own line, as it is), and how many were. */
  dict: Buffer | null;
  dictUses: number;
  /** Bytes of the lines kept (a dictionary counted as its own frame's line). */
  bytes: number;
  /** Where the next kept line goes (see keep()), and how much of it is used. */
  chunk: Buffer | null;
  chunkUsed: number;
}

/**
 * The kept lines are copied into chunks of this size, filled in order: frames go oldest first, so
 * a chunk goes with its last frame. A line as small as these in a Buffer of its own comes from
 * Node's 8 KiB pool and keeps its slab alive, with the garbage around it: the deflated line of
 * ~420 bytes held ~3 KB (arrayBuffers grew 3 MB in 1,000 samples).
 */
export const TIMELINE_CHUNK_BYTES = 64 * 1024;

/** Samples deflated against one dictionary line before the next sample becomes the next one. */
export const DICT_USES = 60;
/**
 * zlib's memLevel 4 (default 8): a sample line of 4 KB deflates to the same 228 bytes in 32 us
 * instead of 108 (Node 20, bench machine): most of the cost was setting up the larger state.
 */
const DEFLATE = { memLevel: 4 } as const;

/** An empty timeline the live view fills as samples come (`appendSample`, `appendError`). */
export function newTimeline(header: RecordingHeader): Timeline {
  return { header, frames: [], events: [], eventFrames: [], end: null, cutShort: false, dict: null, dictUses: 0, bytes: 0, chunk: null, chunkUsed: 0 };
}

/** `bytes` copied into the timeline's chunk (a large line into a buffer of its own). */
function keep(rec: Timeline, bytes: Uint8Array): Buffer {
  if (bytes.length > TIMELINE_CHUNK_BYTES / 4) {
    const own = Buffer.allocUnsafeSlow(bytes.length);
    own.set(bytes);
    return own;
  }
  if (!rec.chunk || rec.chunkUsed + bytes.length > rec.chunk.length) {
    rec.chunk = Buffer.allocUnsafeSlow(TIMELINE_CHUNK_BYTES);
    rec.chunkUsed = 0;
  }
  rec.chunk.set(bytes, rec.chunkUsed);
  rec.chunkUsed += bytes.length;
  return rec.chunk.subarray(rec.chunkUsed - bytes.length, rec.chunkUsed);
}

/** A frame's line as text (inflated when it was kept deflated). */
function lineText(f: Frame): string {
  return (f.dict ? inflateRawSync(f.line!, { dictionary: f.dict }) : f.line!).toString('utf8');
}

/** How the live timeline is bounded: frames, and bytes of lines (the oldest go past either). */
export interface TimelineCap {
  frames: number;
  bytes: number;
}

/**
 * A sample as the recorder writes it, and its events; the oldest frames go past `cap`. Every
 * DICT_USES-th line is kept as it is, and the ones after it deflated against it.
 */
export function appendSample(rec: Timeline, s: Sample, atMs: number, rttMs: number | null, walked: boolean, events: TargetEvent[], cap: TimelineCap): void {
  const i = rec.frames.length;
  const netFrom = walked ? i : (rec.frames[i - 1]?.netFrom ?? -1);
  const raw = Buffer.from(sampleLine(s, atMs, rttMs, walked));
  let line: Buffer;
  let dict: Buffer | null = null;
  if (rec.dict && rec.dictUses < DICT_USES) {
    // copied out: zlib returns a view of its 16 KiB output chunk, which the view would keep
    // alive (16 KiB a sample, seen as arrayBuffers growing 17 KB a second)
    line = keep(rec, deflateRawSync(raw, { dictionary: rec.dict, ...DEFLATE }));
    dict = rec.dict;
    rec.dictUses++;
  } else {
    line = rec.dict = keep(rec, raw);
    rec.dictUses = 0;
  }
  rec.frames.push({ at: atMs, rttMs, line, dict, error: null, points: chartPoints(s), netFrom });
  rec.bytes += line.length;
  addEvents(rec, events, cap);
}

/** A sample that failed (a gap), and its events. */
export function appendError(rec: Timeline, atMs: number, message: string, events: TargetEvent[], cap: TimelineCap): void {
  rec.frames.push({ at: atMs, rttMs: null, line: null, error: message, points: null, netFrom: rec.frames.at(-1)?.netFrom ?? -1 });
  addEvents(rec, events, cap);
}

function addEvents(rec: Timeline, events: TargetEvent[], cap: TimelineCap): void {
  for (const e of events) {
    rec.events.push(e);
    rec.eventFrames.push(Math.max(0, rec.frames.length - 1));
  }
  // a tenth at a time: the cut is not paid on every sample
  if (rec.frames.length > cap.frames) dropFront(rec, rec.frames.length - cap.frames + Math.ceil(cap.frames / 10));
  if (rec.bytes > cap.bytes) {
    let n = 0;
    for (let drop = rec.bytes - cap.bytes + Math.ceil(cap.bytes / 10); n < rec.frames.length - 1 && drop > 0; n++) drop -= rec.frames[n]!.line?.length ?? 0;
    dropFront(rec, n);
  }
}

/**
 * Drops the `n` oldest frames and their events. The frames after the cut that show a socket
 * walk made before it get that walk in the first of them (the walk is rationed: a sample that
 * did not walk shows the last one).
 */
export function dropFront(rec: Timeline, n: number): void {
  n = Math.min(n, rec.frames.length);
  for (let j = 0; j < n; j++) rec.bytes -= rec.frames[j]!.line?.length ?? 0;
  const src = rec.frames[n]?.netFrom ?? -1;
  if (src >= 0 && src < n) {
    const k = rec.frames.findIndex((f, j) => j >= n && f.line !== null && f.netFrom === src);
    if (k >= 0) {
      const merged = frameSample(rec, k)!;
      const f = rec.frames[k]!;
      // as it is: its own walk makes it unlike the dictionary's line
      rec.bytes -= f.line!.length;
      f.line = keep(rec, Buffer.from(sampleLine(merged, f.at, f.rttMs, true)));
      f.dict = null;
      rec.bytes += f.line.length;
      for (let j = n; j < rec.frames.length && rec.frames[j]!.netFrom === src; j++) rec.frames[j]!.netFrom = j >= k ? k : -1;
    } else for (let j = n; j < rec.frames.length && rec.frames[j]!.netFrom === src; j++) rec.frames[j]!.netFrom = -1;
  }
  rec.frames.splice(0, n);
  for (const f of rec.frames) if (f.netFrom >= 0) f.netFrom -= n;
  let e = 0;
  while (e < rec.eventFrames.length && rec.eventFrames[e]! < n) e++;
  rec.events.splice(0, e);
  rec.eventFrames.splice(0, e);
  for (let j = 0; j < rec.eventFrames.length; j++) rec.eventFrames[j]! -= n;
}
