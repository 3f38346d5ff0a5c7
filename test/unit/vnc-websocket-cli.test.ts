// --vnc-websocket and --vnc-websocket-origin on the command line (cli.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '#daemon/cli.js';

const base = ['--socket-path', '/tmp/x.sock'];

describe('--vnc-websocket flags', () => {
  it('parses [HOST:]PORT like --vnc, origins repeatable', () => {
    const c = parseArgs(
      [
        ...base,
        '--vnc',
        '5900',
        '--vnc-websocket',
        '0.0.0.0:5700',
        '--vnc-websocket-origin',
        'https://a.example',
        '--vnc-websocket-origin',
        '*',
      ],
      {},
    );
    assert.deepEqual(c.vncWebsocket, { host: '0.0.0.0', port: 5700 });
    assert.deepEqual(c.vncWebsocketOrigins, ['https://a.example', '*']);
    assert.deepEqual(parseArgs([...base, '--vnc', '5900', '--vnc-websocket', '5700'], {}).vncWebsocket, { host: '127.0.0.1', port: 5700 });
  });
  it('refuses what makes no sense', () => {
    assert.throws(() => parseArgs([...base, '--vnc-websocket', '5700'], {}), /needs --vnc/);
    assert.throws(
      () => parseArgs([...base, '--vnc', '5900', '--vnc-websocket', '70000'], {}),
      /--vnc-websocket port 70000 is out of range/,
    );
    assert.throws(
      () => parseArgs([...base, '--vnc', '5900', '--vnc-websocket', '5700', '--vnc-websocket-origin', 'https://a.example/path'], {}),
      /not an origin/,
    );
    assert.throws(() => parseArgs([...base, '--vnc', '5900', '--vnc-websocket-origin', '*'], {}), /needs --vnc-websocket/);
  });
});
