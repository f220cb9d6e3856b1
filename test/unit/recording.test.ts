// The live view's own timeline (what ← scrolls back over): bounded, and the socket walk and the
// events stay with the samples they belong to when the oldest frames go.

import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { appendError, appendSample, eventFrame, eventsUntil, frameAt, frameSample, newTimeline } from '../../src/model/recording';
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
      if (i === 20) appendError(tl, 1000 * i, 'no answer', [ev(i)], 12);
      else appendSample(tl, s, 1000 * i, 1, walked, i % 5 === 0 ? [ev(i)] : [], 12);
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
});
