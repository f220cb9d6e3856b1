// `nodetop stats <pid>`: attach, measure one window, print, detach.

import { attach, explainCallFailure, type AttachOptions } from '../inspector/attach';
import { waitWhileConnected } from '../inspector/session';
import { Sampler } from '../sampler';
import { renderStats } from '../sinks/text';
import { errLine } from '../sinks/terminal';
import type { Output } from '../cli';

export interface StatsOptions extends AttachOptions {
  windowMs: number;
  json: boolean;
  /** Read sockets and HTTP pools at all. */
  sockets: boolean;
  /** Sockets listed one by one. */
  top: number;
  /** Heap census of sockets and agents (explicit: a full GC in the target). */
  census: boolean;
  /** Read worker threads too (default true; --no-workers). */
  workers?: boolean;
}

export async function statsCommand(opts: StatsOptions, out: Output): Promise<void> {
  // The lease must outlast the window: the instruments are renewed only by a sample.
  const att = await attach({ ...opts, leaseMs: Math.max(60_000, opts.windowMs + 60_000) });
  try {
    const sampler = new Sampler(att, { net: opts.sockets ? { top: opts.top, groups: 50 } : null, census: opts.census, workers: opts.workers ?? true, workerReadsPerS: Infinity }); // one sample: every worker
    try {
      await sampler.baseline();
      const windowEnds = Date.now() + opts.windowMs;
      // a target that exits during the window is let go at once (and the command says so)
      await waitWhileConnected(att.session, Math.max(0, windowEnds - Date.now()), 'the measured window').catch(async (e: unknown) => {
        throw await explainCallFailure(e, att.pid, `pid ${att.pid}`);
      });
      const sample = await sampler.sample();
      out.write(opts.json ? JSON.stringify(sample) : renderStats(sample));
      // the sample stands without them; say why they are missing (null in JSON)
      if (sampler.lastNetError) errLine(`nodetop: ${sampler.lastNetError}; sockets and httpPools are null`);
    } finally {
      await sampler.close();
    }
  } finally {
    await att.detach();
  }
}
