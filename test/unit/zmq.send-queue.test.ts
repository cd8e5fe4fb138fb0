import { lastValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import type { ZmqFrame } from '../../src/zmq/index.js';
import { PendingEmit, SendQueue } from '../../src/zmq/zmq.send-queue.js';

type OnFailure = (emit: PendingEmit, error: Error, observed: boolean) => void;

const emitOf = (topic: string, onFailure = vi.fn<OnFailure>()) => new PendingEmit(topic, [topic], onFailure);

/** A stand-in for a zeromq.js socket that, like the real one, refuses a second pending send. */
function fakeSocket() {
  const sent: ZmqFrame[][] = [];
  let busy = false;
  let overlaps = 0;
  const send = async (frames: ZmqFrame[]) => {
    if (busy) overlaps++;
    busy = true;
    await Promise.resolve();
    sent.push(frames);
    busy = false;
  };
  return { sent, send, overlaps: () => overlaps };
}

describe('SendQueue', () => {
  it('sends everything queued before and after start, in order, one send at a time', async () => {
    const queue = new SendQueue();
    const socket = fakeSocket();
    const emits = Array.from({ length: 10_000 }, (_, i) => emitOf(`t${i}`));
    emits.slice(0, 5000).forEach((emit) => queue.push(emit));
    queue.start(socket.send);
    emits.slice(5000).forEach((emit) => queue.push(emit));
    await expect(queue.drain(10_000)).resolves.toBe(true);
    expect(socket.sent.map(([topic]) => topic)).toEqual(emits.map((emit) => emit.topic));
    expect(socket.overlaps()).toBe(0);
    expect(queue.sent).toBe(10_000);
    await expect(lastValueFrom(emits[9999]!)).resolves.toBeUndefined();
  });

  it('fails one emit whose send fails and goes on with the next', async () => {
    const queue = new SendQueue();
    const failing = emitOf('bad');
    const next = emitOf('good');
    queue.start(async ([topic]) => {
      if (topic === 'bad') throw new Error('EAGAIN');
    });
    const results = Promise.allSettled([lastValueFrom(failing), lastValueFrom(next)]);
    queue.push(failing);
    queue.push(next);
    const [first, second] = await results;
    expect(first).toMatchObject({ status: 'rejected', reason: new Error('EAGAIN') });
    expect(second.status).toBe('fulfilled');
  });

  it('reports when draining times out, and fails what stop() leaves behind', async () => {
    const queue = new SendQueue();
    const onFailure = vi.fn<OnFailure>();
    const stuck = new PendingEmit('stuck', ['stuck'], onFailure);
    queue.push(stuck);
    await expect(queue.drain(1)).resolves.toBe(false);
    expect(queue.stop(new Error('closed'))).toBe(1);
    await Promise.resolve();
    expect(onFailure).toHaveBeenCalledWith(stuck, new Error('closed'), false);
    await expect(lastValueFrom(stuck)).rejects.toThrow('closed');
  });
});

describe('PendingEmit', () => {
  it('tells a subscriber about a failure, and reports it as observed', async () => {
    const onFailure = vi.fn<OnFailure>();
    const emit = new PendingEmit('t', [], onFailure);
    const result = lastValueFrom(emit);
    emit.fail(new Error('nope'));
    await expect(result).rejects.toThrow('nope');
    expect(onFailure).toHaveBeenCalledWith(emit, new Error('nope'), true);
  });

  it('emits undefined once and completes when sent, also for late subscribers', async () => {
    const emit = new PendingEmit('t', [], vi.fn<OnFailure>());
    emit.sent();
    const values: unknown[] = [];
    await new Promise<void>((resolve) =>
      emit.subscribe({ next: (value) => values.push(value), complete: resolve }),
    );
    expect(values).toEqual([undefined]);
  });
});
