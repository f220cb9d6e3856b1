// `nodetop demo`: starts the bundled demo service, attaches the live view to it the way a user
// would (by pid, through SIGUSR1), and stops the service on the way out.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { ExitCode, NodetopError } from '../errors';
import { onExit } from '../lifecycle';
import { attachCommand } from './attach';

export async function demoCommand(opts: { intervalMs: number; readonly: boolean; timeoutMs: number }): Promise<number> {
  const service = path.join(__dirname, '..', 'demo', 'service.js');
  // --inspect-port=0: SIGUSR1 opens the inspector on a free port, so the demo never fights
  // another process for 9229 (this is how we recommend running services, see Security).
  const child = spawn(process.execPath, ['--inspect-port=0', service], { stdio: ['ignore', 'pipe', 'ignore'] });
  const stopService = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  const unregister = onExit(stopService);
  try {
    const pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new NodetopError('the demo service did not start within 10 s', { exitCode: ExitCode.Bug })), 10_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new NodetopError(`the demo service exited (code ${code}) before it was ready`, { exitCode: ExitCode.Bug }));
      });
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { ready?: boolean; pid?: number };
          if (msg.ready && msg.pid) {
            clearTimeout(timer);
            resolve(msg.pid);
          }
        } catch {
          /* not the ready line */
        }
      });
    });
    return await attachCommand({ pids: [pid], intervalMs: opts.intervalMs, readonly: opts.readonly, timeoutMs: opts.timeoutMs });
  } finally {
    stopService();
    unregister();
  }
}
