// Which hosts count as this machine: nodetop talks only to these unless told --allow-remote.
// A module of its own so that the CLI's start-up (listen.ts checks --listen) does not load the
// inspector client with it: `nodetop --version` and usage errors answer 40 ms sooner.

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', 'ip6-localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}
