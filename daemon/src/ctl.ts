// `apple-gfxd ctl SUBCOMMAND ...`: the command-line client of the control API.
// Human output by default, --json for machines. Exit 0 on success, 1 on an
// error response or connection failure, 2 on bad usage.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ControlClient, ControlReplyError } from './control/control-client.js';
import type { DisplayInfo, RequestBody, Status } from './control/control-types.js';
import type { Init, ReplyTo, RequestKind } from './control/schema.js';
import { formatMode, parseModeList } from './display/modes.js';
import type { DisplayModeSpec } from './native.js';
import { writePrivateFile } from './private-file.js';

const fmtBytes = (n: number): string =>
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${n} B`;
const hex = (n: number): string => `0x${n.toString(16)}`;

function humanStatus(s: Status): string {
  const lines = [
    `apple-gfxd ${s.version}  backend ${s.backend}  variant ${s.variant}  memory model ${s.memoryModel}  up ${s.uptimeSeconds.toFixed(0)} s  log ${s.logLevel}`,
    `client: ${s.clientConnected ? 'connected' : 'none'} (${s.clientsServed} served)` +
      (s.negotiated ? `  max_data_xfer_size ${s.negotiated.maxDataXferSize} max_msg_fds ${s.negotiated.maxMsgFds}` : ''),
    ...(s.dataPlane
      ? [
          `data plane: ${s.dataPlane.messages} messages, ${s.dataPlane.native} answered natively (${s.dataPlane.errors} refused), ${s.dataPlane.handed} to the session; ${s.dataPlane.queuedBytes} B waiting to be sent; ${s.dataPlane.eventsDropped} log events dropped`,
        ]
      : []),
    ...(s.eventLoopDelay
      ? [
          `event loop delay: p50 ${s.eventLoopDelay.p50Ms.toFixed(1)} ms  p99 ${s.eventLoopDelay.p99Ms.toFixed(1)} ms  max ${s.eventLoopDelay.maxMs.toFixed(1)} ms`,
        ]
      : []),
    `guest memory: ${s.guestMemory.length ? s.guestMemory.map((r) => `${hex(r.gpa)}+${fmtBytes(r.size)}${r.writable ? '' : ' ro'}`).join(', ') : 'none'}`,
    `tasks: ${s.tasks?.tasks ?? 0} (${s.tasks?.aliases ?? 0} aliases; ${s.tasks?.maps ?? 0} maps, ${s.tasks?.unmaps ?? 0} unmaps, ${s.tasks?.failures ?? 0} failures)  IOSFC mappings: ${s.iosfcMappings}`,
    `interrupts: ${s.vectors.map((v) => `vector ${v.vector} raised ${v.raised} delivered ${v.delivered} dropped ${v.dropped}`).join('; ')}`,
  ];
  for (const d of s.displays)
    lines.push(
      `display ${d.port} "${d.name}" serial ${hex(d.serial)}: ${d.width}x${d.height}, ${d.framesPresented} frames presented, ${d.framesReadOut} read out; modes ${d.modes.map(formatMode).join(',')}; cursor ${d.cursor?.visible ? `at ${d.cursor.x},${d.cursor.y}` : 'hidden'}`,
    );
  for (const v of s.viewers) lines.push(`viewer ${v.kind} ${v.peer} on display ${v.port}: ${v.framesSent} frames sent`);
  for (const h of s.latency) {
    if (!h.total) continue;
    const buckets = h.counts
      .map((c, i) => `${i < h.boundsUs.length ? `<=${h.boundsUs[i]}` : `>${h.boundsUs.at(-1)}`}:${c}`)
      .filter((x) => !x.endsWith(':0'));
    lines.push(`latency ${h.name} (${h.total}, us): ${buckets.join(' ')}`);
  }
  return lines.join('\n');
}

function displayLine(d: DisplayInfo): string {
  return `display ${d.port} "${d.name}" serial ${hex(d.serial)}: ${d.width}x${d.height}; modes ${d.modes.map(formatMode).join(',')}`;
}

export async function runCtl(argv: string[]): Promise<number> {
  let exit = 0;
  const program = new Command('apple-gfxd ctl')
    .description('control a running apple-gfxd')
    .addOption(new Option('--control <path>', 'control socket of the daemon').env('APPLE_GFXD_CONTROL').makeOptionMandatory())
    .option('--json', 'print the response as JSON')
    .exitOverride();

  const call = async <K extends RequestKind>(kind: K, body: Init<RequestBody[K]>, human: (r: ReplyTo<K>) => string): Promise<void> => {
    const { control, json } = program.opts<{ control: string; json?: boolean }>();
    let client: ControlClient | null = null;
    try {
      client = await ControlClient.connect(control);
      const r = await client.call(kind, body);
      process.stdout.write((json ? JSON.stringify(r, (k, v) => (k === 'png' || k === 'state' ? undefined : v), 2) : human(r)) + '\n');
    } catch (e) {
      if (e instanceof ControlReplyError) process.stderr.write(`apple-gfxd ctl: ${e.code}: ${e.message}\n`);
      else process.stderr.write(`apple-gfxd ctl: ${(e as Error).message}\n`);
      exit = 1;
    } finally {
      client?.close();
    }
  };
  const modes = (text: string): DisplayModeSpec[] => {
    try {
      return parseModeList(text);
    } catch (e) {
      throw new CommanderError(2, 'ctl.badMode', `bad mode list: ${(e as Error).message}`);
    }
  };
  const port = (text: string): number => {
    if (!/^\d+$/.test(text)) throw new CommanderError(2, 'ctl.badPort', `bad display port '${text}'`);
    return Number(text);
  };

  program
    .command('status')
    .description('device, client, memory, interrupts, displays, viewers, latency')
    .action(() => call('status', {}, (r) => humanStatus(r)));
  const display = program.command('display').description('add, remove or re-mode displays while the guest runs');
  display
    .command('add <modes>')
    .description('hot-plug a display with modes WxH@Hz[,...]')
    .option('--port <n>', 'display port (default: the lowest free one)')
    .option('--name <name>', 'display name')
    .action((m: string, o: { port?: string; name?: string }) =>
      call('displayAdd', { modes: modes(m), port: o.port === undefined ? undefined : port(o.port), name: o.name ?? '' }, displayLine),
    );
  display
    .command('remove <port>')
    .description('hot-unplug a display')
    .action((p: string) => call('displayRemove', { port: port(p) }, () => `display ${p} removed`));
  display
    .command('modes <port> <modes>')
    .description("replace a display's mode list")
    .action((p: string, m: string) => call('displayModes', { port: port(p), modes: modes(m) }, displayLine));
  program
    .command('screenshot <port> <file>')
    .description('write the current frame of a display as PNG')
    .action((p: string, file: string) =>
      call('screenshot', { port: port(p) }, (r) => {
        writePrivateFile(file, r.png); // the guest's screen: 0600
        return `${file}: ${r.width}x${r.height} PNG, frame ${r.sequence}`;
      }),
    );
  program
    .command('reset')
    .description('reset the device')
    .action(() => call('reset', {}, () => 'device reset'));
  program
    .command('log-level [level]')
    .description('show or set the log level; --events selects debug/trace events')
    .option('--events <names>', 'comma-separated event names to keep at debug/trace ("" for all)')
    .action((level: string | undefined, o: { events?: string }) =>
      call(
        'logLevel',
        {
          level: level ?? '',
          traceEvents: o.events ? String(o.events).split(',').filter(Boolean) : [],
          replaceEvents: o.events !== undefined,
        },
        (r) => `log level ${r.level}${r.traceEvents.length ? `; events ${r.traceEvents.join(',')}` : ''}`,
      ),
    );
  program
    .command('save <file>')
    .description('save the device state')
    .action((file: string) => call('save', {}, (r) => (writePrivateFile(file, r.state), `state saved to ${file}`)));
  program
    .command('restore <file>')
    .description('restore a saved device state')
    .action((file: string) => call('restore', { state: readFileSync(file) }, () => 'state restored'));

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code.startsWith('ctl.')) process.stderr.write(`apple-gfxd ctl: ${e.message}\n`);
      return e.exitCode === 0 ? 0 : 2;
    }
    throw e;
  }
  return exit;
}
