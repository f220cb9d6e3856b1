// Where `nodetop export` serves /metrics. Loopback unless the user says otherwise: the metrics
// name every exported process (pid, title) and its memory, and the endpoint has no
// authentication and no TLS. Exposing that to a network is a decision, not a default.

import { ExitCode, NodetopError } from './errors';
import { isLoopbackHost } from './loopback';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`, `:port` or `port` (host 127.0.0.1). Port 0 picks a free one. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port < 65536)) {
    throw new NodetopError(`--listen ${JSON.stringify(text)} is not host:port`, { exitCode: ExitCode.Usage });
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function checkListen(addr: ListenAddress, allowRemoteListen: boolean): void {
  if (!isLoopbackHost(addr.host) && !allowRemoteListen) {
    throw new NodetopError(`refusing to serve metrics on ${addr.host}: only loopback without --allow-remote-listen`, {
      exitCode: ExitCode.Usage,
      hint: 'the metrics name your processes and their titles, with no authentication; let a local agent scrape 127.0.0.1, or pass --allow-remote-listen if the network is yours',
    });
  }
}

