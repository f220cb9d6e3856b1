// A reader of the Prometheus text format (0.0.4), enough to compare two expositions family by
// family: HELP, TYPE, and each series' labels and value (a histogram's _bucket, _sum and _count
// series belong to their family).

export interface PromSeries {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  help: string;
  type: string;
  series: PromSeries[];
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const fams = new Map<string, PromFamily>();
  const fam = (name: string): PromFamily => {
    let f = fams.get(name);
    if (!f) fams.set(name, (f = { name, help: '', type: 'untyped', series: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      fam(m[1]!).help = m[2]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      fam(m[1]!).type = m[2]!;
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus series line: ${line}`);
    const name = m[1]!;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const base = fams.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    fam(fams.has(base) ? base : name).series.push({ name, labels, value: Number(m[3]) });
  }
  return fams;
}

/** The label names a family's series carry, less `drop`, sorted. */
export function labelNames(f: PromFamily, drop: readonly string[] = []): string[] {
  const s = new Set<string>();
  for (const x of f.series) for (const k of Object.keys(x.labels)) if (!drop.includes(k)) s.add(k);
  return [...s].sort();
}

/** The value of the one series of `name` whose labels include `where`; null when none. */
export function valueOf(f: PromFamily | undefined, where: Record<string, string> = {}, name?: string): number | null {
  if (!f) return null;
  const x = f.series.find((s) => (name === undefined || s.name === name) && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  return x ? x.value : null;
}
