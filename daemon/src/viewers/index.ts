// The viewers a person looks at (VNC, browser) and the input channel
// back to QEMU, started from the command line.
import type { Logger } from 'pino';
import type { Config } from '../cli.js';
import type { ViewerInfo } from '../control/context.js';
import type { Displays } from '../display/displays.js';
import { NullInput, type InputSink } from '../input/input-sink.js';
import { QmpInput } from '../input/qmp.js';
import { DesktopNames } from './desktop-name.js';
import { VncServer } from './vnc/index.js';
import { WebViewer } from './web/web-server.js';

export class Viewers {
  readonly input: InputSink;
  /** The desktops' names, with the VM's name while QMP tells it. */
  readonly names = new DesktopNames();
  vnc: VncServer | null = null;
  web: WebViewer | null = null;
  /** The browser viewer's address (with ?token= when one is set). */
  webUrl: string | null = null;

  constructor(
    private readonly cfg: Config,
    private readonly displays: Displays,
    private readonly log: Logger,
  ) {
    this.input = cfg.qmp
      ? new QmpInput(
          cfg.qmp,
          log,
          (port) => {
            const d = displays.get(port);
            return d ? { width: d.width, height: d.height } : null;
          },
          (name) => this.names.setVmName(name),
        )
      : new NullInput();
  }

  /** Rejects when a viewer cannot listen (the daemon then exits 1). */
  async start(): Promise<void> {
    if (this.input instanceof QmpInput) this.input.start();
    if (this.cfg.vnc) {
      this.vnc = new VncServer({
        listen: this.cfg.vnc,
        websocket: this.cfg.vncWebsocket,
        websocketOrigins: this.cfg.vncWebsocketOrigins,
        allowResize: this.cfg.vncResize,
        displays: this.displays,
        input: this.input,
        log: this.log,
        password: this.cfg.vncPassword ?? undefined,
        names: this.names,
      });
      await this.vnc.start();
      for (const d of this.displays.list()) {
        const a = this.vnc.address(d.port);
        if (a) this.log.info({ display: d.port, host: a.host, port: a.port }, 'vnc_listening');
      }
    }
    if (this.cfg.web) {
      // A token from a file, else from APPLE_GFXD_WEB_TOKEN: never on the command line.
      const token = this.cfg.webToken ?? process.env.APPLE_GFXD_WEB_TOKEN ?? undefined;
      const opts = {
        host: this.cfg.web.host,
        port: this.cfg.web.port,
        displays: this.displays,
        input: this.input,
        log: this.log,
        allowResize: this.cfg.webResize,
      };
      this.web = new WebViewer(token ? { ...opts, token } : opts);
      this.webUrl = (await this.web.start()).url;
    }
  }

  async stop(): Promise<void> {
    if (this.input instanceof QmpInput) this.input.stop();
    await Promise.all([this.vnc?.stop(), this.web?.stop()]);
  }

  list(): ViewerInfo[] {
    const out: ViewerInfo[] = [];
    for (const d of this.vnc?.stats() ?? [])
      for (const c of d.clients) out.push({ kind: 'vnc', peer: c.remote, port: d.display, framesSent: c.updates });
    if (this.web) {
      const w = this.web.stats();
      // The browser viewer counts per server, not per client.
      if (w.clients > 0) out.push({ kind: 'web', peer: `${w.clients} browser(s)`, port: 0, framesSent: w.updates });
    }
    return out;
  }
}
