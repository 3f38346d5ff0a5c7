// A QMP server the test owns, speaking QEMU's greeting/capabilities handshake
// and recording every command (input-send-event in particular).
import { createServer, type Server, type Socket } from 'node:net';

export type QmpInputEvent = { type: string; data: Record<string, unknown> };

export class FakeQmp {
  server: Server;
  commands: { execute: string; id?: unknown; arguments?: { events: QmpInputEvent[] } }[] = [];
  sockets: Socket[] = [];
  /** What `query-name` returns (QEMU's -name); undefined: QEMU without a name. */
  vmName: string | undefined;
  constructor(readonly path: string) {
    this.server = createServer((s) => {
      this.sockets.push(s);
      s.write(JSON.stringify({ QMP: { version: { qemu: { major: 11, minor: 1, micro: 3 } }, capabilities: [] } }) + '\r\n');
      let buf = '';
      s.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const cmd = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          this.commands.push(cmd);
          const ret = cmd.execute === 'query-name' && this.vmName !== undefined ? { name: this.vmName } : {};
          s.write(JSON.stringify(cmd.id === undefined ? { return: ret } : { return: ret, id: cmd.id }) + '\r\n');
        }
      });
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.path, r));
  }
  close(): void {
    this.sockets.forEach((s) => s.destroy());
    this.server.close();
  }
  events() {
    return this.commands.filter((c) => c.execute === 'input-send-event').map((c) => c.arguments!.events);
  }
}
