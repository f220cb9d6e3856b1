// Charts as text: a line chart over time in braille (2x4 dots a cell) with a value axis and a
// time axis, gauges and horizontal bars. Pure: data and a size in, tagged lines out, so a chart
// is tested as text and drawn in the same one render per tick as the rest of the screen.
//
// Why not blessed-contrib's line and gauge: its line chart draws a missing reading as a zero,
// keeps three rows and twelve columns for its own padding (at 80x24 a chart had 5 dot rows
// left), has no units on its axes, draws its axes black by default, and writes its own colour
// escapes that ignore NO_COLOR and the terminal's number of colours.

import type { Points } from '../model/series';
import { fit, type Painter } from './render';

type Paint = Parameters<Painter['paint']>[1];

export interface ChartLine {
  label: string;
  /** Read in place (Series.view): a chart copies none of them. */
  points: Points;
  /** Each value times this (ELU 0..1 drawn as a percentage); default 1. */
  scale?: number;
  paint: Paint;
}

export interface LineChartSpec {
  title: string;
  /** Text after the title: the current values. */
  legend: string;
  lines: ChartLine[];
  fromMs: number;
  toMs: number;
  /** Value axis; max from the data (with headroom) unless given. */
  min?: number;
  max?: number;
  /** The value axis reaches at least this high (1 MiB, 1 ms, 100%): no axis of 0 to 0. */
  atLeast?: number;
  /** A horizontal line drawn when it fits the range (the heap limit). */
  limit?: number;
  format(v: number): string;
  /** The round value at or above v for the top of the axis (default 1, 2, 2.5, 5 x 10^n). */
  nice?(v: number): number;
}

// braille dot bits by [row][column] inside a cell
const DOTS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
];

/** 1, 2, 2.5, 5 x 10^n at or above v. */
export function niceCeil(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v * 0.999999) return m * e;
  return 10 * e;
}

/** 1, 2, 4 ... 512 x 1024^n at or above v: axis tops for bytes (64M, not 61M). */
export function niceBytes(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 1;
  const unit = Math.pow(1024, Math.max(0, Math.floor(Math.log(v) / Math.log(1024))));
  let m = 1;
  while (m * unit < v * 0.999999) m *= 2;
  return m * unit;
}

/** Relative time for the time axis: "now", "-30s", "-5m", "-1h". */
export function ago(msValue: number): string {
  const s = Math.round(msValue / 1000);
  if (s <= 0) return 'now';
  if (s < 120 && s % 60 !== 0) return `-${s}s`;
  if (s < 7200 && s % 3600 !== 0) return `-${Math.round(s / 60)}m`;
  return `-${Math.round(s / 3600)}h`;
}

/** Time ticks: a step of 10 s, 30 s, 1, 2, 5, 10, 15, 30 min... that leaves room for labels. */
function timeStep(spanMs: number, cells: number): number {
  const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000);
  const maxTicks = Math.max(1, Math.floor(cells / 9));
  return steps.find((s) => spanMs / s <= maxTicks) ?? spanMs;
}

/** A line chart of `width` x `height` (height >= 4: title, at least two plot rows, time axis). */
export function lineChart(spec: LineChartSpec, width: number, height: number, p: Painter): string[] {
  const out: string[] = [];
  out.push(fit(`${p.paint(spec.title, 'bold')} ${spec.legend}`, width));
  const rows = Math.max(1, height - 2);
  const lo = spec.min ?? 0;
  // the largest reading in the window (a loop: the arrays of every visible reading were garbage every tick)
  let dataMax = -Infinity;
  for (const l of spec.lines) {
    const scale = l.scale ?? 1;
    for (let j = 0; j < l.points.length; j++) {
      const t = l.points.time(j);
      const v = l.points.value(j) * scale;
      if (t >= spec.fromMs && t <= spec.toMs && v > dataMax) dataMax = v;
    }
  }
  if (dataMax === -Infinity) dataMax = lo;
  const nice = spec.nice ?? niceCeil;
  let hi = spec.max ?? nice(Math.max(spec.atLeast ?? 1, (dataMax - lo) * 1.1 + lo));
  if (spec.max === undefined && spec.limit !== undefined && spec.limit > 0 && spec.limit <= hi * 2) hi = nice(Math.max(hi, spec.limit));
  // value labels at the top, middle and bottom rows
  const labelAt = new Map<number, string>();
  labelAt.set(0, spec.format(hi));
  labelAt.set(rows - 1, spec.format(lo));
  if (rows >= 5) labelAt.set(Math.floor((rows - 1) / 2), spec.format(lo + ((hi - lo) * (rows - 1 - Math.floor((rows - 1) / 2))) / (rows - 1)));
  const lw = Math.max(...[...labelAt.values()].map((l) => l.length));
  const cells = Math.max(1, width - lw - 1);
  const dotsW = cells * 2;
  const dotsH = rows * 4;
  const bits = new Uint8Array(cells * rows);
  const owner = new Int8Array(cells * rows).fill(-1);
  const span = Math.max(1, spec.toMs - spec.fromMs);
  const xOf = (t: number): number => Math.floor(((t - spec.fromMs) / span) * (dotsW - 1) + 0.5);
  const yOf = (v: number): number => {
    const r = hi > lo ? (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo) : 0;
    return dotsH - 1 - Math.round(r * (dotsH - 1));
  };
  const dot = (x: number, y: number, who: number): void => {
    if (x < 0 || x >= dotsW || y < 0 || y >= dotsH) return;
    const c = Math.floor(y / 4) * cells + Math.floor(x / 2);
    bits[c]! |= DOTS[y % 4]![x % 2]!;
    owner[c] = who;
  };
  if (spec.limit !== undefined && spec.limit >= lo && spec.limit <= hi) {
    const y = yOf(spec.limit);
    for (let x = 0; x < dotsW; x += 2) dot(x, y, spec.lines.length);
  }
  spec.lines.forEach((line, who) => {
    // the previous reading's dot; px -1: none (a gap, or the first)
    let px = -1;
    let py = 0;
    const scale = line.scale ?? 1;
    for (let j = 0; j < line.points.length; j++) {
      const t = line.points.time(j);
      const v = line.points.value(j) * scale;
      if (t < spec.fromMs - span || t > spec.toMs) continue;
      if (Number.isNaN(v)) {
        px = -1; // a gap: a missing reading is not joined to the next
        continue;
      }
      const x = xOf(t);
      const y = yOf(v);
      if (px >= 0) {
        // join to the previous reading: every dot column between, and the rise within a column
        const steps = Math.max(1, x - px);
        for (let k = 1; k <= steps; k++) {
          const cx = px + k;
          const y0 = Math.round(py + ((y - py) * (k - 1)) / steps);
          const y1 = Math.round(py + ((y - py) * k) / steps);
          for (let yy = Math.min(y0, y1); yy <= Math.max(y0, y1); yy++) dot(cx, yy, who);
        }
      } else dot(x, y, who);
      px = x;
      py = y;
    }
  });
  const paints: Paint[] = [...spec.lines.map((l) => l.paint), 'dim'];
  for (let r = 0; r < rows; r++) {
    let line = '';
    let run = '';
    let runOwner = -2;
    const flush = (): void => {
      if (run) line += runOwner >= 0 ? p.paint(run, paints[runOwner] ?? 'info') : run;
      run = '';
    };
    for (let c = 0; c < cells; c++) {
      const b = bits[r * cells + c]!;
      const o = b ? owner[r * cells + c]! : -1;
      const ch = b === 0 ? ' ' : p.unicode ? String.fromCharCode(0x2800 + b) : asciiDot(b);
      if (o !== runOwner) {
        flush();
        runOwner = o;
      }
      run += ch;
    }
    flush();
    const label = (labelAt.get(r) ?? '').padStart(lw);
    out.push(`${p.paint(label, 'dim')}${p.paint(p.unicode ? (labelAt.has(r) ? '┤' : '│') : '|', 'dim')}${line}`);
  }
  // time axis: ticks at whole steps back from the right edge
  const axis = new Array<string>(cells).fill(' ');
  const step = timeStep(span, cells);
  const put = (col: number, text: string): void => {
    const start = Math.min(cells - text.length, Math.max(0, col - Math.floor(text.length / 2)));
    for (let i = start - 1; i <= start + text.length; i++) if (i >= 0 && i < cells && axis[i] !== ' ') return;
    for (let i = 0; i < text.length; i++) axis[start + i] = text[i]!;
  };
  put(cells - 1, 'now');
  for (let back = step; back <= span + 1; back += step) put(Math.floor(((span - back) / span) * (cells - 1)), ago(back));
  out.push(p.paint(`${' '.repeat(lw)}${p.unicode ? '└' : '+'}${axis.join('')}`, 'dim'));
  return out.slice(0, height);
}

function asciiDot(b: number): string {
  const top = (b & 0x1b) !== 0;
  const bottom = (b & 0xe4) !== 0;
  return top && bottom ? ':' : top ? "'" : '.';
}

/**
 * A gauge: `label [████░░░░] text`, filled by `ratio` (0..1) in the level's colour; `short` is
 * the text used when the long one leaves the bar fewer than 8 cells.
 */
export function gauge(label: string, ratio: number | null, long: string, width: number, p: Painter, paint: Paint, short = long): string {
  // without colour the text may get a mark (! or !!): room for it
  const room = width - label.length - 4 - (p.colors ? 0 : 2);
  const text = room - long.length >= 8 ? long : short;
  const barW = Math.max(4, room - text.length);
  const r = ratio === null || !Number.isFinite(ratio) ? 0 : Math.min(1, Math.max(0, ratio));
  const filled = Math.round(r * barW);
  const full = p.unicode ? '█' : '#';
  const empty = p.unicode ? '░' : '.';
  // without colour the level is the text's mark, not a mark inside the bar
  const bar = p.paint(full.repeat(filled), p.colors ? paint : 'info') + p.paint(empty.repeat(barW - filled), 'dim');
  return `${label} ${p.unicode ? '▕' : '['}${bar}${p.unicode ? '▏' : ']'} ${p.paint(text, paint)}`;
}

/** Horizontal bars, one per row, scaled to the largest: `name ███████ value`. */
export function bars(rows: Array<{ name: string; value: number | null; text: string; paint: Paint }>, width: number, p: Painter): string[] {
  const nameW = Math.min(28, Math.max(4, ...rows.map((r) => r.name.length)));
  const textW = Math.max(...rows.map((r) => r.text.length), 1);
  const barW = Math.max(4, width - nameW - textW - 4);
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  return rows.map((r) => {
    const n = r.value === null ? 0 : Math.max(r.value > 0 ? 1 : 0, Math.round((r.value / max) * barW));
    const name = r.name.length > nameW ? `${r.name.slice(0, nameW - 1)}…` : r.name.padEnd(nameW);
    return `  ${name} ${p.paint((p.unicode ? '█' : '#').repeat(n), p.colors ? r.paint : 'info')}${' '.repeat(barW - n)} ${p.paint(r.text.padStart(textW), r.paint === 'good' ? 'info' : r.paint)}`;
  });
}
