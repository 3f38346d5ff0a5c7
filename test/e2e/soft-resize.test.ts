// Resize from the viewer reaches a real guest (issue 17): a real QEMU 11.1
// arm64 guest runs the demo (test/guest/soft-driver.c), which reads its
// display's mode list from the soft device's display port registers; a VNC
// viewer (our RFB client) asks for another size with SetDesktopSize; the
// daemon puts it first in the mode list (as `ctl display modes`), the device
// tells the guest (DISPLAY_CHANGED), the guest switches to its new preferred
// mode, and the viewer's framebuffer gets the new size. At the end the
// daemon's last frame and the viewer's pixels both equal the checksum the
// guest computed of what it drew. QEMU runs with -name and a QMP socket the
// daemon connects to (--qmp): the viewer is sent the desktop name with the
// VM's name (DesktopName) once QEMU's query-name answers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fnv1a32 } from '#daemon/display/displays.js';
import { Encoding } from '#daemon/viewers/vnc/rfb.js';
import { startDaemon, tick, type LogLine } from '../support/daemon.js';
import { RfbClient } from '../support/rfb-client.js';
import { assertNoErrors, ensureGuestPrograms, guestProgram, loudSkip, runGuest } from '../support/rig.js';

const progs = ensureGuestPrograms('aarch64');
const skip = progs.ok ? false : loudSkip(`aarch64: ${progs.reason}`);
const DEMO_SECONDS = 16;
const WANT = { width: 1024, height: 640 };

describe('resize from a VNC viewer reaches the real arm64 guest', { skip }, () => {
  it('the guest reads the display port registers and gets the change interrupt (MSI-X, vector 0)', async () => {
    const d = await startDaemon(['--display', '640x480@60,320x240@60', '--display', '200x100@30']);
    try {
      const r = await runGuest({
        sockets: [d.socketPath],
        programs: [guestProgram('aarch64', 'soft-driver')],
        test: 'test/guest/soft-e2e.sh',
        append: 'agfx.steps=ports',
        timeoutS: 120,
      });
      const out = `\n${r.output.slice(-3000)}`;
      assert.equal(r.status, 0, out);
      assert.equal(r.results.get('ports_changed_after_reset'), '0x3', `every attached port changed after a reset${out}`);
      assert.equal(r.results.get('port0'), 'attached 640x480@60,320x240@60 current 640x480', out);
      assert.equal(r.results.get('port1'), 'attached 200x100@30 current 200x100', out);
      assert.equal(r.results.get('port2'), 'empty - current 0x0', out);
      assert.equal(r.results.get('ports_irq'), '1', `the interrupt came${out}`);
      assert.equal(r.results.get('ports_changed_cleared'), '0x0', out);
      assertNoErrors(r.qemuStderr, d.logs);
    } finally {
      await d.stop();
    }
  });

  it('SetDesktopSize -> mode list -> the guest switches -> the viewer has the new size and exactly the guest pixels', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agfx-resize-'));
    const qmp = join(dir, 'qmp.sock');
    const d = await startDaemon(['--display', '800x600@60,640x480@60', '--vnc', '127.0.0.1:0', '--qmp', qmp]);
    let viewer: RfbClient | null = null;
    try {
      const vncPort = Number((await d.waitForLog((l) => l.msg === 'vnc_listening' && l.display === 0)).port);
      const run = runGuest({
        sockets: [d.socketPath],
        programs: [guestProgram('aarch64', 'soft-driver')],
        test: 'test/guest/soft-e2e.sh',
        append: `agfx.steps=demo agfx.seed=${DEMO_SECONDS}`, // the demo step takes its seconds from the seed
        timeoutS: 150,
        qmp,
        name: 'agfx-e2e',
      });
      // The guest draws at 800x600 (its preferred mode) first.
      await d.waitForLog((l) => l.msg === 'apple_gfx_new_frame' && l.port === 0 && l.width === 800, 120_000);
      viewer = await RfbClient.connect(vncPort);
      viewer.setEncodings([
        Encoding.ZRLE,
        Encoding.COPY_RECT,
        Encoding.EXTENDED_DESKTOP_SIZE,
        Encoding.DESKTOP_SIZE,
        Encoding.DESKTOP_NAME,
      ]);
      const initialName = viewer.name;
      viewer.requestUpdate(false);
      await viewer.nextUpdate(5000);
      assert.deepEqual([viewer.width, viewer.height], [800, 600]);
      const mark = d.logs.length;
      viewer.setDesktopSize(WANT.width, WANT.height);
      const isSwitch = (l: LogLine): boolean =>
        d.logs.indexOf(l) >= mark &&
        l.msg === 'apple_gfx_mode_change' &&
        l.port === 0 &&
        l.width === WANT.width &&
        l.height === WANT.height;
      await d.waitForLog(isSwitch, 10_000);
      // The viewer keeps asking until the guest is done; it gets the new size on the way.
      const done = run.then((r) => r);
      let finished = false;
      void done.then(() => (finished = true));
      while (!finished) {
        viewer.requestUpdate(true);
        await viewer.nextUpdate(300);
      }
      const r = await done;
      assert.equal(r.status, 0, `guest run failed:\n${r.output.slice(-4000)}`);
      assert.equal(r.results.get('demo_modes_from_device'), '1', 'the guest read its modes from the device');
      assert.equal(r.results.get('demo_follows'), '1', `the guest followed the new preferred mode once:\n${r.output.slice(-3000)}`);
      assert.equal(r.results.get('demo_last_size'), `${WANT.width}x${WANT.height}`);
      assert.match(r.output, /AGFX-DEMO follows the preferred mode 1024x640/);
      const frames = d.logs.filter((l) => l.msg === 'apple_gfx_new_frame' && l.port === 0);
      const last = frames.at(-1)!;
      assert.equal(`${last.width}x${last.height}`, `${WANT.width}x${WANT.height}`);
      assert.equal(String(last.checksum).toLowerCase(), r.results.get('demo_last_checksum'), "the daemon's last frame is the guest's");
      // The viewer's framebuffer, in the server's own pixel format: BGRA with
      // depth 24, so the fourth byte is padding (ZRLE's 3-byte pixels leave
      // it 0 in our client); the guest's pixels are opaque, alpha 0xff.
      viewer.requestUpdate(false);
      await viewer.nextUpdate(5000);
      for (let i = 0; i < 5 && (await viewer.nextUpdate(200)); i++) viewer.requestUpdate(true);
      assert.deepEqual([viewer.width, viewer.height], [WANT.width, WANT.height]);
      assert.equal(
        `0x${fnv1a32(viewer.fb.map((v, i) => ((i & 3) === 3 ? 0xff : v)))
          .toString(16)
          .padStart(8, '0')}`,
        r.results.get('demo_last_checksum'),
        "the viewer's pixels are the guest's",
      );
      assert.ok(
        viewer.extDesktop.some((e) => e.reason === 1 && e.status === 0),
        `SetDesktopSize answered OK: ${JSON.stringify(viewer.extDesktop)}`,
      );
      // QEMU's QMP answered query-name: while QEMU ran, the desktop name had
      // the VM's (in ServerInit, or a DesktopName if QMP came later); once
      // QEMU is gone, a DesktopName takes it away again.
      assert.ok(d.logs.some((l) => l.msg === 'qmp_connected'));
      const names = [initialName, ...viewer.names];
      assert.ok(names.includes('apple-gfxd 0 (agfx-e2e)'), `names: ${JSON.stringify(names)}`);
      assert.equal(names.at(-1), 'apple-gfxd 0', `names: ${JSON.stringify(names)}`);
      const modes = d.logs.filter((l) => l.msg === 'apple_gfx_display_modes').at(-1);
      assert.deepEqual(modes?.modes, ['1024x640@60', '800x600@60', '640x480@60']);
      assertNoErrors(r.qemuStderr, d.logs);
      await tick(10);
    } finally {
      viewer?.close();
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
