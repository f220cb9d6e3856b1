import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { cpuPercent, gcDelta, lagFromHistogram } from '../../src/model/sample';
import { bytes, duration, ms } from '../../src/model/units';

describe('model', () => {
  it('turns histogram nanoseconds into lag, less the resolution', () => {
    const lag = lagFromHistogram({ min: 10.1e6, max: 209.8e6, mean: 12e6, stddev: 1, p50: 10.2e6, p90: 10.5e6, p99: 60e6, count: 98 }, 10);
    assert.ok(lag);
    assert.ok(Math.abs(lag.p50 - 0.2) < 1e-9);
    assert.ok(Math.abs(lag.max - 199.8) < 1e-9);
    assert.ok(Math.abs(lag.p99 - 50) < 1e-9);
  });

  it('gives no lag for an empty histogram rather than a fake zero', () => {
    assert.equal(lagFromHistogram({ min: 9223372036854776000, max: 0, mean: NaN, stddev: NaN, p50: 0, p90: 0, p99: 0, count: 0 }, 10), null);
  });

  it('computes GC during a window from cumulative counters', () => {
    const d = gcDelta({ minor: { count: 5, ms: 2 }, major: { count: 1, ms: 3 } }, { minor: { count: 9, ms: 3.5 }, major: { count: 2, ms: 10 } });
    assert.equal(d.byKind.minor.count, 4);
    assert.equal(d.byKind.major.count, 1);
    assert.equal(d.count, 5);
    assert.ok(Math.abs(d.pauseMs - 8.5) < 1e-9);
    assert.equal(d.byKind.incremental.count, 0);
    // counters that went backwards were reset: count from zero
    const r = gcDelta({ minor: { count: 50, ms: 20 } }, { minor: { count: 3, ms: 1 } });
    assert.equal(r.byKind.minor.count, 3);
  });

  it('computes CPU percent of one core', () => {
    assert.equal(cpuPercent(1_000_000, 1_500_000, 1000), 50);
    assert.equal(cpuPercent(0, 2_000_000, 1000), 200);
    assert.equal(cpuPercent(5, 4, 1000), null);
    assert.equal(cpuPercent(0, 1, 0), null);
  });

  it('formats units', () => {
    assert.equal(bytes(0), '0 B');
    assert.equal(bytes(1536), '1.50 KiB');
    assert.equal(bytes(5 * 1024 ** 3), '5.00 GiB');
    assert.equal(bytes(null), 'n/a');
    assert.equal(ms(0.123), '0.12 ms');
    assert.equal(ms(12_345), '12.3 s');
    assert.equal(duration(3725), '1h02m');
    assert.equal(duration(NaN), 'n/a');
  });
});
