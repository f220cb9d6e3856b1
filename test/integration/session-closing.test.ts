// A call on a connection that is already closing (the target hung up, its close event not yet
// here) is a closed connection, not a protocol error: attach retries on the first and gave up on
// the second (exit 7). CI's sessions test lost that race: a nodetop attaching as another's
// scheduled close ran failed with "WebSocket is not open: readyState 2 (CLOSING)".

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConnectionClosedError } from '../../src/inspector/session';
import { attachTo } from '../helpers/harm';
import { startTarget } from '../helpers/target';

describe('a connection that is closing', () => {
  it('a call on it fails as a closed connection', async () => {
    const t = await startTarget('idle.js', { nodeArgs: ['--inspect-port=0'] });
    try {
      const att = await attachTo(t.pid);
      try {
        // the WebSocket's own close: readyState 2 at once, the close event later
        (att.session as unknown as { client: { _ws: { close(): void; readyState: number } } }).client._ws.close();
        await assert.rejects(att.session.send('Runtime.getIsolateId'), (e: unknown) => e instanceof ConnectionClosedError);
      } finally {
        await att.detach();
      }
      assert.ok(t.alive());
    } finally {
      await t.kill();
    }
  });
});
