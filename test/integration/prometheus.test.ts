// The exporter against the real thing: `promtool check metrics` on a scrape, and a Prometheus
// server (Debian's `prometheus` package; .ci/run installs it) started on loopback, scraping the
// exporter every second, queried through its HTTP API for a metric of a known target.
// Skipped, saying why, only when the binaries are absent.

import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, startTarget, sinkServer } from '../helpers/target';
import { metricValue, startExporter } from '../helpers/exporter';

function which(bin: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const promtool = which('promtool');
const prometheus = which('prometheus');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function getJson(port: number, p: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: p, timeout: 3000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) });
          } catch {
            resolve({ status: res.statusCode ?? 0, json: null });
          }
        });
      })
      .on('error', () => resolve({ status: 0, json: null }));
  });
}

describe('nodetop export with Prometheus', () => {
  const sink = sinkServer(before, after);

  it('promtool check metrics accepts a scrape', { skip: promtool ? false : 'promtool is not installed (apt-get install prometheus; .ci/run does)' }, async () => {
    const t = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    try {
      ex = await startExporter([String(t.pid), '--interval', '200ms']);
      const e = ex;
      const m = await eventually(() => e.scrape(), (r) => metricValue(r.body, 'nodejs_gc_duration_seconds_count', { pid: String(t.pid) }) !== null, 10_000);
      assert.ok(m.body.includes('# TYPE nodejs_gc_duration_seconds histogram'));
      const r = spawnSync(promtool!, ['check', 'metrics'], { input: m.body, encoding: 'utf8' });
      // prom-client's *_total gauges are kept on purpose (dashboards use them; docs/metrics.md):
      // promtool's lint of those names is its only complaint allowed
      const complaints = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
      const allowed = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
      assert.deepEqual(complaints.filter((l) => !allowed.test(l)), [], `promtool: ${r.stdout}${r.stderr}\n${m.body}`);
      assert.ok(r.status === 0 || complaints.length > 0, `promtool exit ${r.status}`);
    } finally {
      await ex?.stop();
      await t.kill();
    }
  });

  it('a real Prometheus scrapes the exporter and answers a query for the fixture’s handles', { skip: prometheus ? false : 'prometheus is not installed (apt-get install prometheus; .ci/run does)' }, async () => {
    const t = await startTarget('handles.js', { args: [String(sink.port)], nodeArgs: ['--inspect-port=0'] });
    let ex: Awaited<ReturnType<typeof startExporter>> | null = null;
    let prom: ChildProcess | null = null;
    let promLog = '';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodetop-prom-'));
    try {
      ex = await startExporter([String(t.pid), '--interval', '500ms']);
      const webPort = await freePort();
      fs.writeFileSync(
        path.join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: nodetop',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${ex.port}']`,
          '',
        ].join('\n'),
      );
      execFileSync(promtool ?? 'promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], { stdio: 'ignore' });
      prom = spawn(
        prometheus!,
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${webPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
      process.on('exit', () => prom?.kill('SIGKILL'));

      const q = encodeURIComponent(`nodejs_active_resources{pid="${t.pid}",type="Timeout"}`);
      type Answer = { status?: string; data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };
      const a = await eventually(
        () => getJson(webPort, `/api/v1/query?query=${q}`),
        (r) => ((r.json as Answer | null)?.data?.result?.length ?? 0) > 0,
        30_000,
      );
      const ans = a.json as Answer | null;
      assert.equal(ans?.status, 'success', `prometheus answered ${JSON.stringify(a.json)}; log: ${promLog}`);
      const res = ans!.data!.result!;
      assert.equal(res.length, 1, JSON.stringify(res));
      assert.equal(res[0]!.metric.job, 'nodetop');
      assert.equal(res[0]!.metric.pid, String(t.pid));
      assert.equal(res[0]!.metric.thread, 'main');
      assert.equal(res[0]!.value[1], '3');

      // and Prometheus saw the exporter as a healthy target
      const up = await getJson(webPort, `/api/v1/query?query=${encodeURIComponent('up{job="nodetop"}')}`);
      assert.equal((up.json as Answer).data?.result?.[0]?.value[1], '1');
    } finally {
      if (prom && prom.exitCode === null) {
        const done = new Promise((r) => prom!.on('exit', r));
        prom.kill('SIGTERM');
        const guard = setTimeout(() => prom!.kill('SIGKILL'), 10_000);
        await done;
        clearTimeout(guard);
      }
      await ex?.stop();
      await t.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
