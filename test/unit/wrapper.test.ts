// The wrapper classifier on command lines as /proc shows them (the titles measured on this
// machine: npm 11.19 writes "npm start" over its argv; the rest as each tool's package lays out
// its main script). An app with a look-alike name is not a wrapper.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { classifyWrapper, mainScript } from '../../src/model/wrapper';

const kind = (argv: string[]): string | null => classifyWrapper(argv)?.kind ?? null;

describe('classifyWrapper', () => {
  it('knows the titles the tools set (one string over argv, the rest of it blank)', () => {
    assert.equal(kind(['npm start', '', '', '']), 'npm');
    assert.equal(kind(['npm exec nodemon', '', '']), 'npm');
    assert.equal(kind(['npm', '', '']), 'npm');
    assert.equal(kind(['pnpm', '', '']), 'pnpm');
    assert.equal(kind(['PM2 v5.3.1: God Daemon (/root/.pm2)']), 'pm2');
  });

  it('knows their main scripts, behind node options too', () => {
    assert.equal(kind(['node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'start']), 'npm');
    assert.equal(kind(['/usr/bin/node', '/usr/bin/npm', 'run', 'dev']), 'npm');
    assert.equal(kind(['node', '/usr/lib/node_modules/npm/bin/npx-cli.js', 'serve']), 'npx');
    assert.equal(kind(['node', '/usr/local/lib/node_modules/yarn/bin/yarn.js', 'start']), 'yarn');
    assert.equal(kind(['node', '/app/.yarn/releases/yarn-4.1.0.cjs', 'start']), 'yarn');
    assert.equal(kind(['node', '/usr/lib/node_modules/pnpm/bin/pnpm.cjs', 'start']), 'pnpm');
    assert.equal(kind(['node', '/usr/lib/node_modules/corepack/dist/pnpm.js', 'dev']), 'pnpm');
    assert.equal(kind(['node', '/app/node_modules/.bin/nodemon', 'server.js']), 'nodemon');
    assert.equal(kind(['node', '--max-old-space-size=200', '/app/node_modules/nodemon/bin/nodemon.js', 'server.js']), 'nodemon');
    assert.equal(kind(['node', '-r', 'dotenv/config', '/app/node_modules/nodemon/bin/nodemon.js']), 'nodemon');
    assert.equal(kind(['node', '/usr/lib/node_modules/pm2/lib/Daemon.js']), 'pm2');
    assert.equal(kind(['node', '/usr/lib/node_modules/pm2/bin/pm2-runtime', 'app.js']), 'pm2');
  });

  it('leaves apps alone, look-alike names included', () => {
    assert.equal(kind(['node', 'server.js']), null);
    assert.equal(kind(['node', '/srv/app/yarn.js']), null);
    assert.equal(kind(['node', '/srv/app/lib/Daemon.js']), null);
    assert.equal(kind(['node', '/srv/npm/index.js']), null);
    // a name in argv[0] without spaces is not a title when a script follows (exec -a npm node app.js)
    assert.equal(kind(['npm', 'app.js']), null);
    assert.equal(kind(['node', '-e', 'require("/usr/lib/node_modules/npm/bin/npm-cli.js")']), null);
    assert.equal(kind(['npmx start']), null);
    assert.equal(kind(['node', 'nodemon.js']), null);
  });

  it('mainScript skips options and their values', () => {
    assert.equal(mainScript(['node', '--inspect=0', '-r', 'x', 'a.js', 'b']), 'a.js');
    assert.equal(mainScript(['node', '--', 'a.js']), 'a.js');
    assert.equal(mainScript(['node', '-p', '1']), null);
    assert.equal(mainScript(['node']), null);
  });
});
