// Viewer input to QEMU over QMP: against a QMP server the test owns, speaking
// QEMU's greeting/capabilities handshake and recording input-send-event.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { QmpInput } from '#daemon/input/qmp.js';
import { domCodeToQcode, keysymToQcode } from '#daemon/input/keymap.js';
import { tick } from '../support/daemon.js';
import { FakeQmp } from '../support/fake-qmp.js';

describe('QMP input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-qmp-'));
  const path = join(dir, 'qmp.sock');
  let qemu: FakeQmp;
  let input: QmpInput;
  before(async () => {
    qemu = new FakeQmp(path);
    await qemu.listen();
    input = new QmpInput(path, pino({ level: 'silent' }), (port) => (port === 0 ? { width: 1025, height: 769 } : null));
    input.start();
    for (let i = 0; i < 100 && !input.connected; i++) await tick(10);
  });
  after(() => {
    input.stop();
    qemu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('negotiates capabilities before sending anything', () => {
    assert.equal(input.connected, true);
    assert.equal(qemu.commands[0]!.execute, 'qmp_capabilities');
  });

  it('sends keys as qcodes, from keysyms and from DOM codes', async () => {
    input.key({ keysym: 0x41, down: true }); // 'A'
    input.key({ code: 'Enter', down: false });
    input.key({ keysym: 0x12345678, down: true }); // unknown: dropped, counted
    await tick(50);
    const ev = qemu.events();
    assert.deepEqual(ev.slice(-2), [
      [{ type: 'key', data: { down: true, key: { type: 'qcode', data: 'a' } } }],
      [{ type: 'key', data: { down: false, key: { type: 'qcode', data: 'ret' } } }],
    ]);
    assert.equal(input.stats.unknownKeys, 1);
  });

  it("sends a scancode (QEMU Extended Key Event) as QEMU's key number, whatever the keysym", async () => {
    input.key({ keysym: 0x61, scancode: 0x10, down: true }); // 'a' typed on the Q key (AZERTY)
    input.key({ keysym: 0xff52, scancode: 0xc8, down: false }); // Up: 0xE0 0x48 -> 0xC8
    input.key({ keysym: 0x41, scancode: 0, down: true }); // no scancode: the keysym
    await tick(50);
    assert.deepEqual(qemu.events().slice(-3), [
      [{ type: 'key', data: { down: true, key: { type: 'number', data: 0x10 } } }],
      [{ type: 'key', data: { down: false, key: { type: 'number', data: 0xc8 } } }],
      [{ type: 'key', data: { down: true, key: { type: 'qcode', data: 'a' } } }],
    ]);
  });

  it('scales pointer positions to 0..0x7fff and sends button changes only', async () => {
    const before = qemu.events().length;
    input.pointer({ port: 0, x: 512, y: 384, buttons: 0 });
    input.pointer({ port: 0, x: 1024, y: 0, buttons: 1 });
    input.pointer({ port: 0, x: 1024, y: 0, buttons: 1 });
    input.pointer({ port: 0, x: 0, y: 768, buttons: 4 });
    input.pointer({ port: 7, x: 1, y: 1, buttons: 0 }); // no such display: ignored
    await tick(50);
    const ev = qemu.events().slice(before);
    assert.equal(ev.length, 4);
    assert.deepEqual(ev[0], [
      { type: 'abs', data: { axis: 'x', value: 16384 } },
      { type: 'abs', data: { axis: 'y', value: 16384 } },
    ]);
    assert.deepEqual(ev[1]!.slice(2), [{ type: 'btn', data: { down: true, button: 'left' } }]);
    assert.equal((ev[1]![0]!.data as { value: number }).value, 0x7fff);
    assert.equal(ev[2]!.length, 2, 'no button event when nothing changed');
    assert.deepEqual(ev[3]!.slice(2), [
      { type: 'btn', data: { down: false, button: 'left' } },
      { type: 'btn', data: { down: true, button: 'right' } },
    ]);
  });

  it('drops events while QEMU is away and reconnects by itself', async () => {
    qemu.sockets.forEach((s) => s.destroy());
    for (let i = 0; i < 50 && input.connected; i++) await tick(10);
    assert.equal(input.connected, false);
    const dropped = input.stats.dropped;
    input.key({ code: 'KeyQ', down: true });
    assert.equal(input.stats.dropped, dropped + 1);
    for (let i = 0; i < 300 && !input.connected; i++) await tick(10);
    assert.equal(input.connected, true, 'reconnected');
    input.key({ code: 'KeyQ', down: true });
    await tick(50);
    assert.deepEqual(qemu.events().at(-1), [{ type: 'key', data: { down: true, key: { type: 'qcode', data: 'q' } } }]);
  });

  it('maps the keys a console needs', () => {
    const want: [number, string][] = [
      [0xff1b, 'esc'],
      [0xffbe, 'f1'],
      [0xffc9, 'f12'],
      [0x21, '1'],
      [0x7c, 'backslash'],
      [0x20, 'spc'],
      [0xffe3, 'ctrl'],
    ];
    for (const [ks, q] of want) assert.equal(keysymToQcode(ks), q, `keysym 0x${ks.toString(16)}`);
    const codes: [string, string][] = [
      ['KeyZ', 'z'],
      ['Digit0', '0'],
      ['F11', 'f11'],
      ['ArrowUp', 'up'],
      ['Quote', 'apostrophe'],
      ['MetaLeft', 'meta_l'],
    ];
    for (const [c, q] of codes) assert.equal(domCodeToQcode(c), q, c);
    assert.equal(domCodeToQcode('Unidentified'), null);
  });
});
