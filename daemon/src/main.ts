#!/usr/bin/env node
// apple-gfxd: QEMU's apple-gfx display device, out of process, over vfio-user.
import { unlinkSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defaultServerLimits } from 'vfio-user-ts';
import { capabilities } from './capabilities.js';
import { CommanderError, UsageError, parseArgs, secretFileWarnings, type Config } from './cli.js';
import { checkBackend, displayPortsToAsk, startBackend } from './backend.js';
import { AppleGfxPciDevice } from './device/apple-gfx-pci.js';
import { Displays, serialBaseFor } from './display/displays.js';
import type { NativeBackend } from './native.js';
import { createLogger } from './logging.js';
import { native } from './native.js';
import { VfioUserServer } from './vfio-server.js';
import { ControlServer } from './control/control-server.js';
import { runCtl } from './ctl.js';
import { DeviceMigration } from './state/migration.js';
import { Viewers } from './viewers/index.js';
import { VERSION } from './version.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function parseOrExit(argv: string[]): Config {
  try {
    return parseArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has already printed the message (or the help/version text)
      process.exit(e.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
    }
    if (e instanceof UsageError) {
      process.stderr.write(`apple-gfxd: ${e.message}\n(run apple-gfxd --help for usage)\n`);
      process.exit(EXIT_USAGE);
    }
    throw e;
  }
}

const LOOP_DELAY_RESOLUTION_MS = 20;
/** How long a stopping daemon waits for a backend call under way (a reset, a client's release). */
const STOP_WAIT_MS = 5000;

async function main(): Promise<void> {
  if (process.argv[2] === 'ctl') process.exit(await runCtl(process.argv.slice(3)));
  const cfg = parseOrExit(process.argv.slice(2));
  if (cfg.printCapabilities) {
    process.stdout.write(JSON.stringify(capabilities(), null, 2) + '\n');
    return;
  }
  if (cfg.writeOptionRom) {
    if (!native.pvgWriteOptionRom) {
      process.stderr.write('apple-gfxd: --write-option-rom needs macOS: the option ROM comes from ParavirtualizedGraphics.framework\n');
      process.exit(EXIT_FAILURE);
    }
    try {
      native.pvgWriteOptionRom(cfg.writeOptionRom);
    } catch (e) {
      process.stderr.write(`apple-gfxd: ${(e as Error).message}\n`);
      process.exit(EXIT_FAILURE);
    }
    return;
  }
  const logControl = createLogger(cfg.logLevel);
  const log = logControl.logger;
  for (const what of secretFileWarnings) log.warn({ what }, 'secret_file_exposed');
  try {
    checkBackend(cfg.backend);
  } catch (e) {
    log.fatal({ backend: cfg.backend }, (e as Error).message);
    process.stderr.write(`apple-gfxd: ${(e as Error).message}\n`);
    process.exit(EXIT_FAILURE);
  }

  let displays: Displays | null = null;
  let backend: NativeBackend;
  try {
    const ports = displayPortsToAsk(cfg.backend, cfg.displays.length);
    backend = startBackend(cfg.backend, cfg.variant, ports, cfg.memoryModel, (events) => displays?.handle(events));
    if (cfg.displays.length > backend.displayPorts)
      throw new Error(`${cfg.displays.length} displays; backend '${backend.name}' has ${backend.displayPorts} display ports`);
    // Per instance, stable across restarts (pvg-on-a-mac.md finding 18).
    const serialBase = cfg.serialBase ?? serialBaseFor(cfg.socketPath ?? `fd:${cfg.fd ?? 'activation'}`);
    displays = new Displays(backend, log, backend.displayPorts, serialBase);
    cfg.displays.forEach((modes, port) => displays!.attach(modes, port));
  } catch (e) {
    log.fatal({ backend: cfg.backend }, (e as Error).message);
    process.stderr.write(`apple-gfxd: ${(e as Error).message}\n`);
    process.exit(EXIT_FAILURE);
  }
  let listenFd: number;
  try {
    listenFd = cfg.fd !== null ? native.adoptListener(cfg.fd) : native.listenUnix(cfg.socketPath!, cfg.socketMode);
  } catch (e) {
    process.stderr.write(`apple-gfxd: cannot serve ${cfg.socketPath ?? `fd ${cfg.fd}`}: ${(e as Error).message}\n`);
    process.exit(EXIT_FAILURE);
  }

  const device = new AppleGfxPciDevice({ variant: cfg.variant, log, backend });
  device.migration = new DeviceMigration({ device, displays: displays!, backendName: backend.name, memoryModel: cfg.memoryModel }, log);
  const limits = { ...defaultServerLimits, writeMultiple: cfg.writeMultiple };
  const server = new VfioUserServer(listenFd, device, limits, log);
  server.start();
  logControl.onChange(() => server.refreshTracing());
  const viewers = new Viewers(cfg, displays!, log);
  try {
    await viewers.start();
  } catch (e) {
    process.stderr.write(`apple-gfxd: cannot start the viewers: ${(e as Error).message}\n`);
    server.stop();
    if (cfg.socketPath) unlinkSync(cfg.socketPath);
    process.exit(EXIT_FAILURE);
  }
  // Where a person looks: printed once, on stderr with the logs (it may carry the token).
  if (viewers.webUrl) process.stderr.write(`apple-gfxd: browser viewer at ${viewers.webUrl}\n`);
  // The JS thread's responsiveness, for `ctl status`: sampled every 20 ms
  // (a timer of its own, 50 wake-ups a second).
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  loopDelay.enable();
  let control: ControlServer | null = null;
  if (cfg.control) {
    control = new ControlServer(
      cfg.control,
      {
        version: VERSION,
        backendName: backend.name,
        memoryModel: cfg.memoryModel,
        startedAt: Date.now(),
        eventLoopDelay: { histogram: loopDelay, resolutionMs: LOOP_DELAY_RESOLUTION_MS },
        server,
        device,
        displays: displays!,
        logs: logControl,
        viewers: () => viewers.list(),
      },
      log,
    );
    try {
      await control.start(cfg.socketMode);
    } catch (e) {
      process.stderr.write(`apple-gfxd: cannot serve the control socket ${cfg.control}: ${(e as Error).message}\n`);
      server.stop();
      if (cfg.socketPath) unlinkSync(cfg.socketPath);
      process.exit(EXIT_FAILURE);
    }
  }
  log.info(
    {
      socket: cfg.socketPath,
      fd: cfg.fd,
      control: cfg.control,
      variant: cfg.variant,
      backend: backend.name,
      memoryModel: cfg.memoryModel,
      displays: cfg.displays.length,
    },
    'apple_gfx_common_init',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'apple_gfxd_stopping');
    server.stop();
    control?.stop();
    void viewers.stop();
    if (cfg.socketPath) {
      try {
        unlinkSync(cfg.socketPath);
      } catch {
        // already gone
      }
    }
    // The client's release (and any reset or restore under way) runs a
    // backend call on a thread of its own: exit once it is done, not under
    // it (bounded: a backend that never returns does not keep us).
    const idle = device.ops.idle();
    const bound = new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref());
    void Promise.race([idle, bound]).then(() => process.exit(EXIT_OK));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Input never crashes the daemon; a bug might. Log it, keep serving.
  process.on('uncaughtException', (err) => log.error({ err }, 'apple_gfxd_internal_error'));
}

main().catch((e) => {
  process.stderr.write(`apple-gfxd: ${(e as Error).stack ?? e}\n`);
  process.exit(EXIT_FAILURE);
});
