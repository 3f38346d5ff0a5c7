// The TypeScript types of the .proto schemas are generated from the .proto
// files (scripts/gen-proto-types.mjs); a schema edit without regenerating
// fails here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/daemon.js';

describe('generated schema types', () => {
  it('control-types.ts and device-state-types.ts match their .proto files', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/gen-proto-types.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
