// Samples in the Prometheus text exposition format (0.0.4), for `nodetop export`. Pure: the
// last sample of each target in, the /metrics body out. A scrape renders what is already in
// memory; it never causes inspector traffic.
//
// Names follow prom-client's default metrics where one exists (so dashboards built for
// prom-client work unchanged), with a `pid`, `title` and `thread` label on every series because
// one exporter serves many processes. Every family is documented in the README.
//
// Deliberately absent: prom-client's nodejs_active_handles_total / _requests_total, gauges named
// like counters that `promtool check metrics` rejects; sum(nodejs_active_handles) is the same.

import type { Sample } from '../model/sample';
import { printable } from '../model/text';
import type { RawSample } from '../probes/sample';

export interface PromTarget {
  labels: { pid: number; title: string; thread: string };
  /** False while the target does not answer: only nodetop_target_up (0) is served for it. */
  up: boolean;
  sample: Sample | null;
  /** The raw reading behind `sample`: the cumulative counters (CPU seconds, GC since attach). */
  raw: RawSample | null;
  sampleDurationSeconds: number | null;
}

type Labels = Record<string, string>;
type Series = Array<[Labels, number]>;

interface Family {
  name: string;
  type: 'gauge' | 'counter' | 'summary';
  help: string;
  /** Series of one target; for a summary the names carry the _sum/_count suffix in the labels key `__suffix`. */
  series(t: PromTarget, s: Sample, raw: RawSample | null): Series;
}

/**
 * A label value: the format's escapes (a newline stays, as backslash n), then every other control or
 * invisible format character in the target's text (title, handle types) becomes a space.
 */
export function escapeLabelValue(v: string): string {
  return printable(v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"'));
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

const one = (v: number | null | undefined): Series => (v === null || v === undefined || !Number.isFinite(v) ? [] : [[{}, v]]);
const SUFFIX = '__suffix';

function lagFamily(q: 'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p99', what: string): Family {
  return {
    name: `nodejs_eventloop_lag_${q}_seconds`,
    type: 'gauge',
    help: `${what} event loop lag over the last sampling interval, beyond the 10 ms sampling timer.`,
    series: (_t, s) => one(s.eventLoop.lagMs ? s.eventLoop.lagMs[q] / 1000 : null),
  };
}

function byType(rec: Record<string, number>, label: string): Series {
  return Object.entries(rec)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([k, v]) => [{ [label]: k }, v]);
}

/** prom-client names heap spaces without the `_space` suffix: old, new, code, large_object ... */
function spaceName(name: string): string {
  return name.replace(/_space$/, '');
}

export const FAMILIES: Family[] = [
  {
    name: 'nodetop_target_up',
    type: 'gauge',
    help: '1 when the last sample of the target succeeded, 0 while it does not answer.',
    series: () => [], // rendered specially: present even without a sample
  },
  {
    name: 'nodetop_sample_duration_seconds',
    type: 'gauge',
    help: 'Round trip of the last sample through the inspector (nodetop\'s own cost to the target).',
    series: (t) => one(t.sampleDurationSeconds === null ? null : Math.round(t.sampleDurationSeconds * 1e6) / 1e6),
  },
  {
    name: 'process_cpu_user_seconds_total',
    type: 'counter',
    help: 'Total user CPU time spent in seconds.',
    series: (_t, _s, r) => one(r ? r.cpuUsageMicros.user / 1e6 : null),
  },
  {
    name: 'process_cpu_system_seconds_total',
    type: 'counter',
    help: 'Total system CPU time spent in seconds.',
    series: (_t, _s, r) => one(r ? r.cpuUsageMicros.system / 1e6 : null),
  },
  {
    name: 'process_cpu_seconds_total',
    type: 'counter',
    help: 'Total user and system CPU time spent in seconds.',
    series: (_t, _s, r) => one(r ? (r.cpuUsageMicros.user + r.cpuUsageMicros.system) / 1e6 : null),
  },
  {
    name: 'process_start_time_seconds',
    type: 'gauge',
    help: 'Start time of the process since unix epoch in seconds.',
    series: (_t, s) => one(Math.round(Date.parse(s.time) / 1000 - s.target.uptimeSec)),
  },
  {
    name: 'process_resident_memory_bytes',
    type: 'gauge',
    help: 'Resident memory size in bytes.',
    series: (_t, s) => one(s.process.rssBytes),
  },
  {
    name: 'process_open_fds',
    type: 'gauge',
    help: 'Number of open file descriptors.',
    series: (_t, s) => one(s.process.fds.open),
  },
  {
    name: 'process_max_fds',
    type: 'gauge',
    help: 'Maximum number of open file descriptors (the soft limit).',
    series: (_t, s) => one(s.process.fds.limit),
  },
  lagFamily('min', 'The minimum'),
  lagFamily('max', 'The maximum'),
  lagFamily('mean', 'The mean'),
  lagFamily('p50', 'The 50th percentile of'),
  lagFamily('p90', 'The 90th percentile of'),
  lagFamily('p99', 'The 99th percentile of'),
  {
    name: 'nodejs_eventloop_utilization',
    type: 'gauge',
    help: 'Share of the last sampling interval the event loop was busy (ELU), 0 to 1.',
    series: (_t, s) => one(s.eventLoop.utilization),
  },
  {
    name: 'nodejs_active_handles',
    type: 'gauge',
    help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
    series: (_t, s) => (s.handles ? byType(s.handles.byType, 'type') : []),
  },
  {
    name: 'nodejs_active_requests',
    type: 'gauge',
    help: 'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
    series: (_t, s) => (s.requests ? byType(s.requests.byType, 'type') : []),
  },
  {
    name: 'nodejs_heap_size_total_bytes',
    type: 'gauge',
    help: 'Process heap size from Node.js in bytes.',
    series: (_t, s) => one(s.memory.heapTotalBytes),
  },
  {
    name: 'nodejs_heap_size_used_bytes',
    type: 'gauge',
    help: 'Process heap size used from Node.js in bytes.',
    series: (_t, s) => one(s.memory.heapUsedBytes),
  },
  {
    name: 'nodejs_external_memory_bytes',
    type: 'gauge',
    help: 'Node.js external memory size in bytes.',
    series: (_t, s) => one(s.memory.externalBytes),
  },
  {
    name: 'nodejs_heap_space_size_total_bytes',
    type: 'gauge',
    help: 'Process heap space size total from Node.js in bytes.',
    series: (_t, s) => s.memory.spaces.map((x) => [{ space: spaceName(x.name) }, x.sizeBytes]),
  },
  {
    name: 'nodejs_heap_space_size_used_bytes',
    type: 'gauge',
    help: 'Process heap space size used from Node.js in bytes.',
    series: (_t, s) => s.memory.spaces.map((x) => [{ space: spaceName(x.name) }, x.usedBytes]),
  },
  {
    name: 'nodejs_heap_space_size_available_bytes',
    type: 'gauge',
    help: 'Process heap space size available from Node.js in bytes.',
    series: (_t, s) => s.memory.spaces.map((x) => [{ space: spaceName(x.name) }, x.availableBytes]),
  },
  {
    name: 'nodejs_version_info',
    type: 'gauge',
    help: 'Node.js version info.',
    series: (_t, s) => {
      const v = s.target.nodeVersion;
      const [major, minor, patch] = v.replace(/^v/, '').split('.');
      return [[{ version: v, major: major ?? '', minor: minor ?? '', patch: patch ?? '' }, 1]];
    },
  },
  {
    name: 'nodejs_gc_duration_seconds',
    type: 'summary',
    help: 'Garbage collection pause time by kind, since nodetop attached (a summary without quantiles: _sum and _count).',
    series: (_t, _s, r) => {
      const gc = r?.window?.gc;
      if (!gc) return [];
      const out: Series = [];
      for (const k of Object.keys(gc).sort()) {
        const g = gc[k]!;
        out.push([{ kind: k, [SUFFIX]: '_sum' }, g.ms / 1000]);
        out.push([{ kind: k, [SUFFIX]: '_count' }, g.count]);
      }
      return out;
    },
  },
];

/** The /metrics body for these targets. */
export function renderPrometheus(targets: PromTarget[]): string {
  const lines: string[] = [];
  const base = (t: PromTarget): Labels => ({ pid: String(t.labels.pid), title: t.labels.title, thread: t.labels.thread });
  for (const f of FAMILIES) {
    const body: string[] = [];
    for (const t of targets) {
      if (f.name === 'nodetop_target_up') {
        body.push(`${f.name}${labelText(base(t))} ${t.up ? 1 : 0}`);
        continue;
      }
      if (!t.up || !t.sample) continue;
      // summaries: all _sum lines of a target, then its _count lines, is as valid as interleaved
      for (const [extra, v] of f.series(t, t.sample, t.raw)) {
        const { [SUFFIX]: suffix, ...rest } = extra;
        body.push(`${f.name}${suffix ?? ''}${labelText({ ...base(t), ...rest })} ${formatValue(v)}`);
      }
    }
    if (body.length === 0) continue;
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...body);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
