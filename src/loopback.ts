// Which hosts count as this machine: nodetop talks only to these unless told --allow-remote.
// A module of its own so that the CLI's start-up (listen.ts checks --listen) does not load the
// inspector client with it: `nodetop --version` and usage errors answer 40 ms sooner.

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', 'ip6-localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * A listening address as /proc/<pid>/net/tcp{,6} gives it (src/platform/proc.ts), reachable
 * from this host only: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. The wildcards (0.0.0.0, ::)
 * and any other address are reachable from wherever that interface is.
 */
export function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

/**
 * Where an inspector listening on `port` can be reached from off this host: "0.0.0.0:9229"
 * (every IPv4 interface), "[::]:9229", "10.0.0.5:9229". Empty when it listens on loopback only.
 */
export function exposedAddresses(sockets: ReadonlyArray<{ address: string; port: number }>, port: number): string[] {
  const out = sockets
    .filter((s) => s.port === port && !isLoopbackAddress(s.address))
    .map((s) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`));
  return [...new Set(out)].sort();
}

/** The one sentence every output gives for an exposed inspector (the addresses are the kernel's). */
export function exposedWarning(pid: number, addresses: readonly string[]): string {
  return `WARNING: the inspector of pid ${pid} listens on ${addresses.join(', ')} (not only loopback): anyone who can reach it can run code in that process`;
}
