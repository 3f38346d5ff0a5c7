// End to end with a real QEMU 11.1 (vfio-user-pci) and a real arm64 Linux
// guest: the guest finds the device, reads its registers through BAR0 and
// counts MSI-X interrupts raised by the daemon's eventfd writes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDaemon } from '../support/daemon.js';
import { ensureRig, loudSkip, runGuest, type GuestRun } from '../support/rig.js';

const rig = ensureRig();
const skip = rig.ok ? false : loudSkip(rig.reason);

function expectResults(run: GuestRun, want: Record<string, string>): void {
  const context = `\n--- guest output (tail) ---\n${run.output.slice(-6000)}`;
  for (const [key, value] of Object.entries(want)) assert.equal(run.results.get(key), value, `guest result ${key}${context}`);
  assert.equal(run.status, 0, `guest test exit status${context}`);
}

describe('real QEMU 11.1 guest', { skip }, () => {
  it('sees apple-gfx-pci, reads ID and scratch through BAR0, counts MSI-X interrupts; the daemon outlives a VM restart', async () => {
    const d = await startDaemon();
    try {
      for (const boot of [1, 2]) {
        const run = await runGuest({ sockets: [d.socketPath], test: 'test/guest/pci-smoke.sh' });
        expectResults(run, {
          count: '1',
          class: '0x038000',
          bar0_size: '16384',
          bar0_type: 'mem32',
          bar2_size: '0',
          id: '0x58464741',
          version: '0x00010000',
          scratch1: '0xa5a5f00d',
          scratch2: '0x12345678',
          msi_64bit: '1',
          msix_table_size: '1',
          msix_table: 'bar0+0x0000',
          msix_pba: 'bar0+0x0800',
          msix_vector0_count: '20',
          status: 'pass',
        });
        // The daemon saw guest RAM as a shared fd, and QEMU left cleanly.
        const map = await d.waitForLog((l) => l.msg === 'guest_memory_region_added' && l.iova === '0x40000000');
        assert.equal(map.size, '0x20000000');
        await d.waitForLog((l) => l.msg === 'vfio_user_client_closed' && l.client === boot);
        const closed = d.logs.filter((l) => l.msg === 'vfio_user_client_closed');
        assert.equal(closed.length, boot, `boot ${boot}: QEMU's connection ended`);
        assert.equal(closed[boot - 1]!.errors, 0, 'no request failed');
        assert.ok(d.alive(), 'the daemon keeps serving after QEMU exits');
        assert.equal(d.memfdMappings().length, 0, 'guest RAM unmapped after QEMU left');
      }
    } finally {
      await d.stop();
    }
  });

  it('--variant mmio shows the 64 KiB IOSFC BAR2 and delivers both vectors', async () => {
    const d = await startDaemon(['--variant', 'mmio']);
    try {
      const run = await runGuest({ sockets: [d.socketPath], test: 'test/guest/pci-smoke.sh', append: 'agfx.variant=mmio' });
      expectResults(run, {
        count: '1',
        bar0_size: '16384',
        bar2_size: '65536',
        id: '0x58464741',
        msix_table_size: '2',
        msix_vector0_count: '20',
        msix_vector1_count: '20',
        status: 'pass',
      });
    } finally {
      await d.stop();
    }
  });
});
