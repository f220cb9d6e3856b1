// `nodetop` with no arguments, in a terminal: the host overview for the Node processes whose
// inspector is already open (never signalling anything: nobody named them), with the others
// listed and how to attach to them.

import type { Output } from '../cli';
import { attach, type Attachment } from '../inspector/attach';
import { listNodeProcesses } from '../platform/ps';
import { containerLabel } from '../platform/cgroup';
import { runTui } from '../tui/app';
import type { ProcessRow } from '../tui/views/processes';
import { actionsFor } from './attach';
import { renderPs } from './ps';

export async function topCommand(opts: { intervalMs: number; timeoutMs: number }, out: Output): Promise<number> {
  const list = await listNodeProcesses({ cpuWindowMs: 0, uid: process.getuid?.() ?? 0 });
  const open = list.filter((p) => p.inspector.state === 'likely');
  const attached: Attachment[] = [];
  // on a host running containers, which one each pid is in is what makes the pid to pick obvious
  const where = new Map(list.filter((p) => p.container || p.sharesNetwork === false).map((p) => [p.pid, containerLabel(p.container, p.sharesNetwork)]));
  try {
    const got = await Promise.allSettled(open.map((p) => attach({ pid: p.pid, timeoutMs: opts.timeoutMs, noSignal: true })));
    for (const g of got) if (g.status === 'fulfilled') attached.push(g.value);
    const others: ProcessRow[] = list
      .filter((p) => !attached.some((a) => a.pid === p.pid))
      .map((p) => ({ pid: p.pid, title: p.argv.slice(1).join(' '), sample: null, note: `no inspector open: nodetop attach ${p.pid}`, where: where.get(p.pid) ?? null }));
    if (attached.length === 0) {
      out.write(renderPs(list, 0));
      out.write(
        list.length === 0
          ? 'No Node process of yours is running.'
          : 'None of these has an inspector open. nodetop attach <pid> opens one (SIGUSR1, only after checking it is Node) and closes it again on exit.',
      );
      return 0;
    }
    return await runTui(attached, { intervalMs: opts.intervalMs, readonly: false, actions: actionsFor, title: 'this host', overview: true, extraRows: others, where });
  } finally {
    await Promise.all(attached.map((a) => a.detach()));
  }
}
