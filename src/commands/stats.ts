// `nodetop stats <pid>`: attach, measure one window, print, detach.

import { attach, type AttachOptions } from '../inspector/attach';
import { Sampler } from '../sampler';
import { renderStats } from '../sinks/text';
import type { Output } from '../cli';

export interface StatsOptions extends AttachOptions {
  windowMs: number;
  json: boolean;
  /** Read worker threads too (default true; --no-workers). */
  workers?: boolean;
}

export async function statsCommand(opts: StatsOptions, out: Output): Promise<void> {
  const att = await attach(opts);
  try {
    const sampler = new Sampler(att, { workers: opts.workers ?? true });
    try {
      await sampler.baseline();
      await new Promise((r) => setTimeout(r, opts.windowMs));
      const sample = await sampler.sample();
      out.write(opts.json ? JSON.stringify(sample) : renderStats(sample));
    } finally {
      await sampler.close();
    }
  } finally {
    await att.detach();
  }
}
