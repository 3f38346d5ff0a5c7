#!/usr/bin/env node
// The files the daemon reads at run time from beside its modules: the .proto
// schemas and the browser viewer's static page. `npm run build:ts` copies them
// from daemon/src into dist/daemon/src after tsc, so the built package is
// complete without the source tree.
import { cpSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'daemon/src');
const out = join(root, 'dist/daemon/src');

const assets = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('.proto') || p.includes('/static/'));
for (const p of assets) cpSync(join(src, p), join(out, p), { recursive: true });
process.stdout.write(`copied ${assets.length} assets to ${relative(root, out)}\n`);
