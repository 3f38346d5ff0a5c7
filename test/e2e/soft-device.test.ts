// End to end through the soft device's guest interface (docs/soft-device.md):
// a static driver (test/guest/soft-driver.c) runs in a real QEMU 11.1 guest
// with no kernel driver, on arm64 `virt` and x86_64 `q35`, drives the command
// ring, tasks, displays, cursor, IOSFC and resets, and prints what it expects;
// the daemon's log says what the device saw. Each check compares the two
// sides, and neither QEMU nor the daemon may report an error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { backendLogsGuestErrors, repoRoot, startDaemon, type LogLine, type RunningDaemon } from '../support/daemon.js';
import { GUEST_ARCHES, assertNoErrors, ensureGuestPrograms, guestProgram, loudSkip, qemuStderrOf, type GuestArch } from '../support/rig.js';

const DISPLAY = ['--display', '640x480@60,320x240@60'];

interface SoftRun {
  arch: GuestArch;
  status: number | null;
  output: string;
  /** QEMU's own stderr lines (run-guest.sh marks them "QEMU-STDERR: "). */
  qemuStderr: string[];
  /** Results of each step ("AGFX-RESULT" lines after "AGFX-STEP <step>: start"). */
  step: Map<string, Map<string, string>>;
  /** Results printed by soft-e2e.sh itself (status, failed_step...). */
  top: Map<string, string>;
  /** Daemon log lines written during this boot. */
  logs: LogLine[];
}

/**
 * Boots the guest with soft-driver and runs the given steps. Asynchronous on
 * purpose: the daemon's debug log must keep draining while the guest runs
 * (a blocked stderr pipe would stall the device).
 */
async function runSoft(d: RunningDaemon, arch: GuestArch, steps: string, append = '', timeoutS = 150): Promise<SoftRun> {
  const firstLog = d.logs.length;
  const started = Date.now();
  const args = [
    join(repoRoot, 'scripts/rig/run-guest.sh'),
    '--arch',
    arch,
    '--socket',
    d.socketPath,
    '--program',
    guestProgram(arch, 'soft-driver'),
    '--test',
    join(repoRoot, 'test/guest/soft-e2e.sh'),
    '--timeout',
    String(timeoutS),
    '--append',
    `agfx.steps=${steps}${append ? ` ${append}` : ''}`,
  ];
  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const killer = setTimeout(() => child.kill('SIGTERM'), (timeoutS + 30) * 1000);
  const status = await new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  clearTimeout(killer);
  // The connection's end is logged once QEMU is gone: all device logs of this boot are in.
  const closedBefore = d.logs.slice(0, firstLog).filter((l) => l.msg === 'vfio_user_client_closed').length;
  await d
    .waitForLog(
      (l) => l.msg === 'vfio_user_client_closed' && d.logs.filter((x) => x.msg === 'vfio_user_client_closed').length > closedBefore,
      5000,
    )
    .catch(() => undefined);
  const step = new Map<string, Map<string, string>>();
  const top = new Map<string, string>();
  let cur: Map<string, string> = top;
  for (const raw of output.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const s = line.match(/^AGFX-STEP (\S+): start$/);
    if (s) {
      cur = new Map();
      step.set(s[1]!, cur);
      continue;
    }
    if (/^AGFX-STEP \S+: exit/.test(line)) {
      cur = top;
      continue;
    }
    const m = line.match(/^AGFX-RESULT (\S+?)=(.*)$/);
    if (m) cur.set(m[1]!, m[2]!.trim());
  }
  process.stdout.write(`# ${arch} soft-device boot (${steps}): ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return { arch, status, output, qemuStderr: qemuStderrOf(output), step, top, logs: d.logs.slice(firstLog) };
}

function ctx(run: SoftRun): string {
  const fails = run.output
    .split('\n')
    .filter((l) => l.startsWith('AGFX-FAIL'))
    .slice(0, 40)
    .join('\n');
  return `\n--- guest failures ---\n${fails}\n--- guest output (tail) ---\n${run.output.slice(-5000)}`;
}

function results(run: SoftRun, name: string): Map<string, string> {
  const r = run.step.get(name);
  assert.ok(r, `step ${name} ran${ctx(run)}`);
  return r;
}

function expectResults(run: SoftRun, name: string, want: Record<string, string>): Map<string, string> {
  const r = results(run, name);
  for (const [k, v] of Object.entries(want)) assert.equal(r.get(k), v, `${name}: guest result ${k}${ctx(run)}`);
  return r;
}

/** Two guest results that must be equal (one computed by the guest, one read from the device). */
function expectSame(run: SoftRun, name: string, a: string, b: string): void {
  const r = results(run, name);
  assert.ok(r.get(a), `${name}: ${a} printed${ctx(run)}`);
  assert.equal(r.get(b), r.get(a), `${name}: ${b} (device) vs ${a} (guest)${ctx(run)}`);
}

const byMsg = (logs: LogLine[], msg: string): LogLine[] => logs.filter((l) => l.msg === msg);
const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : typeof v === 'boolean' ? Number(v) : (v as number));

function expectStepPassed(run: SoftRun, steps: string[]): void {
  for (const s of steps) assert.equal(results(run, s).get(s), 'pass', `step ${s} verdict${ctx(run)}`);
  assert.equal(run.top.get('status'), 'pass', `soft-e2e.sh status${ctx(run)}`);
  assert.equal(run.status, 0, `guest exit status${ctx(run)}`);
  assertNoErrors(run.qemuStderr, run.logs, ` (${run.arch})${ctx(run)}`);
}

/**
 * The fdless step (q35 only: the std VGA's BAR0 is memory QEMU maps without
 * an fd): every use refused with its documented status, and the daemon named
 * the range in exactly one log line however many uses it refused.
 */
function expectFdlessResults(run: SoftRun, iosfc: boolean): void {
  const r = expectResults(run, 'fdless', {
    st_fdless_task_map: 'MAP_FAILED',
    st_fdless_list: 'GUEST_MEMORY',
    st_fdless_checksum: 'NOT_MAPPED',
    fdless_ring_ready: '0',
    fdless_fence_irqs: '2',
    ...(iosfc ? { st_fdless_iosfc_map: 'MAP_FAILED' } : {}),
  });
  expectSame(run, 'fdless', 'completed_expected', 'completed');
  expectSame(run, 'fdless', 'errors_expected', 'errors');
  const range = `guest memory ${r.get('fdless_gpa')}+${r.get('fdless_size')} `;
  const named = run.logs.filter((l) => l.msg === 'apple_gfx_guest_error' && String(l.what).includes(range));
  assert.equal(named.length, 1, `one line names ${range}: ${JSON.stringify(named)}${ctx(run)}`);
  assert.match(String(named[0]!.what), /without an fd/);
  // QEMU sends no DMA_UNMAP at poweroff: the count shows when the client's memory is cleared.
  const cleared = run.logs.filter((l) => l.msg === 'guest_memory_cleared');
  assert.ok(cleared.length === 1 && num(cleared[0]!.refusedUses) >= (iosfc ? 9 : 8), `refused uses counted: ${JSON.stringify(cleared)}`);
}

function expectRingResults(run: SoftRun): void {
  expectSame(run, 'ring', 'checksum_guest', 'checksum_device');
  expectSame(run, 'ring', 'checksum_cross_guest', 'checksum_cross_device');
  expectSame(run, 'ring', 'checksum_live_guest', 'checksum_live_device');
  assert.notEqual(
    results(run, 'ring').get('checksum_live_guest'),
    results(run, 'ring').get('checksum_guest'),
    'the live-alias write changed the data',
  );
  expectSame(run, 'ring', 'completed_expected', 'completed');
  expectSame(run, 'ring', 'errors_expected', 'errors');
  expectSame(run, 'ring', 'fence_expected', 'fence_irqs');
  expectResults(run, 'ring', {
    st_task_create: 'OK',
    st_task_create_again: 'TASK_EXISTS',
    st_task_create_2g: 'BAD_ARGS',
    st_task_create_huge: 'BAD_ARGS',
    st_task_map: 'OK',
    st_task_unmap: 'OK',
    st_checksum_unmapped: 'NOT_MAPPED',
    st_bad_opcode: 'BAD_OPCODE',
    st_checksum_no_task: 'NO_TASK',
    st_map_outside_ram: 'MAP_FAILED',
    st_map_partial: 'MAP_FAILED',
    st_checksum_partial_first: 'OK',
    st_map_list_outside_ram: 'GUEST_MEMORY',
    st_map_count257: 'BAD_ARGS',
    st_checksum_huge: 'BAD_ARGS',
    st_checksum_beyond_task: 'OUT_OF_RANGE',
    fence_irqs: '16',
    fence_value: '0x1234500000010',
    doorbell_async_bad: '0',
    doorbell_sync_head_lag: '0',
    st_checksum_destroyed: 'NO_TASK',
  });
  assert.ok(Number(results(run, 'ring').get('ring_wrapped')) >= 1, 'the 64-entry ring wrapped');
  assert.ok(Number(results(run, 'ring').get('completed')) > 50, 'many commands completed');
}

for (const { arch, machine } of GUEST_ARCHES) {
  const progs = ensureGuestPrograms(arch);
  const skip = progs.ok ? false : loudSkip(`${arch}: ${progs.reason}`);
  /** q35 has a std VGA whose BAR QEMU maps without an fd: the fdless step runs there. */
  const fdless = machine === 'q35' ? ',fdless' : '';

  describe(`soft device: guest driver through real QEMU 11.1 [${arch} ${machine}]`, { skip }, () => {
    it('demo: bars scrolled by COPY_RECT and hinted presents end on exactly the frame the guest drew', async () => {
      const d = await startDaemon(['--display', '800x600@60,640x480@60']);
      try {
        const run = await runSoft(d, arch, 'demo', 'agfx.seed=4');
        expectStepPassed(run, ['demo']);
        const r = results(run, 'demo');
        const frames = Number(r.get('demo_frames'));
        assert.ok(frames > 20, `the demo drew ${frames} frames in 4 s${ctx(run)}`);
        const logged = byMsg(run.logs, 'apple_gfx_new_frame').filter((l) => num(l.port) === 0);
        const last = logged.at(-1)!;
        assert.equal(`${last.width}x${last.height}`, r.get('demo_last_size'), ctx(run));
        assert.equal(
          String(last.checksum).toLowerCase(),
          r.get('demo_last_checksum'),
          `the daemon's last frame is the guest's last frame${ctx(run)}`,
        );
        // Most frames were a move plus two small presents: 1 + 2 presents each.
        assert.ok(Number(last.sequence) >= 2 * frames - 2, `presents ${last.sequence} for ${frames} frames${ctx(run)}`);
      } finally {
        await d.stop();
      }
    });

    it('command ring, tasks, checksums, fences, frames, cursor and reset', async () => {
      const d = await startDaemon(DISPLAY);
      try {
        const run = await runSoft(d, arch, `ring,present${fdless},reset`);
        expectStepPassed(run, ['ring', 'present', 'reset']);
        expectRingResults(run);
        if (fdless) expectFdlessResults(run, false);

        // present: frames as the daemon saw them
        const p = expectResults(run, 'present', {
          st_set_mode_640: 'OK',
          st_set_mode_bad: 'BAD_MODE',
          st_set_mode_no_display: 'NO_DISPLAY',
          st_present_stride_small: 'BAD_ARGS',
          st_present_unmapped: 'NOT_MAPPED',
          st_present: 'OK',
          st_present2: 'OK',
          st_copy_rect_outside: 'BAD_ARGS',
          st_copy_rect: 'OK',
          st_present_hint_outside: 'BAD_ARGS',
          st_present_hint: 'OK',
          st_cursor_glyph: 'OK',
          frame_size: '640x480',
          frame2_size: '320x240',
        });
        expectSame(run, 'present', 'frame_checksum', 'frame_task_checksum');
        expectSame(run, 'present', 'completed_expected', 'completed');
        expectSame(run, 'present', 'errors_expected', 'errors');
        const frames = byMsg(run.logs, 'apple_gfx_new_frame').filter((l) => num(l.port) === 0);
        const f1 = frames.filter((l) => num(l.width) === 640 && num(l.height) === 480);
        const f2 = frames.filter((l) => num(l.width) === 320 && num(l.height) === 240);
        const c = `\nframes logged: ${JSON.stringify(frames.map((l) => [l.width, l.height, l.checksum]))}${ctx(run)}`;
        assert.ok(
          f1.some((l) => String(l.checksum).toLowerCase() === p.get('frame_checksum')),
          `a 640x480 frame with the guest's checksum ${p.get('frame_checksum')}${c}`,
        );
        assert.ok(
          f2.some((l) => String(l.checksum).toLowerCase() === p.get('frame2_checksum')),
          `a 320x240 XRGB frame stored with alpha 0xff, checksum ${p.get('frame2_checksum')}${c}`,
        );
        assert.ok(
          f1.some((l) => String(l.checksum).toLowerCase() === p.get('frame3_checksum')),
          `a 640x480 frame scrolled by COPY_RECT with a hinted strip, checksum ${p.get('frame3_checksum')}${c}`,
        );
        const i1 = frames.findIndex((l) => String(l.checksum).toLowerCase() === p.get('frame_checksum'));
        const i2 = frames.findIndex((l) => String(l.checksum).toLowerCase() === p.get('frame2_checksum'));
        assert.ok(i1 < i2, `the 640x480 frame came before the 320x240 one${c}`);
        assert.notEqual(p.get('frame_checksum'), p.get('frame2_checksum'));

        const modes = byMsg(run.logs, 'apple_gfx_mode_change').filter((l) => num(l.port) === 0);
        const m640 = modes.findIndex((l) => num(l.width) === 640 && num(l.height) === 480);
        let m320 = -1;
        modes.forEach((l, i) => {
          if (num(l.width) === 320 && num(l.height) === 240) m320 = i;
        });
        assert.ok(m640 >= 0 && m320 > m640, `mode changes 640x480 then 320x240 on port 0: ${JSON.stringify(modes)}`);

        const glyphs = byMsg(run.logs, 'apple_gfx_cursor_glyph').filter((l) => num(l.port) === 0);
        assert.equal(glyphs.length, 1, `one cursor glyph (the bad-size one is refused): ${JSON.stringify(glyphs)}`);
        const g = glyphs[0]!;
        assert.deepEqual(
          [num(g.width), num(g.height), num(g.hotX), num(g.hotY), String(g.checksum).toLowerCase()],
          [32, 32, 3, 5, p.get('cursor_glyph_checksum')],
          `cursor glyph as logged: ${JSON.stringify(g)}`,
        );
        const shows = byMsg(run.logs, 'apple_gfx_cursor_show').filter((l) => num(l.port) === 0);
        const shown = shows.findIndex((l) => num(l.show) === 1);
        assert.ok(shown >= 0, `cursor shown: ${JSON.stringify(shows)}`);
        assert.ok(
          shows.slice(shown + 1).some((l) => num(l.show) === 0),
          `the reset step (CONTROL=1) hides the cursor again: ${JSON.stringify(shows)}`,
        );
        const moves = byMsg(run.logs, 'apple_gfx_cursor_move')
          .filter((l) => num(l.port) === 0)
          .map((l) => `${num(l.x)},${num(l.y)}`);
        const mv1 = moves.indexOf(p.get('cursor_move1')!);
        const mv2 = moves.lastIndexOf(p.get('cursor_move2')!);
        assert.ok(mv1 >= 0 && mv2 > mv1, `cursor moved to 100,200 then 65535,65535: ${JSON.stringify(moves)}`);

        // reset: everything back to 0, and the device works afterwards
        const r = expectResults(run, 'reset', {
          after_reset_ring_head: '0x0',
          after_reset_ring_tail: '0x0',
          after_reset_ring_entries: '0x0',
          after_reset_fence_lo: '0x0',
          after_reset_fence_hi: '0x0',
          after_reset_completed: '0x0',
          after_reset_errors: '0x0',
          after_reset_irq_status: '0x0',
          after_reset_scratch: '0x0',
          after_reset_msix_enabled: '1',
          st_after_reset_task_gone: 'NO_TASK',
          after_reset_fence_irqs: '3',
          after_reset_fence_value: '0x900000003',
        });
        expectSame(run, 'reset', 'completed_expected', 'completed');
        // STATUS resets to 0 except IDLE (head == tail == 0), which the docs leave open.
        assert.ok(
          ['0x0', '0x8'].includes(r.get('after_reset_status')!),
          `STATUS after CONTROL=1: ${r.get('after_reset_status')}${ctx(run)}`,
        );
        assert.ok(d.alive(), 'daemon alive');
      } finally {
        await d.stop();
      }
    });

    it('--variant mmio: IOSFC maps guest memory as a live alias, one vector-1 interrupt per command; reset releases mappings', async () => {
      const d = await startDaemon(['--variant', 'mmio', ...DISPLAY]);
      try {
        const run = await runSoft(d, arch, `iosfc,ring${fdless},reset`, 'agfx.variant=mmio');
        expectStepPassed(run, ['iosfc', 'ring', 'reset']);
        if (fdless) expectFdlessResults(run, true);
        expectResults(run, 'reset', { after_reset_iosfc_mapped: '0', after_reset_fence_irqs: '3' });
        const r = expectResults(run, 'iosfc', {
          msix_vectors: '2',
          iosfc_map_status: 'OK',
          iosfc_mapped: '1',
          iosfc_peek1: '0xc0ffee01',
          iosfc_peek2: '0x5eed0002',
          iosfc_peek_out_of_range: '0xffffffff',
          iosfc_map_outside_status: 'MAP_FAILED',
          iosfc_map_outside_handle: '0',
          iosfc_unmap_status: 'OK',
          iosfc_mapped_final: '0',
          iosfc_unmap_again_status: 'BAD_ARGS',
          iosfc_unmap_unknown_status: 'BAD_ARGS',
        });
        assert.notEqual(r.get('iosfc_handle'), '0', 'a map returns a non-zero handle');
        expectSame(run, 'iosfc', 'iosfc_commands', 'iosfc_irqs');
        expectRingResults(run);
      } finally {
        await d.stop();
      }
    });

    it('survives hostile input: halted ring, invalid rings, 200 random commands; the next boot still works', async () => {
      const d = await startDaemon(DISPLAY);
      try {
        const run = await runSoft(d, arch, 'garbage');
        expectStepPassed(run, ['garbage']);
        const g = expectResults(run, 'garbage', {
          bad_ring_outside_ram_ready: '0',
          bad_ring_unaligned_ready: '0',
          bad_ring_not_pow2_ready: '0',
          bad_ring_too_many_ready: '0',
          bad_ring_past_ram_end_ready: '0',
          halted_cleared: '1',
          random_undefined: '0',
          final_fence_irqs: '1',
        });
        assert.ok((Number(g.get('halted_status')) & 4) !== 0, `STATUS.HALTED seen: ${g.get('halted_status')}`);
        const statusTotal = [
          'OK',
          'BAD_OPCODE',
          'BAD_ARGS',
          'NO_TASK',
          'TASK_EXISTS',
          'MAP_FAILED',
          'OUT_OF_RANGE',
          'NO_DISPLAY',
          'BAD_MODE',
          'NO_MEMORY',
          'NOT_MAPPED',
          'GUEST_MEMORY',
        ]
          .map((s) => Number(g.get(`random_${s}`) ?? 'NaN'))
          .reduce((a, b) => a + b, 0);
        assert.equal(statusTotal, 200, `200 random entries completed with defined codes${ctx(run)}`);
        if (backendLogsGuestErrors)
          assert.ok(byMsg(run.logs, 'apple_gfx_guest_error').length >= 5, `hostile accesses logged as apple_gfx_guest_error${ctx(run)}`);
        assert.ok(d.alive(), `daemon alive after hostile input; stderr tail:\n${d.stderrText().slice(-3000)}`);

        const again = await runSoft(d, arch, 'ring');
        expectStepPassed(again, ['ring']);
        expectRingResults(again);
        assert.ok(d.alive(), 'daemon alive after the second boot');
      } finally {
        await d.stop();
      }
    });
  });
}
