// One daemon for the enclosing describe(): started before its tests, stopped
// after them; every client a test connects through the fixture is closed
// after that test, pass or fail, so a failure cannot block the next test.
import { after, afterEach, before } from 'node:test';
import { PciIrq, type VfioUserClient } from 'vfio-user-ts';
import { native } from '#daemon/native.js';
import { startDaemon, type LogLine, type RunningDaemon } from './daemon.js';
import { DEVICE_ID, GuestRam, Reg } from './soft-ring.js';

export interface DaemonFixture {
  /** The running daemon (from before() on). */
  readonly d: RunningDaemon;
  /** A client that has negotiated VERSION as QEMU does. */
  connect(): Promise<VfioUserClient>;
  /** A client that has sent nothing yet. */
  connectRaw(): VfioUserClient;
  /** A log line that appears after `mark` (an index into d.logs). */
  logAfter(mark: number, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The daemon's fd count once every earlier message on `c` is fully handled. */
  settledFds(c: VfioUserClient): Promise<number>;
  /** The daemon's mappings of the memfd called `name` (/proc/PID/maps lines). */
  mappingsOf(name: string): string[];
  /**
   * A VMM attached as QEMU attaches one: negotiated, guest RAM mapped from its
   * fd at its guest-physical address, an eventfd on MSI-X vector 0 (closed
   * after the test).
   */
  attachVmm(ram: { gpa: bigint; size: number; fd: number }): Promise<{ vmm: VfioUserClient; efd: number }>;
}

export function useDaemon(args: string[] = []): DaemonFixture {
  let daemon: RunningDaemon | undefined;
  const open: VfioUserClient[] = [];
  const eventfds: number[] = [];
  before(async () => {
    daemon = await startDaemon(args);
  });
  after(async () => {
    await daemon?.stop();
  });
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
    for (const fd of eventfds.splice(0)) native.closeFd(fd);
  });
  const d = (): RunningDaemon => {
    if (!daemon) throw new Error('the daemon is started in before()');
    return daemon;
  };
  return {
    get d() {
      return d();
    },
    async connect() {
      const c = await d().connectNegotiated();
      open.push(c);
      return c;
    },
    connectRaw() {
      const c = d().connect();
      open.push(c);
      return c;
    },
    logAfter(mark, pred, timeoutMs = 3000) {
      return d().waitForLog((l) => d().logs.indexOf(l) >= mark && pred(l), timeoutMs);
    },
    async settledFds(c) {
      const id = await c.read32(0, Reg.ID);
      if (id !== DEVICE_ID) throw new Error(`ID register reads 0x${id.toString(16)}`);
      return d().fdCount();
    },
    mappingsOf(name) {
      return d()
        .memfdMappings()
        .filter((l) => l.includes(`/memfd:${name} `));
    },
    async attachVmm(ram) {
      const vmm = await this.connect();
      await vmm.dmaMap({ iova: ram.gpa, size: BigInt(ram.size), fd: ram.fd });
      const efd = native.eventfdCreate();
      eventfds.push(efd);
      await vmm.setIrqEventfds(PciIrq.MSIX, 0, [efd]);
      return { vmm, efd };
    },
  };
}

export interface GuestRamFixture {
  readonly fd: number;
  /** Reads and writes it as the guest would. */
  readonly ram: GuestRam;
  /** What attachVmm maps. */
  readonly region: { gpa: bigint; size: number; fd: number };
}

/** Guest RAM at `gpa` (a memfd) for the enclosing describe(): created before its tests, closed after. */
export function useGuestRam(gpa: bigint, size: number, tag = 'guest-ram'): GuestRamFixture {
  let mem: { fd: number; ram: GuestRam } | undefined;
  before(() => {
    const { fd } = memfd(size, tag);
    mem = { fd, ram: new GuestRam(fd, gpa, size) };
  });
  after(() => {
    if (mem) native.closeFd(mem.fd);
  });
  const get = () => {
    if (!mem) throw new Error('guest RAM is created in before()');
    return mem;
  };
  return {
    get fd() {
      return get().fd;
    },
    get ram() {
      return get().ram;
    },
    get region() {
      return { gpa, size, fd: get().fd };
    },
  };
}

let memfdSerial = 0;

/** A memfd of `size` bytes standing in for guest RAM, named so the daemon's mappings of it can be found. */
export function memfd(size: number, tag = 'ram'): { fd: number; name: string } {
  const name = `agfx-it-${tag}-${process.pid}-${++memfdSerial}`;
  return { fd: native.memfdCreate(name, size), name };
}

/** Configuration-space reads of 16 and 32 bits. */
export const cfg16 = async (c: VfioUserClient, off: number): Promise<number> => (await c.configRead(off, 2)).readUInt16LE(0);
export const cfg32 = async (c: VfioUserClient, off: number): Promise<number> => (await c.configRead(off, 4)).readUInt32LE(0);
