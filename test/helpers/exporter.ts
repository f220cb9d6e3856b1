// Starts `nodetop export` as a user would and finds the port it serves on from its stderr line
// ("serving http://127.0.0.1:PORT/metrics"), so tests use --listen 127.0.0.1:0 and never race
// for a fixed port. Always stopped (SIGTERM, then SIGKILL as a hang guard).

import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import { NODETOP } from './target';

export interface Exporter {
  port: number;
  child: ChildProcess;
  stderr(): string;
  scrape(path?: string): Promise<{ status: number; type: string; body: string }>;
  stop(): Promise<number | null>;
}

export async function startExporter(args: string[]): Promise<Exporter> {
  const child = spawn(process.execPath, [NODETOP, 'export', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not start: ${err}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`exporter exited: ${err}`));
    });
  });
  process.on('exit', () => child.kill('SIGKILL'));
  return {
    port,
    child,
    stderr: () => err,
    scrape(path = '/metrics') {
      return new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
          })
          .on('error', reject);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(guard);
      return code;
    },
  };
}

/** The value of one series in a /metrics body, matched by name and a subset of labels; null when absent. */
export function metricValue(body: string, name: string, labels: Record<string, string>): number | null {
  for (const line of body.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 1, close);
    const got: Record<string, string> = {};
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return null;
}
