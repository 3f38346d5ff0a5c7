// The PVG double's own checks (native/pvg-double/test): selftest (libdispatch
// subset, blocks runtime, Metal subset, descriptor profiles, contract checks)
// and the standalone driver (the pvg backend through the soft guest
// interface: ring, task, present read back exactly, cursor, fence,
// save/restore, pause, reset), plain and with the hazards the backend
// survives. Built by `npm run build:pvg-double`; skipped loudly when not.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/daemon.js';

const dir = join(repoRoot, 'native/build-pvg-double');
const built = existsSync(join(dir, 'pvg-double-selftest')) && existsSync(join(dir, 'pvg-double-driver'));
const skip = process.platform === 'darwin' ? 'macOS' : built ? false : 'PVG double not built (npm run build:pvg-double)';
if (skip && process.platform !== 'darwin') console.error(`\n*** SKIPPED: PVG double self-tests: ${skip} ***\n`);

const run = (bin: string, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(join(dir, bin), [], { encoding: 'utf8', timeout: 120000, env: { ...process.env, ...env } });

describe('PVG double', { skip }, () => {
  it('selftest: dispatch, blocks, Metal, profiles and contract checks', () => {
    const r = run('pvg-double-selftest');
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /selftest: \d+ passed, 0 failed/);
  });
  it('driver: the pvg backend through the soft guest interface, all checks', () => {
    const r = run('pvg-double-driver');
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /all checks passed/);
  });
  it('driver on the static memory map (macOS 15.4), with touch-map', () => {
    const r = run('pvg-double-driver', { PVG_DRIVER_MODEL: 'static', AGFX_PVG_DOUBLE_MACOS: '15.4', AGFX_PVG_DOUBLE_HAZARDS: 'touch-map' });
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /all checks passed \(static memory model\)/);
  });
  it('driver with the hazards the backend survives', () => {
    const r = run('pvg-double-driver', {
      AGFX_PVG_DOUBLE_HAZARDS: 'reentrant,locked-handlers,frame-flood,mode-mid-render,failing-encode,irq-on-resume',
    });
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /all checks passed/);
  });
});
