// The discovery file has the shape of QEMU's vhost-user backend description
// (docs/interop/vhost-user.json: description, type, binary, tags).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/daemon.js';

// The backend types vhost-user.json enumerates.
const VHOST_USER_TYPES = [
  'bridge',
  'block',
  'console',
  'crypto',
  'fs',
  'gpio',
  'gpu',
  'input',
  'net',
  'rproc-serial',
  'scmi',
  'scsi',
  'sound',
  'video',
  'vsock',
];

describe('discovery file', () => {
  it('installs 50-apple-gfxd.json with the vhost-user description shape', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agfx-disc-'));
    const out = execFileSync(
      'bash',
      [join(repoRoot, 'scripts/install-discovery.sh'), '--dir', dir, '--binary', '/opt/apple-gfxd/bin/apple-gfxd'],
      { encoding: 'utf8' },
    );
    assert.match(out, /installed/);
    const doc = JSON.parse(readFileSync(join(dir, '50-apple-gfxd.json'), 'utf8'));
    assert.deepEqual(Object.keys(doc).sort(), ['binary', 'description', 'tags', 'type']);
    assert.equal(typeof doc.description, 'string');
    assert.ok(doc.description.length > 0);
    assert.ok(VHOST_USER_TYPES.includes(doc.type), `type ${doc.type} is a vhost-user backend type`);
    assert.equal(doc.binary, '/opt/apple-gfxd/bin/apple-gfxd');
    assert.ok(Array.isArray(doc.tags) && doc.tags.every((t: unknown) => typeof t === 'string'));
    rmSync(dir, { recursive: true });
  });

  it('refuses a relative binary path', () => {
    assert.throws(() =>
      execFileSync('bash', [join(repoRoot, 'scripts/install-discovery.sh'), '--dir', tmpdir(), '--binary', 'rel/path'], { stdio: 'pipe' }),
    );
  });
});
