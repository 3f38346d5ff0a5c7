// RFB over WebSocket on the VNC server (--vnc-websocket, viewers/vnc/websocket.ts):
// an RFB client runs over a WebSocket of our own (test/support/ws-client.ts)
// through VNC Authentication and gets exact frames; the subprotocol, Origin
// and HTTP rules; one client cap for both ports; the handshake timeout and
// the message bound; hot-plug. noVNC itself over this port: vnc-novnc.test.ts.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { NullInput } from '#daemon/input/input-sink.js';
import { VncServer } from '#daemon/viewers/vnc/index.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { WS_MAX_FRAME } from '#daemon/viewers/vnc/websocket.js';
import { RfbClient } from '../support/rfb-client.js';
import { SoftGuest, pattern } from '../support/soft-guest.js';
import { openWebSocket, type WsClient } from '../support/ws-client.js';

const W = 640;
const H = 480; // a Raw frame is 1.2 MB: more than one WebSocket message
const PASSWORD = 'ws-pass';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Line {
  msg: string;
  [k: string]: unknown;
}

describe('RFB over WebSocket', () => {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  let guest: SoftGuest;
  let open: VncServer;
  let locked: VncServer;
  let frame = pattern(W, H, 5);
  const sockets: { destroy(): void }[] = [];
  const wsPort = (s: VncServer, display = 0): number => s.websocketAddress(display)!.port;
  const rfbOverWs = async (
    s: VncServer,
    opts: { password?: string; headers?: Record<string, string | null> } = {},
  ): Promise<{ c: RfbClient; ws: WsClient }> => {
    const h = await openWebSocket(wsPort(s), '/websockify', opts.headers ?? {});
    assert.equal(h.status, 101);
    sockets.push(h.ws!);
    const c = await RfbClient.over(h.ws!, opts.password !== undefined ? { password: opts.password } : {});
    return { c, ws: h.ws! };
  };

  before(async () => {
    guest = new SoftGuest(log, W * H * 4, 1);
    await guest.attachMode(0, W, H);
    const common = {
      listen: { host: '127.0.0.1', port: 0 },
      websocket: { host: '127.0.0.1', port: 0 },
      displays: guest.displays,
      input: new NullInput(),
      log,
    };
    open = new VncServer({
      ...common,
      maxClientsPerDisplay: 2,
      handshakeTimeoutMs: 600,
      websocketOrigins: ['https://console.example.org'],
    });
    locked = new VncServer({ ...common, password: PASSWORD });
    await open.start();
    await locked.start();
    await guest.present(0, frame, W);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await open.stop();
    await locked.stop();
    guest.destroy();
  });

  it('VNC Authentication, then exact Raw and ZRLE frames; big updates split into messages of at most 1 MiB', async () => {
    const { c, ws } = await rfbOverWs(locked, { password: PASSWORD, headers: { 'Sec-WebSocket-Protocol': 'binary' } });
    assert.deepEqual([c.width, c.height], [W, H]);
    c.setEncodings([Encoding.RAW]);
    c.requestUpdate(false);
    assert.ok(await c.nextUpdate(5000));
    for (let i = 0; i < W * H; i++) assert.equal(c.pixel(i % W, Math.floor(i / W)), frame.readUInt32LE(i * 4) & 0xffffff, `pixel ${i}`);
    const sizes = ws.messages.filter((m) => m.op === 2).map((m) => m.data.length);
    assert.ok(Math.max(...sizes) <= WS_MAX_FRAME, `message sizes ${sizes.join(',')}`);
    assert.ok(sizes.reduce((a, b) => a + b, 0) > WS_MAX_FRAME, 'the full Raw frame took more than one message');
    frame = pattern(W, H, 6);
    await guest.present(0, frame, W);
    c.setEncodings([Encoding.ZRLE]);
    c.requestUpdate(true);
    assert.ok(await c.nextUpdate(5000));
    for (let i = 0; i < W * H; i += 7) assert.equal(c.pixel(i % W, Math.floor(i / W)), frame.readUInt32LE(i * 4) & 0xffffff, `pixel ${i}`);
    c.close();
  });

  it('a wrong password is refused over WebSocket as over TCP', async () => {
    await assert.rejects(rfbOverWs(locked, { password: 'nope' }), /authentication failed/);
  });

  it('subprotocol: binary is chosen when offered, none when none is offered, base64 alone is refused', async () => {
    const both = await openWebSocket(wsPort(open), '/', { 'Sec-WebSocket-Protocol': 'base64, binary' });
    assert.equal(both.status, 101);
    assert.equal(both.headers['sec-websocket-protocol'], 'binary');
    both.ws!.destroy();
    const none = await openWebSocket(wsPort(open));
    assert.equal(none.status, 101);
    assert.equal(none.headers['sec-websocket-protocol'], undefined);
    none.ws!.destroy();
    const b64 = await openWebSocket(wsPort(open), '/', { 'Sec-WebSocket-Protocol': 'base64' });
    assert.equal(b64.status, 400);
  });

  it("Origin: the daemon's own host name (any port) and listed origins pass, others get 403", async () => {
    for (const [origin, status] of [
      ['http://127.0.0.1:6080', 101],
      ['https://console.example.org', 101],
      ['http://evil.example', 403],
      ['http://127.0.0.1.evil.example', 403],
      ['null', 403],
    ] as const) {
      const h = await openWebSocket(wsPort(open), '/', { Origin: origin });
      assert.equal(h.status, status, origin);
      h.ws?.destroy();
    }
    assert.ok(lines.some((l) => l.msg === 'vnc_websocket_refused'));
  });

  it('plain HTTP gets 426; a bad upgrade gets 400', async () => {
    const r = await new Promise<string>((resolve) => {
      const s = connect(wsPort(open), '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let t = '';
      s.on('data', (d) => (t += d));
      s.on('close', () => resolve(t));
      s.on('end', () => s.end());
    });
    assert.match(r, /^HTTP\/1\.1 426/);
    const bad = await openWebSocket(wsPort(open), '/', { 'Sec-WebSocket-Key': 'short' });
    assert.equal(bad.status, 400);
  });

  it('text messages close the connection (1003)', async () => {
    const h = await openWebSocket(wsPort(open));
    const ws = h.ws!;
    ws.frame(1, Buffer.from('RFB 003.008\n'));
    await new Promise((r) => ws.sock.once('close', r));
    assert.equal(ws.closeCode, 1003);
  });

  it('a client message over 1 MiB closes the connection (1009)', async () => {
    const { c, ws } = await rfbOverWs(open);
    const cut = Buffer.alloc(8 + (1 << 20) + 100);
    cut[0] = 6;
    cut.writeUInt32BE((1 << 20) + 100, 4);
    ws.write(cut);
    await new Promise((r) => ws.sock.once('close', r));
    assert.equal(ws.closeCode, 1009);
    c.close();
  });

  it('the handshake timeout applies: to an upgraded client that sends nothing, and to an HTTP request never finished', async () => {
    const h = await openWebSocket(wsPort(open));
    const started = Date.now();
    await new Promise((r) => h.ws!.sock.once('close', r));
    assert.ok(Date.now() - started < 3000, `closed after ${Date.now() - started} ms`);
    const s = connect(wsPort(open), '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    s.on('error', () => {});
    s.resume();
    const t0 = Date.now();
    await new Promise((r) => s.once('close', r));
    assert.ok(Date.now() - t0 < 4000, `half a request was dropped after ${Date.now() - t0} ms`);
  });

  it('one cap for both ports: with two viewers, a third is refused on either', async () => {
    const tcp = await RfbClient.connect(open.address(0)!.port);
    const { c } = await rfbOverWs(open);
    const third = await openWebSocket(wsPort(open));
    assert.equal(third.status, 503);
    const t = connect(open.address(0)!.port, '127.0.0.1');
    t.on('error', () => {});
    t.resume();
    await new Promise((r) => t.once('close', r));
    assert.ok(lines.some((l) => l.msg === 'vnc_client_refused' && l.via === 'websocket'));
    assert.ok(lines.some((l) => l.msg === 'vnc_client_refused' && l.via === 'tcp'));
    tcp.close();
    c.close();
    await sleep(100);
    const again = await openWebSocket(wsPort(open));
    assert.equal(again.status, 101, 'room again once they left');
    again.ws!.destroy();
  });

  it('follows hot-plug: a display attached later gets its WebSocket port, detaching closes it', async () => {
    await guest.attachMode(1, 64, 48);
    for (let i = 0; i < 50 && !open.websocketAddress(1); i++) await sleep(20);
    const port = wsPort(open, 1);
    const { c } = await (async () => {
      const h = await openWebSocket(port);
      sockets.push(h.ws!);
      return { c: await RfbClient.over(h.ws!) };
    })();
    assert.deepEqual([c.width, c.height], [64, 48]);
    const closed = new Promise((r) => c.socket.once('close', r));
    guest.displays.detach(1);
    await closed;
    for (let i = 0; i < 50 && open.websocketAddress(1); i++) await sleep(20);
    assert.equal(open.websocketAddress(1), null);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => resolve(s.destroy()));
        s.on('error', reject);
      }),
    );
  });
});
