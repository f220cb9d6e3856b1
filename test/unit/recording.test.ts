// The live view's own timeline (what ← scrolls back over): bounded, and the socket walk and the
// events stay with the samples they belong to when the oldest frames go.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { appendError, appendSample, DICT_USES, eventFrame, eventsUntil, frameAt, frameSample, newTimeline, sampleLine, TIMELINE_CHUNK_BYTES } from '../../src/model/recording';
import type { TargetEvent } from '../../src/model/events';
import { readRecording } from '../../src/platform/recordingFile';
import { ROOT } from '../helpers/target';

const V1 = path.join(ROOT, 'test/fixtures/recordings/v1-blocked.ndjson.gz');

describe('the live timeline', () => {
  it('keeps at most its cap, with each sample\'s last socket walk and its events', async () => {
    const rec = await readRecording(V1, 'test');
    const base = frameSample(rec, rec.frames.length - 1)!;
    const tl = newTimeline(rec.header);
    const ev = (i: number): TargetEvent => ({ time: new Date(1000 * i).toISOString(), pid: 1, kind: 'lag', level: 'warn', text: `event ${i}` });
    for (let i = 0; i < 40; i++) {
      const s = structuredClone(base);
      s.memory.heapUsedBytes = i;
      // a walk every 7th sample, its total the sample's number
      const walked = i % 7 === 0;
      s.sockets = walked ? { ...(base.sockets ?? s.sockets)!, total: i } : null;
      if (i === 20) appendError(tl, 1000 * i, 'no answer', [ev(i)], { frames: 12, bytes: Infinity });
      else appendSample(tl, s, 1000 * i, 1, walked, i % 5 === 0 ? [ev(i)] : [], { frames: 12, bytes: Infinity });
    }
    assert.ok(tl.frames.length <= 12, `${tl.frames.length} frames`);
    assert.equal(tl.frames.at(-1)!.at, 39_000);
    for (let k = 0; k < tl.frames.length; k++) {
      const f = tl.frames[k]!;
      if (!f.line) continue;
      const s = frameSample(tl, k)!;
      const i = f.at / 1000;
      assert.equal(s.memory.heapUsedBytes, i);
      // the walk of the last multiple of 7 at or before it, even when that frame was dropped
      assert.equal(s.sockets?.total, i - (i % 7), `frame of sample ${i}`);
    }
    // events only of kept frames, each at its own sample
    for (let k = 0; k < tl.events.length; k++) assert.equal(tl.frames[tl.eventFrames[k]!]!.at / 1000, Number(tl.events[k]!.text.split(' ')[1]));
    assert.ok(tl.events.every((e) => Date.parse(e.time) >= tl.frames[0]!.at));
    const last = tl.frames.length - 1;
    assert.equal(eventsUntil(tl, last).length, tl.events.length);
    assert.equal(frameAt(tl, 35_500), tl.frames.findIndex((f) => f.at === 35_000));
    const back = eventFrame(tl, last, -1)!;
    assert.equal(tl.frames[back]!.at, 35_000);
    assert.equal(eventFrame(tl, last, 1), null);
  });

  it('keeps its lines deflated, each sample as it came, across dictionaries and cuts', async () => {
    const rec = await readRecording(V1, 'test');
    const base = frameSample(rec, rec.frames.length - 1)!;
    const tl = newTimeline(rec.header);
    const n = DICT_USES * 3 + 7;
    let raw = 0;
    for (let i = 0; i < n; i++) {
      const s = structuredClone(base);
      s.memory.heapUsedBytes = 1e6 + i;
      s.target.title = `näme ${i}`;
      raw += Buffer.byteLength(sampleLine(s, 1000 * i, 1, false));
      appendSample(tl, s, 1000 * i, 1, false, [], { frames: n - 20, bytes: Infinity });
    }
    assert.ok(tl.frames.length <= n - 20 && tl.frames.length > DICT_USES * 2, `${tl.frames.length} frames`);
    for (let k = 0; k < tl.frames.length; k++) {
      const i = tl.frames[k]!.at / 1000;
      const s = frameSample(tl, k)!;
      assert.equal(s.memory.heapUsedBytes, 1e6 + i);
      assert.equal(s.target.title, `näme ${i}`);
      assert.deepEqual(s.eventLoop, base.eventLoop);
    }
    // the bytes it counts are the bytes its lines take, far fewer than the lines as they were,
    // and the memory they keep alive is that much (zlib's 16 KiB output chunk, Buffer's 8 KiB
    // pool slabs full of garbage) and at most a chunk at either end more
    assert.equal(tl.bytes, tl.frames.reduce((b, f) => b + (f.line?.length ?? 0), 0));
    const held = new Set(tl.frames.flatMap((f) => [f.line!.buffer, ...(f.dict ? [f.dict.buffer] : [])]));
    const heldBytes = [...held].reduce((b, ab) => b + ab.byteLength, 0);
    assert.ok(heldBytes <= tl.bytes + 2 * TIMELINE_CHUNK_BYTES + Math.round(raw / n), `${heldBytes} bytes held for ${tl.bytes}`);
    assert.ok(tl.bytes < (raw * tl.frames.length) / n / 3, `${tl.bytes} bytes for ${tl.frames.length} lines of ${Math.round(raw / n)}`);
  });

  it('drops its oldest frames past its bytes, keeping the newest', async () => {
    const rec = await readRecording(V1, 'test');
    const base = frameSample(rec, rec.frames.length - 1)!;
    const tl = newTimeline(rec.header);
    const cap = { frames: 10_000, bytes: 20_000 };
    for (let i = 0; i < 500; i++) {
      const s = structuredClone(base);
      // incompressible: every line its own
      s.target.title = Math.random().toString(36).repeat(20);
      s.memory.heapUsedBytes = i;
      appendSample(tl, s, 1000 * i, 1, false, [], cap);
      assert.ok(tl.bytes <= cap.bytes, `${tl.bytes} bytes after sample ${i}`);
    }
    assert.ok(tl.frames.length > 1 && tl.frames.length < 500, `${tl.frames.length} frames`);
    assert.equal(tl.bytes, tl.frames.reduce((b, f) => b + (f.line?.length ?? 0), 0));
    assert.equal(frameSample(tl, tl.frames.length - 1)!.memory.heapUsedBytes, 499);
    assert.equal(frameSample(tl, 0)!.memory.heapUsedBytes, tl.frames[0]!.at / 1000);
  });
});
