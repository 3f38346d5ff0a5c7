// The native socket as a vfio-user Transport (protocol/ stays transport-free).
import { maxMessageSize, defaultServerLimits, VfioUserClient, type Transport, type TransportHandlers } from 'vfio-user-ts';
import { native, type NativeConnection } from './native.js';

export interface NativeTransport extends Transport {
  readonly connection: NativeConnection;
}

/** Wraps a connected socket fd; the handlers see each whole message with its fds. */
export function nativeTransport(
  fd: number,
  handlers: TransportHandlers,
  opts: { maxMessageSize: number; maxFds: number },
): NativeTransport {
  const connection = new native.Connection(
    fd,
    (message, fds) => handlers.onMessage(message, fds),
    (reason) => handlers.onClose(reason),
    opts,
  );
  return {
    connection,
    send: (message, fds) => connection.send(message, fds),
    close: () => connection.close(),
  };
}

/** A client (the VMM side) connected to a vfio-user socket: for tests and tools. */
export function connectClient(path: string, opts = { maxMessageSize: maxMessageSize(defaultServerLimits), maxFds: 16 }): VfioUserClient {
  const client = new VfioUserClient();
  client.attach(nativeTransport(native.connectUnix(path), client, opts));
  return client;
}
