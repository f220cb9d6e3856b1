// `nodetop stats <pid>`: attach, measure one window, print, detach.

import { attach, type AttachOptions } from '../inspector/attach';
import { Sampler } from '../sampler';
import { renderStats } from '../sinks/text';
import type { Output } from '../cli';

export interface StatsOptions extends AttachOptions {
  windowMs: number;
  json: boolean;
}

export async function statsCommand(opts: StatsOptions, out: Output): Promise<void> {
  // The lease must outlast the window: the instruments are renewed only by a sample.
  const att = await attach({ ...opts, leaseMs: Math.max(60_000, opts.windowMs + 60_000) });
  try {
    const sampler = new Sampler(att);
    await sampler.baseline();
    await new Promise((r) => setTimeout(r, opts.windowMs));
    const sample = await sampler.sample();
    out.write(opts.json ? JSON.stringify(sample) : renderStats(sample));
  } finally {
    await att.detach();
  }
}
