// What merely attaching costs: while an inspector is open, V8 keeps the arguments of the last
// 1,000 console calls for a client that might ask for them. nodetop's instruments give them back
// after every GC and on detach (Runtime.discardConsoleEntries), and it closes the inspector it opened.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Sampler } from '../../src/sampler';
import { startTarget } from '../helpers/target';
import { attachTo, heapAfterGc, MiB, ports, portsSettle } from '../helpers/harm';

describe('console memory', () => {
  it('a target that logs 200 arrays of 800 KiB while nodetop is attached has its heap back after detach and a GC', async () => {
    const t = await startTarget('logger.js', { nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    try {
      const portsBefore = ports(t.pid);
      const before = await heapAfterGc(t);
      const att = await attachTo(t.pid);
      try {
        const s = new Sampler(att);
        await s.baseline();
        assert.equal((await t.ask('log 200 800', 60_000)).logged, 200);
        await s.sample();
        // while attached, the instruments discard what V8 keeps after every GC (console-rate.test.ts
        // shows the target dying without it): a GC gives the ~160 MiB back even now
        const held = await heapAfterGc(t);
        process.stderr.write(`[harm] console: heapUsed after GC before ${before}, attached after 200 x 800 KiB logs ${held}\n`);
        assert.ok(held - before < 8 * MiB, `the logged arrays are given back while attached (${held - before} bytes)`);
      } finally {
        await att.detach();
      }
      assert.deepEqual(await portsSettle(t.pid, portsBefore), portsBefore);
      const afterBytes = await heapAfterGc(t);
      process.stderr.write(`[harm] console: after detach ${afterBytes}\n`);
      // Tolerance 8 MiB: the 200 arrays are ~160 MiB; one array left would be 0.8 MiB; the idle
      // fixture's own heap moves by well under 1 MiB between GCs.
      assert.ok(afterBytes - before < 8 * MiB, `heap after detach ${afterBytes} vs ${before} before`);
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
