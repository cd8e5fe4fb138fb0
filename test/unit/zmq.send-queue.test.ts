import { lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

/** The error zeromq.js rejects a send with when an XPUB_NODROP subscriber's queue is full. */
function eagain(): Error {
  return Object.assign(new Error('Resource temporarily unavailable'), { code: 'EAGAIN' });
}
const isEagain = (error: unknown) => (error as { code?: string }).code === 'EAGAIN';
type Send = (frames: ZmqFrame[]) => Promise<void>;

function observer() {
  return {
    next: vi.fn<(value: undefined) => void>(),
    error: vi.fn<(error: unknown) => void>(),
    complete: vi.fn<() => void>(),
  };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
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

describe('SendQueue retries', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries a send before anything queued behind it: each emit once, in order, counted once', async () => {
    const queue = new SendQueue();
    const socket = fakeSocket();
    let refusals = 5;
    const attempts: string[] = [];
    queue.start(async (frames) => {
      attempts.push(String(frames[0]));
      if (frames[0] === 't3' && refusals-- > 0) throw eagain();
      await socket.send(frames);
    }, isEagain);
    const onFailure = vi.fn<OnFailure>();
    const emits = Array.from({ length: 10 }, (_, i) => emitOf(`t${i}`, onFailure));
    const results = Promise.all(emits.map((emit) => lastValueFrom(emit)));
    emits.forEach((emit) => queue.push(emit));

    await expect(results).resolves.toHaveLength(10);
    expect(socket.sent.map(([topic]) => topic)).toEqual(emits.map((emit) => emit.topic));
    expect(attempts.filter((topic) => topic === 't3')).toHaveLength(6);
    // Nothing behind t3 was tried while t3 waited for its retries.
    expect(attempts.slice(0, 10)).toEqual(['t0', 't1', 't2', 't3', 't3', 't3', 't3', 't3', 't3', 't4']);
    expect(socket.overlaps()).toBe(0);
    expect(queue.sent).toBe(10);
    expect(queue.size).toBe(0);
    expect(onFailure).not.toHaveBeenCalled();
  });

  it('retries first on the next turn of the event loop, then after 1, 2, ... 10 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
    const queue = new SendQueue();
    const times: number[] = [];
    let refusals = 13;
    queue.start(async () => {
      times.push(Date.now());
      if (refusals-- > 0) throw eagain();
    }, isEagain);
    const emit = emitOf('t');
    const result = lastValueFrom(emit);
    queue.push(emit);
    expect(times).toHaveLength(1);
    await vi.runAllTimersAsync();
    await expect(result).resolves.toBeUndefined();
    const waits = times.slice(1).map((time, i) => time - times[i]!);
    expect(waits).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]);
    expect(queue.sent).toBe(1);
  });

  it('does not retry an error shouldRetry refuses', async () => {
    const queue = new SendQueue();
    const send = vi.fn<Send>(async () => {
      throw Object.assign(new Error('Socket is closed'), { code: 'EBADF' });
    });
    queue.start(send, isEagain);
    const emit = emitOf('t');
    const result = lastValueFrom(emit);
    queue.push(emit);
    await expect(result).rejects.toThrow('Socket is closed');
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('stop() during a pending retry fails that emit and everything queued, and tries no more', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    const queue = new SendQueue();
    const send = vi.fn<Send>(async (frames) => {
      if (frames[0] === 'stuck') throw eagain();
    });
    let refusals = 0;
    const retrying = deferred();
    queue.start(send, (error) => {
      // Called right before the retry is scheduled: once this resolves, a retry is pending.
      if (++refusals === 3) retrying.resolve();
      return isEagain(error);
    });
    const onFailure = vi.fn<OnFailure>();
    const done = emitOf('done', onFailure);
    const stuck = emitOf('stuck', onFailure);
    const queued = [emitOf('a', onFailure), emitOf('b', onFailure)];
    const results = [done, stuck, ...queued].map((emit) => lastValueFrom(emit).then(() => 'sent', String));
    [done, stuck, ...queued].forEach((emit) => queue.push(emit));
    await vi.advanceTimersByTimeAsync(1);
    await retrying.promise;
    expect(send).toHaveBeenCalledTimes(4);

    expect(queue.stop(new Error('closed'))).toBe(3);
    expect(queue.size).toBe(0);
    expect(await Promise.all(results)).toEqual(['sent', 'Error: closed', 'Error: closed', 'Error: closed']);
    expect(onFailure.mock.calls.map(([emit, error]) => [emit.topic, error.message])).toEqual([
      ['stuck', 'closed'],
      ['a', 'closed'],
      ['b', 'closed'],
    ]);
    await vi.runAllTimersAsync();
    expect(send).toHaveBeenCalledTimes(4);
    expect(queue.sent).toBe(1);
  });
});

describe('SendQueue hand-off', () => {
  it('hands an emit pushed while idle to send() before push() returns', async () => {
    const queue = new SendQueue();
    const send = vi.fn<Send>(() => Promise.resolve());
    queue.start(send);
    for (let i = 0; i < 3; i++) {
      const emit = emitOf(`t${i}`);
      queue.push(emit);
      expect(send).toHaveBeenCalledTimes(i + 1);
      expect(send).toHaveBeenLastCalledWith([`t${i}`]);
      await lastValueFrom(emit);
    }
    expect(queue.sent).toBe(3);
  });

  it('sends the next emit only once the previous send has settled', async () => {
    const queue = new SendQueue();
    const sends: { topic: string; done: ReturnType<typeof deferred> }[] = [];
    queue.start((frames) => {
      const done = deferred();
      sends.push({ topic: String(frames[0]), done });
      return done.promise;
    });
    const [first, second] = [emitOf('first'), emitOf('second')];
    const results = Promise.all([lastValueFrom(first), lastValueFrom(second)]);
    queue.push(first);
    queue.push(second);
    expect(sends.map(({ topic }) => topic)).toEqual(['first']);
    expect(queue.size).toBe(2);
    sends[0]!.done.resolve();
    await lastValueFrom(first);
    expect(sends.map(({ topic }) => topic)).toEqual(['first', 'second']);
    sends[1]!.done.resolve();
    await results;
    expect(queue.sent).toBe(2);
  });

  it('fails only the emit whose send throws synchronously, and goes on', async () => {
    const queue = new SendQueue();
    const sent: string[] = [];
    queue.start((frames) => {
      if (frames[0] === 'bad') throw new Error('Socket is busy writing');
      sent.push(String(frames[0]));
      return Promise.resolve();
    });
    const onFailure = vi.fn<OnFailure>();
    const [bad, good] = [emitOf('bad', onFailure), emitOf('good', onFailure)];
    const results = Promise.allSettled([lastValueFrom(bad), lastValueFrom(good)]);
    expect(() => queue.push(bad)).not.toThrow();
    queue.push(good);
    const [first, second] = await results;
    expect(first).toMatchObject({ status: 'rejected', reason: new Error('Socket is busy writing') });
    expect(second.status).toBe('fulfilled');
    expect(sent).toEqual(['good']);
    expect(queue.sent).toBe(1);
    expect(onFailure).toHaveBeenCalledTimes(1);
  });

  it('stop() fails what is queued but lets the send already handed over settle on its own', async () => {
    const queue = new SendQueue();
    const inSocket = deferred();
    queue.start(() => inSocket.promise);
    const [handed, queued] = [emitOf('handed'), emitOf('queued')];
    const results = [handed, queued].map((emit) => lastValueFrom(emit).then(() => 'sent', String));
    queue.push(handed);
    queue.push(queued);
    expect(queue.stop(new Error('closed'))).toBe(1);
    inSocket.resolve();
    expect(await Promise.all(results)).toEqual(['sent', 'Error: closed']);
    expect(queue.sent).toBe(1);
  });

  it('keeps one send at a time when an observer emits again as its emit completes', async () => {
    // rxjs calls observers synchronously: one that emits from its callback re-enters the queue
    // while the queue is settling the previous send.
    const queue = new SendQueue();
    const socket = fakeSocket();
    queue.start(socket.send);
    const emits = [emitOf('a'), emitOf('b')];
    const chained = emitOf('chained');
    emits[0]!.subscribe({ complete: () => queue.push(chained) });
    const all = Promise.all([...emits, chained].map((emit) => lastValueFrom(emit)));
    for (const emit of emits) queue.push(emit);
    await all;
    expect(socket.sent.map(([topic]) => topic)).toEqual(['a', 'b', 'chained']);
    expect(socket.overlaps()).toBe(0);
    expect(queue.sent).toBe(3);
  });

  it('does not notify an observer that unsubscribed before the emit settled', async () => {
    const queue = new SendQueue();
    const inSocket = deferred();
    queue.start(() => inSocket.promise);
    const emit = emitOf('t');
    const gone = observer();
    const stays = observer();
    emit.subscribe(gone).unsubscribe();
    emit.subscribe(stays);
    queue.push(emit);
    inSocket.resolve();
    await lastValueFrom(emit);
    expect(stays.next).toHaveBeenCalledWith(undefined);
    expect(stays.complete).toHaveBeenCalledTimes(1);
    expect(gone.next).not.toHaveBeenCalled();
    expect(gone.complete).not.toHaveBeenCalled();
    expect(gone.error).not.toHaveBeenCalled();

    const failing = emitOf('f');
    const left = observer();
    failing.subscribe(left).unsubscribe();
    failing.fail(new Error('nope'));
    await expect(lastValueFrom(failing)).rejects.toThrow('nope');
    expect(left.error).not.toHaveBeenCalled();
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
