// A message transport: whole vfio-user messages with their file descriptors.
// The owner feeds received messages to a session and reports the close.
export interface Transport {
  /** Sends one whole message atomically (one sendmsg); fds ride on it. Returns false if the peer is gone. */
  send(message: Buffer, fds?: readonly number[]): boolean;
  close(): void;
}

export interface TransportHandlers {
  onMessage(message: Buffer, fds: number[]): void;
  /** `reason` is null for an orderly disconnect, else why the transport gave up (framing). */
  onClose(reason: string | null): void;
}
