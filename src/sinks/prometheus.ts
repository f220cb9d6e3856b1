// Samples in the Prometheus text exposition format (0.0.4), for `nodetop export`. Pure: the
// last sample of each target in, the /metrics body out. A scrape renders what is already in
// memory; it never causes inspector traffic.
//
// Every metric prom-client 15's collectDefaultMetrics exports for a process, with its names,
// types, label names and HELP (so dashboards built for prom-client work unchanged;
// test/integration/promclient.test.ts compares the two sets on one process), plus `pid`,
// `script`, `thread` and the user's --label on every series, because one exporter serves many
// processes. Documented in docs/metrics.md, with where the values differ and why.
//
// Kept although `promtool check metrics` lints them: prom-client's *_total gauges
// (nodejs_active_handles_total, _requests_total, _resources_total): dashboards use them.

import type { Sample } from '../model/sample';
import { printable } from '../model/text';
import { LAG_RESOLUTION_MS } from '../probes/install';
import type { RawSample } from '../probes/sample';

export interface PromLabels {
  pid: number;
  /** The main script as the target was started with it (process.argv[1]), else its title. */
  script: string;
  thread: string;
  /** The user's --label name=value pairs. */
  extra: Record<string, string>;
}

/** process.argv[1] when there is one (a script), else the title (`node -e`, the REPL). */
export function scriptLabel(argv: readonly string[], title: string): string {
  const s = argv[1];
  return typeof s === 'string' && s !== '' ? s : title;
}

export interface PromTarget {
  labels: PromLabels;
  /** VmSize and VmData from /proc (local targets; null otherwise). */
  vm?: { size: number; data: number } | null;
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
  type: 'gauge' | 'counter' | 'histogram';
  help: string;
  /** Series of one target; for a histogram the names carry the _bucket/_sum/_count suffix in the labels key `__suffix`. */
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

function lagFamily(q: 'min' | 'max' | 'mean' | 'p50' | 'p90' | 'p99', help: string): Family {
  return {
    name: `nodejs_eventloop_lag_${q}_seconds`,
    type: 'gauge',
    help: `${help} over the last sampling interval, beyond the ${LAG_RESOLUTION_MS} ms sampling timer.`,
    series: (_t, s) => one(s.eventLoop.lagMs ? s.eventLoop.lagMs[q] / 1000 : null),
  };
}

/** prom-client's GC histogram buckets, seconds (the probe counts pauses into the same ones). */
export const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];

function total(rec: Record<string, number> | null | undefined): Series {
  if (!rec) return [];
  let n = 0;
  for (const v of Object.values(rec)) n += v;
  return [[{}, n]];
}

/** Every active resource: the handle and the request types (the sample keeps them apart). */
function resources(s: Sample): Record<string, number> | null {
  if (!s.handles) return null;
  const all: Record<string, number> = { ...s.handles.byType };
  for (const [k, v] of Object.entries(s.requests?.byType ?? {})) all[k] = (all[k] ?? 0) + v;
  return all;
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
    help: 'Maximum number of open file descriptors.',
    series: (_t, s) => one(s.process.fds.limit),
  },
  {
    name: 'process_virtual_memory_bytes',
    type: 'gauge',
    help: 'Virtual memory size in bytes.',
    series: (t) => one(t.vm ? t.vm.size : null),
  },
  {
    name: 'process_heap_bytes',
    type: 'gauge',
    help: 'Process heap size in bytes.',
    series: (t) => one(t.vm ? t.vm.data : null),
  },
  {
    name: 'nodejs_eventloop_lag_seconds',
    type: 'gauge',
    help: `Lag of event loop in seconds: the mean delay over the last sampling interval, beyond the ${LAG_RESOLUTION_MS} ms sampling timer.`,
    series: (_t, s) => one(s.eventLoop.lagMs ? s.eventLoop.lagMs.mean / 1000 : null),
  },
  lagFamily('min', 'The minimum recorded event loop delay'),
  lagFamily('max', 'The maximum recorded event loop delay'),
  lagFamily('mean', 'The mean of the recorded event loop delays'),
  {
    name: 'nodejs_eventloop_lag_stddev_seconds',
    type: 'gauge',
    help: 'The standard deviation of the recorded event loop delays.',
    // nanoseconds from the histogram; a deviation is the same with or without the timer's period
    series: (_t, _s, r) => one(r?.window?.lag && Number.isFinite(r.window.lag.stddev) && r.window.lag.count > 2 ? r.window.lag.stddev / 1e9 : null),
  },
  lagFamily('p50', 'The 50th percentile of the recorded event loop delays'),
  lagFamily('p90', 'The 90th percentile of the recorded event loop delays'),
  lagFamily('p99', 'The 99th percentile of the recorded event loop delays'),
  {
    name: 'nodejs_eventloop_utilization',
    type: 'gauge',
    help: 'Share of the last sampling interval the event loop was busy (ELU), 0 to 1.',
    series: (_t, s) => one(s.eventLoop.utilization),
  },
  {
    name: 'nodejs_active_resources',
    type: 'gauge',
    help: 'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
    series: (_t, s) => {
      const all = resources(s);
      return all ? byType(all, 'type') : [];
    },
  },
  {
    name: 'nodejs_active_resources_total',
    type: 'gauge',
    help: 'Total number of active resources.',
    series: (_t, s) => total(resources(s)),
  },
  {
    name: 'nodejs_active_handles',
    type: 'gauge',
    help: 'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
    series: (_t, _s, r) => (r?.handleObjects ? byType(r.handleObjects, 'type') : []),
  },
  {
    name: 'nodejs_active_handles_total',
    type: 'gauge',
    help: 'Total number of active handles.',
    series: (_t, _s, r) => total(r?.handleObjects),
  },
  {
    name: 'nodejs_active_requests',
    type: 'gauge',
    help: 'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
    series: (_t, s) => (s.requests ? byType(s.requests.byType, 'type') : []),
  },
  {
    name: 'nodejs_active_requests_total',
    type: 'gauge',
    help: 'Total number of active requests.',
    series: (_t, s) => total(s.requests?.byType),
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
    series: (_t, s) => s.memory.spaces.flatMap((x): Series => (x.sizeBytes === null ? [] : [[{ space: spaceName(x.name) }, x.sizeBytes]])),
  },
  {
    name: 'nodejs_heap_space_size_used_bytes',
    type: 'gauge',
    help: 'Process heap space size used from Node.js in bytes.',
    series: (_t, s) => s.memory.spaces.flatMap((x): Series => (x.usedBytes === null ? [] : [[{ space: spaceName(x.name) }, x.usedBytes]])),
  },
  {
    name: 'nodejs_heap_space_size_available_bytes',
    type: 'gauge',
    help: 'Process heap space size available from Node.js in bytes.',
    series: (_t, s) => s.memory.spaces.flatMap((x): Series => (x.availableBytes === null ? [] : [[{ space: spaceName(x.name) }, x.availableBytes]])),
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
    type: 'histogram',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    series: (_t, _s, r) => {
      const gc = r?.window?.gc;
      if (!gc) return [];
      const out: Series = [];
      for (const k of Object.keys(gc).sort()) {
        const g = gc[k]!;
        if (!Array.isArray(g.le) || g.le.length !== GC_BUCKETS.length) continue; // not read for export
        let cum = 0;
        GC_BUCKETS.forEach((le, i) => {
          cum += g.le![i] ?? 0;
          out.push([{ le: String(le), kind: k, [SUFFIX]: '_bucket' }, cum]);
        });
        out.push([{ le: '+Inf', kind: k, [SUFFIX]: '_bucket' }, g.count]);
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
  const base = (t: PromTarget): Labels => ({ pid: String(t.labels.pid), script: t.labels.script, thread: t.labels.thread, ...t.labels.extra });
  for (const f of FAMILIES) {
    const body: string[] = [];
    for (const t of targets) {
      if (f.name === 'nodetop_target_up') {
        body.push(`${f.name}${labelText(base(t))} ${t.up ? 1 : 0}`);
        continue;
      }
      if (!t.up || !t.sample) continue;
      for (const [extra, v] of f.series(t, t.sample, t.raw)) {
        const { [SUFFIX]: suffix, ...rest } = extra;
        body.push(`${f.name}${suffix ?? ''}${labelText({ ...base(t), ...rest })} ${formatValue(v)}`);
      }
    }
    // a family with no series (no request in flight) still says what it is, as prom-client does
    if (body.length === 0 && !targets.some((t) => t.up && t.sample)) continue;
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...body);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
