// nodetop export against prom-client itself (a dev dependency at a pinned version): the fixture
// runs prom-client's collectDefaultMetrics, and its /metrics text for the same process, taken at
// the same moment as a scrape of nodetop's exporter, is compared family by family: every family
// prom-client exports is there, with the same type, the same label names (less nodetop's own
// pid, script and thread) and the same HELP (nodetop's may say more), and values as close as the
// moment allows.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { eventually, startTarget } from '../helpers/target';
import { metricValue, startExporter } from '../helpers/exporter';
import { labelNames, parsePromText, valueOf, type PromFamily } from '../helpers/promtext';

const OURS = ['pid', 'script', 'thread'];

/** |a - b| <= abs, or within rel of the larger. */
function near(a: number | null, b: number | null, what: string, abs: number, rel = 0): void {
  assert.ok(a !== null && b !== null, `${what}: nodetop ${a}, prom-client ${b}`);
  const d = Math.abs(a - b);
  assert.ok(d <= abs || d <= rel * Math.max(Math.abs(a), Math.abs(b)), `${what}: nodetop ${a}, prom-client ${b}`);
}

describe('nodetop export and prom-client on one process', () => {
  it('every default metric of prom-client, with its type, labels and HELP, and values that agree', async () => {
    const t = await startTarget('promclient.js', { nodeArgs: ['--inspect-port=0', '--expose-gc'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter([String(t.pid), '--interval', '200ms', '--label', 'service=api', '--label', `${t.pid}:shard=7`]);
      await eventually(() => t.ask('nodetop'), (r) => Number(r.samples) >= 2, 10_000);
      await t.ask('gc');
      await t.ask('gc');
      const e = ex;
      await eventually(() => e.scrape(), (r) => (metricValue(r.body, 'nodejs_gc_duration_seconds_count', { kind: 'major' }) ?? 0) >= 2, 10_000);
      const [scrape, pc] = await Promise.all([e.scrape(), t.ask('metrics')]);
      const ours = parsePromText(scrape.body);
      const theirs = parsePromText(String(pc.text));

      const missing = [...theirs.keys()].filter((n) => !ours.has(n));
      assert.deepEqual(missing, [], `families prom-client exports and nodetop does not:\n${scrape.body}`);
      for (const [name, p] of theirs) {
        const o = ours.get(name)!;
        assert.equal(o.type, p.type, `${name}: type`);
        const help = p.help.replace(/\.$/, '');
        assert.ok(o.help === p.help || o.help.startsWith(help), `${name}: HELP "${o.help}" does not say what prom-client's does: "${p.help}"`);
        if (p.series.length === 0) continue;
        const ourLabels = labelNames(o, [...OURS, 'service', 'shard']);
        assert.deepEqual(ourLabels, labelNames(p), `${name}: label names`);
      }

      // the labels that tell processes apart, on every series
      const script = require.resolve('../../../test/fixtures/promclient.js');
      for (const f of ours.values()) {
        for (const s of f.series) {
          assert.equal(s.labels.pid, String(t.pid), `${s.name}: pid`);
          assert.equal(s.labels.script, script, `${s.name}: script`);
          assert.equal(s.labels.service, 'api', `${s.name}: --label service=api`);
          assert.equal(s.labels.shard, '7', `${s.name}: --label PID:shard=7`);
        }
      }

      // values: the same process, read moments apart (nodetop's sample is up to 200 ms older)
      const v = (m: Map<string, PromFamily>, n: string, where: Record<string, string> = {}, series?: string): number | null => valueOf(m.get(n), where, series);
      const both = (n: string, where: Record<string, string> = {}, series?: string): [number | null, number | null] => [v(ours, n, where, series), v(theirs, n, where, series)];
      near(...both('process_max_fds'), 'process_max_fds', 0);
      near(...both('process_start_time_seconds'), 'process_start_time_seconds', 1);
      // nodetop's are the target's own fds; prom-client, inside the target, also counts the ones
      // Node opened for the inspector nodetop opened (7 on Node 20) and nodetop's connection
      const [ourFds, theirFds] = both('process_open_fds');
      assert.ok(ourFds !== null && theirFds !== null && theirFds - ourFds >= 0 && theirFds - ourFds <= 10, `process_open_fds: nodetop ${ourFds}, prom-client ${theirFds}`);
      near(...both('process_cpu_seconds_total'), 'process_cpu_seconds_total', 0.5);
      near(...both('process_resident_memory_bytes'), 'process_resident_memory_bytes', 4 << 20, 0.2);
      near(...both('process_virtual_memory_bytes'), 'process_virtual_memory_bytes', 64 << 20, 0.1);
      near(...both('process_heap_bytes'), 'process_heap_bytes', 64 << 20, 0.2);
      near(...both('nodejs_heap_size_total_bytes'), 'nodejs_heap_size_total_bytes', 4 << 20, 0.3);
      near(...both('nodejs_heap_size_used_bytes'), 'nodejs_heap_size_used_bytes', 4 << 20, 0.3);
      near(...both('nodejs_heap_space_size_total_bytes', { space: 'old' }), 'old space', 4 << 20, 0.3);
      assert.deepEqual(
        ours.get('nodejs_heap_space_size_used_bytes')!.series.map((s) => s.labels.space).sort(),
        theirs.get('nodejs_heap_space_size_used_bytes')!.series.map((s) => s.labels.space).sort(),
        'the same heap spaces',
      );
      assert.deepEqual(ours.get('nodejs_version_info')!.series[0]!.labels.version, theirs.get('nodejs_version_info')!.series[0]!.labels.version);
      // what the fixture holds still: one server, one 60 s timer
      near(...both('nodejs_active_resources', { type: 'TCPServerWrap' }), 'resources TCPServerWrap', 0);
      near(...both('nodejs_active_resources', { type: 'Timeout' }), 'resources Timeout', 0);
      near(...both('nodejs_active_handles', { type: 'Server' }), 'handles Server', 0);
      near(...both('nodejs_active_handles_total'), 'nodejs_active_handles_total', 0);
      // GCs: both saw the two forced ones (prom-client since it loaded, nodetop since it attached)
      const ourMajor = v(ours, 'nodejs_gc_duration_seconds', { kind: 'major' }, 'nodejs_gc_duration_seconds_count')!;
      const theirMajor = v(theirs, 'nodejs_gc_duration_seconds', { kind: 'major' }, 'nodejs_gc_duration_seconds_count')!;
      assert.ok(ourMajor >= 2 && theirMajor >= ourMajor, `major GCs: nodetop ${ourMajor}, prom-client ${theirMajor}`);
      assert.equal(v(ours, 'nodejs_gc_duration_seconds', { kind: 'major', le: '+Inf' }, 'nodejs_gc_duration_seconds_bucket'), ourMajor, '+Inf bucket = count');
      // lag: prom-client's values include its 10 ms timer, nodetop's are beyond its own (docs/metrics.md)
      const [ourP50, theirP50] = both('nodejs_eventloop_lag_p50_seconds');
      assert.ok(theirP50! >= 0.009, `prom-client's p50 ${theirP50} includes its 10 ms timer`);
      near(ourP50, theirP50! - 0.01, 'lag p50 beyond the timer', 0.05);
      assert.ok(v(ours, 'nodejs_eventloop_lag_stddev_seconds') !== null, 'stddev');
      assert.ok(v(ours, 'nodejs_eventloop_lag_seconds') !== null, 'lag');
    } finally {
      await ex?.stop();
      await t.kill();
    }
  });
});
