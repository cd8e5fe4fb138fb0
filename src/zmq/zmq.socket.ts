import type { Socket } from 'zeromq';
import type { ReplaySubject } from 'rxjs';
import { ZmqStatus } from './zmq.events.js';

/**
 * Follows a socket's peer connections through its monitor events and pushes the status:
 * `connected` while at least one peer is up. `up` is `connect` for a connecting socket and
 * `accept` for a bound one (whose events all carry the bound endpoint, so peers are counted).
 */
export function followPeers(
  socket: Socket,
  up: 'connect' | 'accept',
  status$: ReplaySubject<ZmqStatus>,
  notify: (event: 'connect' | 'disconnect', address: string) => void,
): void {
  let peers = 0;
  socket.events.on(up, ({ address }) => {
    peers++;
    status$.next(ZmqStatus.CONNECTED);
    notify('connect', address);
  });
  socket.events.on('disconnect', ({ address }) => {
    peers = Math.max(0, peers - 1);
    if (peers === 0) status$.next(ZmqStatus.DISCONNECTED);
    notify('disconnect', address);
  });
}

/** Turns whatever a library threw into an Error. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
