// Shared by the do-no-harm suite (test/harm): attach in-process through the library (much faster
// than spawning the CLI a hundred times, and the same code path: attach() + Sampler + detach()),
// and read what the target says about itself.

import { attach, type Attachment, type AttachOptions } from '../../src/inspector/attach';
import type { Sample } from '../../src/model/sample';
import { listeningSockets } from '../../src/platform/proc';
import { Sampler } from '../../src/sampler';
import { eventually, type Target } from './target';

/** Attach, take one measured sample over `windowMs`, detach: what `nodetop stats` does. */
export async function cycle(pid: number, windowMs = 10, opts: Partial<AttachOptions> = {}): Promise<Sample> {
  const att = await attach({ pid, timeoutMs: 3000, ...opts });
  try {
    const s = new Sampler(att);
    await s.baseline();
    await new Promise((r) => setTimeout(r, windowMs));
    return await s.sample();
  } finally {
    await att.detach();
  }
}

export async function attachTo(pid: number, opts: Partial<AttachOptions> = {}): Promise<Attachment> {
  return attach({ pid, timeoutMs: 3000, ...opts });
}

export function ports(pid: number): number[] {
  return listeningSockets(pid)
    .map((s) => s.port)
    .sort((a, b) => a - b);
}

/** Waits (bounded) until the target's listening ports are `expected` again; returns what they are. */
export function portsSettle(pid: number, expected: number[], boundMs = 5000): Promise<number[]> {
  return eventually(() => ports(pid), (p) => JSON.stringify(p) === JSON.stringify(expected), boundMs);
}

/** heapUsed after two full GCs in the target (fixture started with --expose-gc). */
export async function heapAfterGc(t: Target): Promise<number> {
  await t.ask('gc');
  return Number((await t.ask('gc')).heapUsed);
}

export const MiB = 1024 * 1024;
