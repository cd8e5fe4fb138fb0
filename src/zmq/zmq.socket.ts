import type { Socket } from 'zeromq';
import type { ReplaySubject } from 'rxjs';
import { ZmqStatus } from './zmq.events.js';

const HANDSHAKE_FAILURES = [
  'handshake:error:auth',
  'handshake:error:protocol',
  'handshake:error:other',
] as const;

/**
 * Follows a socket's peers through its monitor events and pushes the status: `connected` while
 * at least one peer has completed the ZMTP (or CURVE) handshake. A TCP connection alone is not a
 * peer: a refused or plain-text peer must not flap the status. A bound socket's events all carry
 * the bound endpoint, so connections are counted rather than named: a disconnect belongs to a
 * failed handshake first, then to a connection that never finished one, then to a peer.
 */
export function followPeers(
  socket: Socket,
  opened: 'connect' | 'accept',
  status$: ReplaySubject<ZmqStatus>,
  notify: (event: 'connect' | 'disconnect', address: string) => void,
): void {
  let connections = 0;
  let peers = 0;
  let failed = 0;
  socket.events.on(opened, () => connections++);
  for (const failure of HANDSHAKE_FAILURES) socket.events.on(failure, () => failed++);
  socket.events.on('handshake', ({ address }) => {
    peers++;
    status$.next(ZmqStatus.CONNECTED);
    notify('connect', address);
  });
  socket.events.on('disconnect', ({ address }) => {
    connections = Math.max(0, connections - 1);
    if (failed > 0) {
      failed--;
    } else if (peers > 0 && connections < peers) {
      peers--;
      if (peers === 0) status$.next(ZmqStatus.DISCONNECTED);
      notify('disconnect', address);
    }
  });
}

/** Turns whatever a library threw into an Error. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * zeromq.js's "nothing now" error: a read found no message (also how a pending read ends when
 * its socket closes, or times out), or an XPUB_NODROP send found a subscriber's queue full.
 */
export function isEagain(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'EAGAIN';
}
