// End to end with a real QEMU 11.1 (vfio-user-pci) and a real Linux guest, on
// arm64 `virt` and x86_64 `q35`: the guest finds the device, reads its
// registers through BAR0 and counts MSI-X interrupts raised by the daemon's
// eventfd writes; neither QEMU nor the daemon complains.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDaemon, type LogLine, type RunningDaemon } from '../support/daemon.js';
import { GUEST_ARCHES, assertNoErrors, ensureRig, loudSkip, runGuest, type GuestArch, type GuestRun } from '../support/rig.js';
import { SOFT_VERSION } from '../support/soft-ring.js';

function expectResults(run: GuestRun, want: Record<string, string>): void {
  const context = `\n--- guest output (tail) ---\n${run.output.slice(-6000)}`;
  for (const [key, value] of Object.entries(want)) assert.equal(run.results.get(key), value, `guest result ${key}${context}`);
  assert.equal(run.status, 0, `guest test exit status${context}`);
}

/** Boots the smoke test; returns the run and the daemon's log lines of that boot (up to QEMU's disconnect). */
async function smoke(d: RunningDaemon, arch: GuestArch, append?: string, plainRam = false): Promise<{ run: GuestRun; logs: LogLine[] }> {
  const first = d.logs.length;
  const closedBefore = d.logs.filter((l) => l.msg === 'vfio_user_client_closed').length;
  const run = await runGuest({ arch, sockets: [d.socketPath], test: 'test/guest/pci-smoke.sh', append, plainRam });
  await d.waitForLog(
    (l) => l.msg === 'vfio_user_client_closed' && d.logs.filter((x) => x.msg === 'vfio_user_client_closed').length > closedBefore,
  );
  process.stdout.write(`# ${arch} pci smoke boot: ${(run.wallMs / 1000).toFixed(1)} s\n`);
  return { run, logs: d.logs.slice(first) };
}

for (const { arch, machine } of GUEST_ARCHES) {
  const rig = ensureRig(arch);
  const skip = rig.ok ? false : loudSkip(`${arch}: ${rig.reason}`);

  describe(`real QEMU 11.1 guest [${arch} ${machine}]`, { skip }, () => {
    it('sees apple-gfx-pci, reads ID and scratch through BAR0, counts MSI-X interrupts; the daemon outlives a VM restart', async () => {
      const d = await startDaemon();
      try {
        for (const boot of [1, 2]) {
          const { run, logs } = await smoke(d, arch);
          expectResults(run, {
            count: '1',
            class: '0x038000',
            bar0_size: '16384',
            bar0_type: 'mem32',
            bar2_size: '0',
            id: '0x58464741',
            version: `0x${SOFT_VERSION.toString(16).padStart(8, '0')}`,
            scratch1: '0xa5a5f00d',
            scratch2: '0x12345678',
            msi_64bit: '1',
            msix_table_size: '1',
            msix_table: 'bar0+0x0000',
            msix_pba: 'bar0+0x0800',
            msix_vector0_count: '20',
            status: 'pass',
          });
          assertNoErrors(run.qemuStderr, logs, ` (${arch}, boot ${boot})`);
          // The daemon saw guest RAM as a shared fd: all of it on virt; on q35
          // RAM above 1 MiB (below it, ROM and PAM ranges come and go).
          const ram = logs.filter((l) => l.msg === 'guest_memory_region_added' && l.fd !== false);
          if (arch === 'aarch64')
            assert.ok(
              ram.some((l) => l.iova === '0x40000000' && l.size === '0x20000000'),
              JSON.stringify(ram),
            );
          else
            assert.ok(
              ram.some((l) => l.iova === '0x100000' && l.size === '0x1ff00000' && l.offset === '0x100000'),
              JSON.stringify(ram),
            );
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
        const { run, logs } = await smoke(d, arch, 'agfx.variant=mmio');
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
        assertNoErrors(run.qemuStderr, logs, ` (${arch}, mmio)`);
      } finally {
        await d.stop();
      }
    });

    it('guest RAM without an fd (plain -m): the daemon says once how to start QEMU and keeps serving', async () => {
      const d = await startDaemon();
      try {
        const { run, logs } = await smoke(d, arch, 'agfx.irqs=3', true);
        // Registers and interrupts need no guest RAM on the daemon's side.
        expectResults(run, { count: '1', id: '0x58464741', scratch2: '0x12345678', msix_vector0_count: '3', status: 'pass' });
        assert.deepEqual(
          run.qemuStderr.filter((l) => /vfio/i.test(l)),
          [],
          "QEMU's stderr has no vfio-user line: every map was accepted",
        );
        const errors = logs.filter((l) => l.level === 'error' || l.level === 'fatal');
        assert.deepEqual(
          errors.map((l) => l.msg),
          ['guest_memory_without_fd'],
          'one error: the hint, once',
        );
        assert.match(String(errors[0]!.hint), /memory-backend-memfd.*share=on/);
        assert.deepEqual(
          logs.filter((l) => l.msg === 'guest_memory_region_added' && l.fd !== false),
          [],
          'nothing came with an fd',
        );
        const closed = d.logs.filter((l) => l.msg === 'vfio_user_client_closed');
        assert.equal(closed.at(-1)!.errors, 0, 'no request failed');
      } finally {
        await d.stop();
      }
    });
  });
}
