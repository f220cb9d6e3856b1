// Runbook 8 (docs/runbooks.md): catch the next occurrence. The page's watch command waits for
// the event loop to stay busy, then profiles and saves the sample on its own: hot.js is cold
// until the watch is attached, then spends ~15 ms of every 20 in hotJsonDecode(); the command,
// read from the page, must fire once, name that function as the profile's top, leave the two
// files in $DIR, and end with exit code 13 (its one firing is spent).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { capture, runbookCommands } from '../helpers/runbook';
import { eventually, runCli, startTarget } from '../helpers/target';

describe('runbook 8: catch the next occurrence', () => {
  it('the watch fires on the busy loop, profiles it and names hotJsonDecode, then exits 13', async () => {
    const t = await startTarget('hot.js', { nodeArgs: ['--inspect-port=0'] });
    await t.ask('cold');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-runbook8-'));
    try {
      const cmds = runbookCommands('runbook-8', { PID: t.pid, DIR: dir });
      assert.deepEqual(
        cmds.map((c) => c[0]),
        ['watch'],
      );
      const run = runCli(cmds[0]!, { hangGuardMs: 180_000 });
      // the incident comes once the watch is looking
      await eventually(
        () => t.ask('nodetop'),
        (v) => Number(v.sessions) > 0 && Number(v.samples) > 1,
        60_000,
      );
      await t.ask('hot');
      const r = await run;
      capture('8-watch', r.stdout);
      assert.equal(r.code, 13, r.stderr);
      assert.match(r.stdout, /trigger t1 fired \(elu > 0\.6 for 5s\): elu 0\.\d\d; running profile 5s, stats \(1 of 1\)/);
      assert.match(r.stdout, /t1 profile 5s: \S+\.cpuprofile \([\d.]+ KiB\); top: hotJsonDecode \d/);
      assert.match(r.stdout, /t1 stats: \S+\.json /);
      assert.match(r.stdout, /action budget spent: 1 of --max-actions 1; watch ends \(exit code 13\)/);
      const files = fs.readdirSync(dir).sort();
      assert.deepEqual(
        files.map((f) => path.extname(f)),
        ['.cpuprofile', '.json'],
      );
      for (const f of files) assert.match(f, new RegExp(`-${t.pid}-t1-`));
      assert.ok(t.alive());
    } finally {
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
