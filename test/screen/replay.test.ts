// `nodetop replay` in a real terminal (tmux) on the committed format 1 recording: the live view's
// screen shows the numbers recorded at the time recorded, the cursor moves with the keys, a jump
// lands on an event, play runs to the end; and a hostile file's strings stay inert.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, it } from 'node:test';
import { frameSample, type Recording } from '../../src/model/recording';
import { bytes } from '../../src/model/units';
import { readRecording } from '../../src/platform/recordingFile';
import { ROOT, startTarget } from '../helpers/target';
import { haveTmux, openTerminal, type Terminal } from '../helpers/tmux';

const V1 = path.join(ROOT, 'test/fixtures/recordings/v1-blocked.ndjson.gz');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-replay-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The screen at frame i shows that frame's time, its place, and its sample's numbers. */
async function showsFrame(term: Terminal, rec: Recording, i: number): Promise<string> {
  const when = new Date(rec.frames[i]!.at).toISOString().slice(11, 19);
  const s = await term.waitFor(new RegExp(`${when} ${i + 1}/${rec.frames.length} `));
  const sample = frameSample(rec, i)!;
  assert.match(s, new RegExp(`Heap used ${esc(bytes(sample.memory.heapUsedBytes))} total ${esc(bytes(sample.memory.heapTotalBytes))}`), `frame ${i}:\n${s}`);
  assert.match(s, new RegExp(`RSS ${esc(bytes(sample.process.rssBytes))}`), `frame ${i}:\n${s}`);
  return s;
}

describe('nodetop replay: the live view on a recording', { skip: haveTmux() ? false : 'tmux is not installed' }, () => {
  it('shows the recorded numbers at the recorded times; ←/→, Home/End and [ ] move the cursor; play runs to the end', async () => {
    const rec = await readRecording(V1, 'test');
    const n = rec.frames.length;
    const term = openTerminal(['replay', V1], { cols: 120, rows: 40 });
    try {
      let s = await showsFrame(term, rec, 0);
      assert.match(s, new RegExp(`nodetop\\s+pid ${rec.header.pid}\\s+.*blocked\\.js`));
      assert.match(s, /replay of pid \d+, recorded .* UTC: space plays/);
      assert.match(s, /q quit\s+space play\s+\+\/- speed\s+←\/→ step/);
      for (let k = 0; k < 5; k++) term.keys('Right');
      await showsFrame(term, rec, 5);
      term.keys('Left');
      await showsFrame(term, rec, 4);
      term.keys('End');
      await showsFrame(term, rec, n - 1);
      term.keys('Home');
      await showsFrame(term, rec, 0);
      // ] lands on the frame of the first event, and says what it was
      const first = rec.eventFrames.find((f) => f > 0)!;
      term.keys(']');
      s = await showsFrame(term, rec, first);
      assert.match(s, new RegExp(`event: ${esc(rec.events.filter((_e, k) => rec.eventFrames[k] === first)[0]!.text.slice(0, 40))}`));
      // on to the block: its episode in the event log, as the live view logged it
      const blocked = rec.events.findIndex((e) => e.kind === 'blocked');
      while (true) {
        const at = Number(new RegExp(` (\\d+)/${n} `).exec(term.screen())![1]) - 1;
        if (at >= rec.eventFrames[blocked]!) break;
        term.keys(']');
        await term.waitFor(new RegExp(` (?!${at + 1}/)\\d+/${n} `));
      }
      s = await showsFrame(term, rec, rec.eventFrames[blocked]!);
      assert.match(s, /main thread blocked in JavaScript for [\d.]+ s so far, at spinTheWheel/);
      // [ goes back to the event before
      term.keys('[');
      await term.waitFor(new RegExp(` ${rec.eventFrames.filter((f) => f < rec.eventFrames[blocked]!).at(-1)! + 1}/${n} `));
      // play at 60x: the 8 s recording ends at once, on its last sample
      term.keys('+');
      await term.waitFor(/plays at 10x/);
      term.keys('+');
      await term.waitFor(/plays at 60x/);
      term.keys('Space');
      s = await term.waitFor(/end of the recording/);
      await showsFrame(term, rec, n - 1);
      assert.match(s, /❚❚ 60x/);
      // at 1x the cursor moves with the clock, and space stops it
      term.keys('-', '-', 'Home', 'Space');
      await term.waitFor(/▶ 1x/);
      await term.waitFor(new RegExp(` ([4-9]|[1-9]\\d)/${n} `), 15_000);
      term.keys('Space');
      await term.waitFor(/❚❚ 1x/);
      // nothing to act on, and the keys are in the help
      term.keys('g');
      await term.waitFor(/a recording: there is no process to act on/);
      term.keys('?');
      s = await term.waitFor(/Keys \(a recording: nodetop replay\)/);
      assert.match(s, /\[ \/ \]\s+the previous \/ the next event/);
      assert.match(s, /\+ \/ -\s+play faster \/ slower: 1x, 10x, 60x/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
    }
  });

  it('the live view scrolls back over its own history with the same keys, and End is live again', async () => {
    const t = await startTarget('blocked.js', { nodeArgs: ['--inspect-port=0'] });
    const term = openTerminal(['attach', String(t.pid), '--interval', '250'], { cols: 120, rows: 40 });
    try {
      await term.waitFor(/Heap used [\d.]+ \w+/);
      // 2.5 s: long enough for the heartbeat to catch it on a loaded machine (the dashboard test's)
      await t.ask('block 2500');
      await term.waitFor(/main thread was blocked in JavaScript for [\d.]+ s, now running again/, 40_000);
      // paused first: at 250 ms a sample could land between the key and the screen read (the
      // count then one more than the newest the key saw; 2 runs in 5 under load)
      term.keys('p');
      await term.waitFor(/PAUSED/);
      term.keys('Left');
      let s = await term.waitFor(/history \d\d:\d\d:\d\d (\d+)\/(\d+) \(End: live\)/);
      const [, at, of] = /history \d\d:\d\d:\d\d (\d+)\/(\d+)/.exec(s)!;
      assert.equal(Number(at), Number(of) - 1, 'one sample back from the newest');
      // sampling goes on beneath: the count grows, the cursor stays
      term.keys('p');
      s = await term.waitFor(new RegExp(`history \\d\\d:\\d\\d:\\d\\d ${at}/(?!${of}\\b)\\d+ `), 15_000);
      // the first sample, then the first event after it: the cursor lands on it and says it
      term.keys('Home');
      await term.waitFor(/history \d\d:\d\d:\d\d 1\/\d+ /);
      term.keys(']');
      s = await term.waitFor(/^event: /m);
      assert.doesNotMatch(s, /history \d\d:\d\d:\d\d 1\/\d+ /);
      // on to the block's end: its episode is in the log at the cursor
      for (let k = 0; k < 10 && !/event: main thread was blocked/.test(term.screen()); k++) {
        term.keys(']');
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.match(term.screen(), /event: main thread was blocked in JavaScript/);
      term.keys('End');
      s = await term.waitFor(/live again/);
      assert.match(s, /every 250 ms|backed off/);
      assert.doesNotMatch(s, /history \d/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
    } finally {
      term.close();
      await t.kill();
    }
  });

  it('a hostile recording: its strings reach the terminal inert', async () => {
    const lines = zlib.gunzipSync(fs.readFileSync(V1)).toString('utf8').trimEnd().split('\n');
    const i = lines.findIndex((l) => l.startsWith('{"type":"sample"'));
    const s = JSON.parse(lines[i]!) as { sample: { target: { argv: string[]; nodeVersion: string } } };
    s.sample.target.argv.push('\x1b]0;pwned\x07', '\x1b[2J');
    s.sample.target.nodeVersion = 'v1\x1b[5m';
    lines[i] = JSON.stringify(s);
    lines.splice(i + 1, 0, JSON.stringify({ type: 'event', event: { time: new Date(JSON.parse(lines[i]!).at as number).toISOString(), pid: 1, kind: 'blocked', level: 'bad', text: 'HOSTILE\x1b[2J\x9b31m', frames: ['\x1b]8;;http://x\x07link'] } }));
    const file = path.join(dir, 'hostile.ndjson');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const term = openTerminal(['replay', file], { cols: 120, rows: 40 });
    try {
      const screen = await term.waitFor(/HOSTILE/);
      assert.match(screen, /pwned/);
      term.keys('6');
      await term.waitFor(/Events of this session/);
      term.keys('q');
      assert.equal(await term.exitCode(), 0);
      const raw = term.raw().toString('latin1');
      assert.ok(!raw.includes('\x1b]0;pwned'), 'no title set');
      assert.ok(!raw.includes('\x1b]8;;'), 'no hyperlink');
      assert.ok(!raw.includes('\x1b[5m'), 'no blink');
      assert.ok(!raw.includes('HOSTILE\x1b'), 'the event text is inert');
    } finally {
      term.close();
    }
  });
});
