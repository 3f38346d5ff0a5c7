// Command line: vfio-user backend-program conventions (--socket-path | --fd,
// --print-capabilities, foreground only) plus device options.
import { readFileSync } from 'node:fs';
import { exposedSecret } from './private-file.js';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from './logging.js';
import { defaultBackend, parseBackend, type BackendChoice, type MemoryModel } from './backend.js';
import type { Variant } from './device/apple-gfx-pci.js';
import { DEFAULT_MODES, checkFrameBudget, parseModeList } from './display/modes.js';
import type { DisplayModeSpec } from './native.js';
import { VERSION } from './version.js';
import { parseVncListen, type VncListen } from './viewers/vnc/index.js';

export interface Config {
  socketPath: string | null;
  fd: number | null;
  socketMode: number;
  variant: Variant;
  backend: BackendChoice;
  logLevel: LogLevel;
  writeMultiple: boolean;
  /** --serial-base: display serials' base (else derived from the socket). */
  serialBase: number | null;
  printCapabilities: boolean;
  /** --write-option-rom PATH: write PVG's option ROM and exit. */
  writeOptionRom: string | null;
  memoryModel: MemoryModel;
  /** Control socket path; null = none. */
  control: string | null;
  /** VNC: display N on port + N. */
  vnc: VncListen | null;
  vncPassword: string | null;
  /** RFB over WebSocket: display N on port + N. */
  vncWebsocket: VncListen | null;
  /** Browser origins allowed on the VNC WebSocket besides the Host's own. */
  vncWebsocketOrigins: string[];
  /** Viewers may make their size the display's preferred mode (SetDesktopSize). */
  vncResize: boolean;
  /** Browser viewer address. */
  web: { host: string; port: number } | null;
  webToken: string | null;
  /** The browser viewer's page may make its window size the display's preferred mode. */
  webResize: boolean;
  /** QEMU's QMP socket, for input back to the guest. */
  qmp: string | null;
  /** One entry per display port: its mode list, first mode preferred. */
  displays: DisplayModeSpec[][];
}

/** A usage error: the message goes to stderr and the exit code is 2. */
export class UsageError extends Error {}

function intArg(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
    return n;
  };
}

function modeArg(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError('must be an octal mode such as 0600');
  return parseInt(value, 8);
}

function displayArg(value: string, previous: DisplayModeSpec[][] | undefined): DisplayModeSpec[][] {
  try {
    return [...(previous ?? []), parseModeList(value)];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function vncArg(flag: string) {
  return (value: string): VncListen => {
    try {
      return parseVncListen(value, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

function originArg(value: string, previous: string[] | undefined): string[] {
  if (value !== '*') {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      throw new InvalidArgumentError(`'${value}' is not an origin such as https://console.example.org or *`);
    }
    if (u.origin !== value) throw new InvalidArgumentError(`'${value}' is not an origin (scheme://host[:port], no path): ${u.origin}?`);
  }
  return [...(previous ?? []), value];
}

/** [HOST:]PORT for --web; loopback unless a host is given. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:[\]]*):)?(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[3]) > 65535) throw new InvalidArgumentError(`${flag} expects [HOST:]PORT, got '${value}'`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** Warnings about secret files others can read (logged once the logger exists). */
export const secretFileWarnings: string[] = [];

/** A secret from a file (first line), so it never shows in `ps`. */
function secretFile(flag: string) {
  return (path: string): string => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
      const exposed = exposedSecret(path);
      if (exposed) secretFileWarnings.push(`${flag}: ${exposed}`);
    } catch (e) {
      throw new InvalidArgumentError(`${flag}: cannot read ${path}: ${(e as Error).message}`);
    }
    const secret = text.split('\n')[0]!.trim();
    if (!secret) throw new InvalidArgumentError(`${flag}: ${path} is empty`);
    return secret;
  };
}

function backendArg(value: string): BackendChoice {
  try {
    return parseBackend(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function buildProgram(): Command {
  return new Command('apple-gfxd')
    .description("QEMU's apple-gfx display device as a vfio-user server (use with QEMU's vfio-user-pci)")
    .version(VERSION)
    .addOption(new Option('--socket-path <path>', 'listen on this unix socket (created, replaced if stale)').conflicts('fd'))
    .addOption(new Option('--fd <n>', 'serve an already listening unix socket inherited as fd N').argParser(intArg('--fd', 0, 65535)))
    .addOption(
      new Option('--socket-mode <mode>', 'permissions of the socket created by --socket-path').argParser(modeArg).default(0o600, '0600'),
    )
    .addOption(new Option('--variant <variant>', 'device personality').choices(['pci', 'mmio']).default('pci'))
    .addOption(
      new Option('--backend <backend>', 'graphics backend: soft, pvg (macOS) or lib:PATH')
        .argParser(backendArg)
        .default(parseBackend(defaultBackend()), defaultBackend()),
    )
    .addOption(
      new Option(
        '--display <modes>',
        'attach a display with modes WxH@Hz[,WxH@Hz...], first preferred; repeat for more displays (default: one display, 1920x1080@60,1440x1080@60,1280x1024@60)',
      ).argParser(displayArg),
    )
    .addOption(
      new Option('--vnc <[host:]port>', 'VNC server: display N on PORT+N (loopback unless HOST is given)').argParser(vncArg('--vnc')),
    )
    .addOption(
      new Option(
        '--vnc-websocket <[host:]port>',
        'RFB over WebSocket for noVNC: display N on PORT+N (loopback unless HOST is given; needs --vnc)',
      ).argParser(vncArg('--vnc-websocket')),
    )
    .addOption(
      new Option('--vnc-no-resize', "refuse viewers' SetDesktopSize (default: the requested size becomes the display's preferred mode)"),
    )
    .addOption(
      new Option(
        '--vnc-websocket-origin <origin>',
        'a browser origin (scheme://host[:port], or *) allowed on --vnc-websocket besides pages of the same host; repeatable',
      ).argParser(originArg),
    )
    .addOption(
      new Option(
        '--vnc-password-file <file>',
        'enable VNC authentication with the password in FILE (first line; 8 characters count)',
      ).argParser(secretFile('--vnc-password-file')),
    )
    .addOption(
      new Option('--web <[host:]port>', 'browser viewer on HOST:PORT (loopback unless HOST is given)').argParser((v) =>
        parseHostPort(v, '--web'),
      ),
    )
    .addOption(
      new Option('--web-token-file <file>', 'require ?token=SECRET (the first line of FILE) for the browser viewer').argParser(
        secretFile('--web-token-file'),
      ),
    )
    .addOption(
      new Option(
        '--web-no-resize',
        "refuse the browser viewer's resize (default: a page that opts in makes its window size the display's preferred mode)",
      ),
    )
    .addOption(new Option('--qmp <path>', "QEMU's QMP unix socket: keyboard and pointer from viewers go to the guest (input-send-event)"))
    .addOption(
      new Option('--control <path>', 'control API socket (default: the vfio-user socket path + ".ctl"; none with --fd unless given)'),
    )
    .addOption(
      new Option(
        '--memory-model <model>',
        'how the backend reaches guest RAM: tasks (PVG createTask/mapMemory callbacks) or static (the whole guest-memory map, PGMemoryMapDescriptor)',
      )
        .choices(['tasks', 'static'])
        .default('tasks'),
    )
    .addOption(new Option('--log-level <level>', 'log level').choices([...LOG_LEVELS]).default('info'))
    .addOption(new Option('--write-multiple', 'advertise write_multiple (REGION_WRITE_MULTI); safe with QEMU >= 11.0 only').default(false))
    .addOption(
      new Option(
        '--serial-base <n>',
        'display serial numbers start here (low byte: port + 1); default: derived from --socket-path, so two daemons differ and a restart keeps them',
      ).argParser(intArg('--serial-base', 0x100, 0xffffffff)),
    )
    .addOption(new Option('--print-capabilities', 'print a JSON description of this backend program and exit'))
    .addOption(
      new Option(
        '--write-option-rom <path>',
        "write PVG's option ROM (padded to a power of two) for vfio-user-pci's romfile=, and exit (macOS)",
      ),
    )
    .showHelpAfterError('(run apple-gfxd --help for usage)')
    .exitOverride();
}

/** Parses argv; throws UsageError for bad flags, CommanderError for --help/--version. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const program = buildProgram();
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const cfg: Config = {
    socketPath: o.socketPath ?? null,
    fd: o.fd ?? null,
    socketMode: o.socketMode,
    variant: o.variant,
    backend: o.backend,
    logLevel: o.logLevel,
    writeMultiple: Boolean(o.writeMultiple),
    serialBase: o.serialBase ?? null,
    printCapabilities: Boolean(o.printCapabilities),
    writeOptionRom: o.writeOptionRom ?? null,
    displays: o.display ?? [DEFAULT_MODES],
    memoryModel: o.memoryModel,
    control: o.control ?? (o.socketPath ? `${o.socketPath}.ctl` : null),
    vnc: o.vnc ?? null,
    vncPassword: o.vncPasswordFile ?? null,
    vncWebsocket: o.vncWebsocket ?? null,
    vncWebsocketOrigins: o.vncWebsocketOrigin ?? [],
    vncResize: !o.vncNoResize,
    web: o.web ?? null,
    webToken: o.webTokenFile ?? null,
    webResize: !o.webNoResize,
    qmp: o.qmp ?? null,
  };
  // systemd socket activation: one inherited listening socket at fd 3.
  if (cfg.socketPath === null && cfg.fd === null && env.LISTEN_FDS !== undefined) {
    if (env.LISTEN_PID !== String(process.pid)) throw new UsageError(`LISTEN_FDS is set for pid ${env.LISTEN_PID}, not this process`);
    if (env.LISTEN_FDS !== '1') throw new UsageError(`LISTEN_FDS=${env.LISTEN_FDS}: exactly one socket is expected`);
    cfg.fd = 3;
  }
  if (!cfg.printCapabilities && !cfg.writeOptionRom && cfg.socketPath === null && cfg.fd === null)
    throw new UsageError('one of --socket-path PATH or --fd N is required (or socket activation: LISTEN_FDS=1)');
  if (!cfg.webResize && !cfg.web) throw new UsageError('--web-no-resize needs --web');
  if (cfg.vncPassword && !cfg.vnc) throw new UsageError('--vnc-password-file needs --vnc');
  if (cfg.vncWebsocket && !cfg.vnc) throw new UsageError('--vnc-websocket needs --vnc');
  if (cfg.vncWebsocketOrigins.length && !cfg.vncWebsocket) throw new UsageError('--vnc-websocket-origin needs --vnc-websocket');
  if (cfg.webToken && !cfg.web) throw new UsageError('--web-token-file needs --web');
  if (cfg.displays.length > 4) throw new UsageError(`${cfg.displays.length} displays; the soft backend has 4 ports`);
  try {
    checkFrameBudget(cfg.displays);
  } catch (e) {
    throw new UsageError(`--display: ${(e as Error).message}`);
  }
  return cfg;
}

export { CommanderError };
