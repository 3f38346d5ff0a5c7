// The daemon's version: the one written in package.json (npm's field, read
// once at start from the package root, three levels above dist/daemon/src).
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
