// The demo service that `nodetop demo` starts and attaches to: a small, realistic mess.
// An HTTPS API with a keep-alive client pool calling it (more TLS connections than you would
// guess, and too few for its callers: requests queue), an HTTP server, two worker threads (one
// holding memory, one busy), a slow leak that a forced GC does not give back, garbage that it
// does, and a loop that blocks now and then.
//
// Plain JavaScript at run time (compiled from this file), started as its own process; it prints
// one JSON ready line. The TLS key below is a throwaway self-signed key for localhost, made for
// this demo and used for nothing else.

import * as http from 'node:http';
import * as https from 'node:https';
import { Worker } from 'node:worker_threads';

const KEY = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC9ZnH53kGdjvAv
z0HetlZqjMsWXtHBrRuAu71GQmCPcZ/PQylfJXf2GCc5W7wPmItrZBg7vLtyBvtG
KGajkcHle/1wiFDoCpEdbhBOTpDbW1DX5E2jOBQC3PUwkpeLpaRmEgFYInf31vZq
LoOnVjQ4iEwZga3gVDZorYUMzWHQubcKqNos4UTO60AGh19fVvS00Z0mn9xuwyOg
uJedty/dqQA9nuvjbGK28/mrTvK7Zj8tTc49Ap7m4WShYmio6EUlWNONl61c+vdo
RcNciqwLK0ZBl+ggxINgoJ1iE0mIqGpOo42ZwWRUgGzA/GXKVP7c8gv2V6ZcXyEa
GiM/44ppAgMBAAECggEAAmV5zvQUf18OqS4y7/OoPYDNSi8g3IsECxw6VCRKHDqE
mlQyrBm5Y4zb7zD60iAyGxBecaAM/O+mGCscnFh0vCJ2MGlbIQp5hPuukLe+rmCA
sftD+QsVjrviDXn8rqIbMHBCdy2NeB5un6U5xMvgN9sP9RkpJz/YMI7J0oxaiYVl
yXtJjNEjQkcLqyM6/ebofjA1q3jB/A+X+EbwvC2evf88iu3jK3KvyImieTUVo0fU
PCmYFcofLAgd0YIQKAu6Isvo0CWQduKmyakZDR1pqwx9dM4Dhl4nOGcpPJm7Sgnl
ewOKNKfV2yiXmVA+gIX8Jum578xcOPEfOeIAEFmjMQKBgQDhi+c4XaaCfeanYtB4
a1BRyDeDgVUHKLzuP8+tpIiuRAsw0WDnZ0Hee3+2IJuYcqYDR0QIkPX8vEwms60b
7x3zc/JLfQF2/xyluMCFC2Tu7hkxo5C5grbwHFKPqlQ9TcsMJim4+neDFA+lIj1S
PmKDpCnzGyYfoGxP+krCkd6pOQKBgQDW+SGcbQ9vvrcl2hGnbht7d58Ys7wfxYfT
hqDL4yBoEW9v8uu5SIl7YIoq0KyIATagXdN2Y/zMGyJ62d7TBwi3VZ33QQFBWtxz
rZMl4zMof58xiKu1q8z/heURj3ePTfYf3H8qYB2CbC4eLuTMU/Sjxh0iQIGSEFf5
9wbS3YbasQKBgCiSbxRvnD1LAovHtbKDs14SwxGv2SjBhkLhTa1xtHiMmuq8L09Q
/sNTueR8NyEUNpLOZgmYcfd1s8kedxxYRi3+BG7Z3MKYH4IcGt2T8CMex39raeRF
BD1rCtr3C9I/RTA5STYSMB9vI2VUJG2/9R6zECzADHqR9Anq/znC3afZAoGAIov+
3siYBnk7rZWR6LpFKF5c7vdTcDeqUE/+X0Ws24yRwAfl4ezKS02EZsUKNQEc6kCp
zwjag2KI8/03Vep3eB8GN8n2ja4wZ1apoxkUC5oW1zsDfTqSwy2dVmkb6ae5uf0R
Ypn3pBIGh0s58aw8UGVyISMEr5h4yu7r5c878MECgYBOD0N5xMl2Q0HqoliQdZJu
RR8xz9BEThT8AnK8TxndqFIOJ2AEssUwx3NhUF8z38K/sfFfYP7HnyEclZTOJOVZ
YgW/5XC12deg6NfggNZNeV2FLJh36yq+P9GIOOIiTaZnPZ5a8DYB22vOF3IApaKk
L9cSJ+g33KEKm2szzd09BQ==
-----END PRIVATE KEY-----`;
const CERT = `-----BEGIN CERTIFICATE-----
MIIDCzCCAfOgAwIBAgIUCcZXJIoAiPeEtjta7Qpw/GnysDQwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNDAyNTkyOVoYDzIxMjYx
MDMxMDI1OTI5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQC9ZnH53kGdjvAvz0HetlZqjMsWXtHBrRuAu71GQmCP
cZ/PQylfJXf2GCc5W7wPmItrZBg7vLtyBvtGKGajkcHle/1wiFDoCpEdbhBOTpDb
W1DX5E2jOBQC3PUwkpeLpaRmEgFYInf31vZqLoOnVjQ4iEwZga3gVDZorYUMzWHQ
ubcKqNos4UTO60AGh19fVvS00Z0mn9xuwyOguJedty/dqQA9nuvjbGK28/mrTvK7
Zj8tTc49Ap7m4WShYmio6EUlWNONl61c+vdoRcNciqwLK0ZBl+ggxINgoJ1iE0mI
qGpOo42ZwWRUgGzA/GXKVP7c8gv2V6ZcXyEaGiM/44ppAgMBAAGjUzBRMB0GA1Ud
DgQWBBQQWouLKeWTY4FmYGpw0ZoRHciqPzAfBgNVHSMEGDAWgBQQWouLKeWTY4Fm
YGpw0ZoRHciqPzAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQAv
xcN1sBU+/zd2UNiVsJ3KYJSI0ZuXd8FI0BWqjI54xneOyeOju798/Qwzw/W7+xv+
rYRRjrd0tgRFvRzGKQ0OAOaxrGlhDuZBKCD0zSicRDR2QlHTholR7i0l8143dVOT
8csSxtGfii2e7s1gewK5VMxRzYq85DSx2K+mF9siHryZtuxpnJIfcO7QDjDlM5Cp
mrmFJEL593NJZGN2jDcKWS3vW5tx7HA4oOzdi6g0WXYHrCaWIAJ1VlUGwwhjjn0z
Bcl7nv4YPJKy6IvY32hLwulVbQnMKcxNsBTUyP2EVUnBnTmdj0NrIzbTqDmuNWO5
d9vYQJ5uz6dMZ/mq0LAg
-----END CERTIFICATE-----`;

class Session {
  constructor(
    readonly id: number,
    readonly payload: number[],
  ) {}
}

// The slow leak: sessions that are never evicted, on the heap (2 KiB each, ~100 KiB a second:
// the heap chart climbs by ~6 MiB a minute until 20,000 are held).
const sessions: Session[] = [];
let nextSession = 0;

function computeReportSynchronously(ms: number): number {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (sessions.length < 20_000) sessions.push(new Session(nextSession, new Array<number>(256).fill(nextSession++)));
  // garbage: parsed and dropped
  const garbage = JSON.parse(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, s: `item-${i}` })) }));
  // the orders API is slow (150-250 ms): what keeps its callers' pool full
  const ms = req.url === '/orders' ? 150 + Math.random() * 100 : 5 + Math.random() * 25;
  setTimeout(() => res.end(JSON.stringify({ ok: true, n: garbage.items.length })), ms);
}

const WORKER_HOLD = `
const { parentPort } = require('worker_threads');
const held = [];
for (let i = 0; i < 40; i++) held.push(new Array(100000).fill(i));
setInterval(() => { held.push(new Array(5000).fill(1)); if (held.length > 400) held.splice(40, 100); }, 500);
`;
const WORKER_BUSY = `
setInterval(() => { const end = Date.now() + 150; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); }, 1000);
`;

async function main(): Promise<void> {
  const api = https.createServer({ key: KEY, cert: CERT }, handler);
  const plain = http.createServer(handler);
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const apiPort = (api.address() as { port: number }).port;
  const plainPort = (plain.address() as { port: number }).port;

  const pool = new https.Agent({ keepAlive: true, maxSockets: 6, rejectUnauthorized: false });
  // 9 callers, each calling again as soon as its call returns, on a pool of 6: at every moment 6
  // sockets are in use and 3 requests queue, on a fast machine as on a slow one (bursts on a
  // timer queued only while a burst lasted, which a fast machine made too short for a sample
  // to see). About 40 calls a second.
  const call = (): void => {
    let again = false;
    const next = (): void => {
      if (again) return;
      again = true;
      setTimeout(call, 1); // never a call within a call's own callback
    };
    const req = https.get({ host: '127.0.0.1', port: apiPort, path: '/orders', agent: pool }, (res) => {
      res.resume();
      res.on('close', next);
    });
    req.on('error', () => setTimeout(next, 1000)); // refused while the loop was blocked: try again later
  };
  for (let i = 0; i < 9; i++) call();
  const callPlain = (): void => {
    const req = http.get({ host: '127.0.0.1', port: plainPort, path: '/health' }, (res) => res.resume());
    req.on('error', () => undefined);
  };
  setInterval(callPlain, 250);

  new Worker(WORKER_HOLD, { eval: true, name: 'cache-builder' }).unref();
  new Worker(WORKER_BUSY, { eval: true, name: 'image-resizer' }).unref();

  // The loop blocks for 2.5 s, 3 s after nodetop's instruments appear (the demo looks for them
  // every 100 ms) and then every 15 s: more than the blocked banner needs (750 ms) plus an
  // interval, so that a sample lands inside it even when the view backs off to 2 s on a busy
  // machine. Counted from the attach, not from the start: an attach that took long on a loaded
  // machine does not miss the first block, and a fast one does not wait for it.
  const block = (): number => computeReportSynchronously(2500);
  const look = setInterval(() => {
    if (!(globalThis as Record<symbol, unknown>)[Symbol.for('nodetop')]) return;
    clearInterval(look);
    setTimeout(() => {
      block();
      setInterval(block, 15_000);
    }, 3000);
  }, 100);

  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, apiPort, plainPort })}\n`);
}

void main();
