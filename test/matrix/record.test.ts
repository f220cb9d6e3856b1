// Recordings across Node versions: a target on each supported Node recorded by the CLI on this
// machine's Node reads back whole; the CLI on each Node it runs on reads the committed format 1
// recording (made with a target and a CLI on Node 20). `replay` reads the whole file before it
// asks for a terminal, so "needs a terminal" (exit 2) after a clean read is the proof here; the
// screen itself is tested in test/screen/replay.test.ts.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { frameSample } from '../../src/model/recording';
import { readRecording } from '../../src/platform/recordingFile';
import { ROOT, runCli, startTarget } from '../helpers/target';
import { CLI_MAJORS, nodeOf, SUPPORTED_MAJORS } from './nodes';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-matrix-record-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const V1 = path.join(ROOT, 'test/fixtures/recordings/v1-blocked.ndjson.gz');

describe('recordings across Node versions', () => {
  for (const major of SUPPORTED_MAJORS) {
    const { node, skip } = nodeOf(major);
    it(`a target on Node ${major}${node ? ` (${node.version})` : ''} is recorded and reads back`, { skip: skip ?? false }, async () => {
      const t = await startTarget('idle.js', { node: node!.bin, nodeArgs: ['--inspect-port=0'] });
      try {
        const file = path.join(dir, `node${major}.ndjson.gz`);
        const r = await runCli(['record', String(t.pid), '-o', file, '--interval', '250ms', '--duration', '2s'], { hangGuardMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        const rec = await readRecording(file, 'test');
        assert.equal(rec.header.node.target, `v${node!.version}`);
        assert.equal(rec.header.node.cli, process.version);
        assert.ok(rec.frames.length >= 2);
        const s = frameSample(rec, rec.frames.length - 1)!;
        assert.equal(s.target.nodeVersion, `v${node!.version}`);
        assert.ok(s.memory.heapUsedBytes! > 0);
      } finally {
        await t.kill();
      }
    });
  }
  for (const major of CLI_MAJORS) {
    const { node, skip } = nodeOf(major);
    it(`nodetop on Node ${major} reads the format 1 recording`, { skip: skip ?? false }, async () => {
      const r = await runCli(['replay', V1], { node: node!.bin });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^nodetop: the live view needs a terminal/);
    });
  }
});
