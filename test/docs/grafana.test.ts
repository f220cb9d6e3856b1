// docs/grafana-dashboard.json queries only metrics and labels that `nodetop export` serves: the
// names in every PromQL expression are checked against the exporter's own families
// (src/sinks/prometheus.ts), a histogram's _bucket, _sum and _count included.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FAMILIES } from '../../src/sinks/prometheus';
import { ROOT } from '../helpers/target';

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool']);
const LABELS = new Set(['pid', 'script', 'thread', 'type', 'space', 'kind', 'le', 'version', 'major', 'minor', 'patch', 'job', 'instance']);

/** The metric names and the label names a PromQL expression uses. */
export function promqlNames(expr: string): { metrics: string[]; labels: string[] } {
  const labels: string[] = [];
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.push(m[1]!);
    return ' ';
  });
  e = e.replace(/\b(by|without|on|ignoring)\s*\(([^)]*)\)/g, (_, _k: string, inner: string) => {
    for (const l of inner.split(',')) if (l.trim()) labels.push(l.trim());
    return ' ';
  });
  e = e.replace(/\[[^\]]*\]/g, ' ');
  const metrics: string[] = [];
  for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (m[2]) continue; // a function
    if (PROMQL_WORDS.has(m[1]!) || /^\d/.test(m[1]!)) continue;
    metrics.push(m[1]!);
  }
  return { metrics, labels };
}

function exprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) exprs(x, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'definition') && typeof v === 'string') out.push(v.replace(/^label_values\((.*)\)$/, (_, a: string) => a.replace(/,\s*[a-z_]+\s*$/, '')));
      else exprs(v, out);
    }
  }
  return out;
}

describe('docs/grafana-dashboard.json', () => {
  it('queries only metrics and labels nodetop export serves', () => {
    const dash = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/grafana-dashboard.json'), 'utf8')) as unknown;
    const served = new Set<string>();
    for (const f of FAMILIES) {
      served.add(f.name);
      if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) served.add(f.name + s);
    }
    const all = exprs(dash);
    assert.ok(all.length >= 10, `the dashboard's queries: ${all.length}`);
    const used = new Set<string>();
    for (const e of all) {
      const { metrics, labels } = promqlNames(e);
      assert.ok(metrics.length > 0, `no metric in ${e}`);
      for (const m of metrics) {
        assert.ok(served.has(m), `${m} (in ${e}) is not a metric nodetop export serves`);
        used.add(m);
      }
      for (const l of labels) assert.ok(LABELS.has(l), `label ${l} (in ${e}) is not one nodetop export sets`);
    }
    // the headline numbers are on it
    for (const m of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds_sum']) {
      assert.ok(used.has(m), `the dashboard shows ${m}`);
    }
  });

  it('the name check itself: a metric that does not exist is caught', () => {
    assert.deepEqual(promqlNames('rate(nope_seconds_total{pid=~"$pid"}[1m])').metrics, ['nope_seconds_total']);
    assert.deepEqual(promqlNames('histogram_quantile(0.99, sum by (le, pid) (rate(x_bucket[5m])))'), { metrics: ['x_bucket'], labels: ['le', 'pid'] });
  });
});
