import { describe, expect, it } from 'vitest';
import { ZmqPatternError } from '../../src/zmq/index.js';
import { TopicRouter } from '../../src/zmq/zmq.router.js';

describe('TopicRouter', () => {
  it('matches exact patterns exactly, although ZeroMQ subscribes by prefix', () => {
    const router = new TopicRouter([
      ['hello', 'h1'],
      ['hello.world', 'h2'],
    ]);
    expect(router.match('hello')).toEqual(['h1']);
    expect(router.match('hello.world')).toEqual(['h2']);
    expect(router.match('helloX')).toEqual([]);
    expect(router.match('hell')).toEqual([]);
    expect(router.subscriptions).toEqual(['hello']);
  });

  it('keeps every handler of one pattern', () => {
    const router = new TopicRouter([
      ['delete', 'a'],
      ['delete', 'b'],
    ]);
    expect(router.match('delete')).toEqual(['a', 'b']);
  });

  it('matches * to exactly one token and > to one or more trailing tokens', () => {
    const router = new TopicRouter([
      ['cache.*', 'star'],
      ['audit.>', 'tail'],
      ['*.created', 'lead'],
      ['cache.flush', 'exact'],
    ]);
    expect(router.match('cache.flush')).toEqual(['exact', 'star']);
    expect(router.match('cache.user')).toEqual(['star']);
    expect(router.match('cache.user.42')).toEqual([]);
    expect(router.match('cache')).toEqual([]);
    expect(router.match('audit.login')).toEqual(['tail']);
    expect(router.match('audit.login.failed')).toEqual(['tail']);
    expect(router.match('audit')).toEqual([]);
    expect(router.match('user.created')).toEqual(['lead']);
    expect(router.match('user.created.x')).toEqual([]);
    // The literal prefix of `*.created` is empty, so it covers every other subscription.
    expect(router.subscriptions).toEqual(['']);
  });

  it('subscribes by the literal prefix of each wildcard pattern, without redundant prefixes', () => {
    const router = new TopicRouter([
      ['cache.*', 1],
      ['cache.user.*', 2],
      ['audit.>', 3],
      ['auditor', 4],
    ]);
    expect(router.subscriptions.toSorted()).toEqual(['audit.', 'auditor', 'cache.']);
  });

  it('treats * and > inside a token as literal characters', () => {
    const router = new TopicRouter([['a*b.c>', 'x']]);
    expect(router.match('a*b.c>')).toEqual(['x']);
    expect(router.match('aXb.c>')).toEqual([]);
  });

  it('returns the same answer from its cache', () => {
    const router = new TopicRouter([['x.*', 'w']]);
    expect(router.match('x.y')).toBe(router.match('x.y'));
  });

  it('matches long topics as well as short ones, every time', () => {
    const router = new TopicRouter([
      ['x.*', 'w'],
      ['x.>', 't'],
    ]);
    const long = `x.${'y'.repeat(64 * 1024)}`;
    for (let i = 0; i < 2; i++) {
      expect(router.match(long)).toEqual(['w', 't']);
      expect(router.match(`${long}.z`)).toEqual(['t']);
    }
  });

  it('rejects an empty pattern and > before the last token', () => {
    expect(() => new TopicRouter([['', 1]])).toThrow(ZmqPatternError);
    expect(() => new TopicRouter([['a.>.b', 1]])).toThrow('">" may only be the last token');
  });
});
