// The whole input path in a real browser: Chromium clicks and types on the
// daemon's web viewer (--web), and QEMU — here a QMP socket the test owns —
// receives input-send-event with the position scaled to the display.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { VfioUserClient } from 'vfio-user-ts';
import { browserSkipBanner, ensureChromium, launchChromium } from '../support/chromium.js';
import { startDaemon, tick, type RunningDaemon } from '../support/daemon.js';
import { presentFrame } from '../support/soft-ring.js';

const skipReason = ensureChromium();
const skip = skipReason ? browserSkipBanner('WEB INPUT BROWSER TEST', skipReason) : false;

type QmpEvent = { type: string; data: Record<string, any> };

describe('browser input reaches QEMU over QMP', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-webqmp-'));
  const events: QmpEvent[][] = [];
  const sockets: Socket[] = [];
  const qmp = createServer((s) => {
    sockets.push(s);
    s.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
    let buf = '';
    s.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'input-send-event') events.push(cmd.arguments.events);
        s.write('{"return": {}}\r\n');
      }
    });
  });
  let d: RunningDaemon;
  let vmm: VfioUserClient;
  let browser: Browser;

  before(async () => {
    await new Promise<void>((r) => qmp.listen(join(dir, 'qmp.sock'), r));
    d = await startDaemon(['--display', '200x100@60', '--web', '127.0.0.1:0', '--qmp', join(dir, 'qmp.sock')]);
    await d.waitForLog((l) => l.msg === 'qmp_connected');
    vmm = await d.connectNegotiated();
    await presentFrame(vmm, { ramGpa: 0x40000000n, name: 'webqmp-ram', port: 0, width: 200, pixels: Buffer.alloc(200 * 100 * 4, 0x80) });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    vmm?.close();
    await d?.stop();
    sockets.forEach((s) => s.destroy());
    qmp.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a click and a key press in the page become QMP input events', async () => {
    const url = /browser viewer at (\S+)/.exec(d.stderrText())![1]!;
    const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
    await page.goto(url);
    await page.waitForFunction(() => (document.getElementById('canvas') as HTMLCanvasElement | null)?.width === 200, null, {
      timeout: 10000,
    });
    const box = (await page.locator('#canvas').boundingBox())!;
    // Click at display pixel (150, 25): 3/4 across, 1/4 down.
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height * 0.25);
    await page.keyboard.press('KeyG');
    // The key's down and up travel as two messages: wait for both (and the click's two).
    const keyEvents = (): number => events.flat().filter((x) => x.type === 'key').length;
    for (let i = 0; i < 300 && keyEvents() < 2; i++) await tick(10);
    const press = events.find((e) => e.some((x) => x.type === 'btn' && x.data.down));
    assert.ok(press, `a button press arrived (${JSON.stringify(events)})`);
    const x = press!.find((e) => e.type === 'abs' && e.data.axis === 'x')!.data.value as number;
    const y = press!.find((e) => e.type === 'abs' && e.data.axis === 'y')!.data.value as number;
    assert.ok(Math.abs(x - (150 * 0x7fff) / 199) < 0x7fff * 0.02, `x ${x}`);
    assert.ok(Math.abs(y - (25 * 0x7fff) / 99) < 0x7fff * 0.03, `y ${y}`);
    assert.deepEqual(press!.find((e) => e.type === 'btn')!.data, { down: true, button: 'left' });
    assert.ok(
      events.some((e) => e.some((x) => x.type === 'btn' && !x.data.down && x.data.button === 'left')),
      'and its release',
    );
    const keys = events
      .flat()
      .filter((e) => e.type === 'key')
      .map((e) => [e.data.key.data, e.data.down]);
    assert.deepEqual(keys, [
      ['g', true],
      ['g', false],
    ]);
    await page.close();
  });
});
