import { describe, expect, it } from 'vitest';
import {
  parseAddressList,
  resolveZmqOptions,
  ZmqConfigError,
  zmqOptionsFromEnv,
} from '../../src/zmq/index.js';

describe('parseAddressList', () => {
  it('splits on commas, trims whitespace and drops empty entries, as CubicWeb does', () => {
    expect(parseAddressList(' tcp://localhost:1234, tcp://192.168.1.1:2345 ,, ')).toEqual([
      'tcp://localhost:1234',
      'tcp://192.168.1.1:2345',
    ]);
    expect(parseAddressList(['ipc:///tmp/a ', '', ' inproc://b'])).toEqual(['ipc:///tmp/a', 'inproc://b']);
    expect(parseAddressList(undefined)).toEqual([]);
    expect(parseAddressList('  ')).toEqual([]);
  });
});

describe('resolveZmqOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveZmqOptions({})).toMatchObject({
      pubAddress: undefined,
      subAddresses: [],
      codec: 'frames',
      receiveAs: 'string',
      backpressure: 'drop',
      sendHighWaterMark: 1000,
      receiveHighWaterMark: 1000,
      linger: 1000,
      maxMessageSize: -1,
      reconnectInterval: 100,
      ipv6: false,
    });
  });

  it('accepts tcp, ipc and inproc, ephemeral bind ports and IPv6 literals', () => {
    const options = resolveZmqOptions({
      pubAddress: 'tcp://*:*',
      subAddresses: 'tcp://[::1]:5555, ipc:///tmp/bus.sock, inproc://bus, TCP://localhost:1',
    });
    expect(options.pubAddress).toBe('tcp://*:*');
    expect(options.subAddresses).toEqual([
      'tcp://[::1]:5555',
      'ipc:///tmp/bus.sock',
      'inproc://bus',
      'tcp://localhost:1',
    ]);
    expect(options.ipv6).toBe(true);
  });

  it.each([
    [
      'pubAddress',
      'localhost:5555',
      /ZMQ_ADDRESS_PUB \(pubAddress\) = "localhost:5555": expected scheme:\/\//,
    ],
    ['pubAddress', 'udp://127.0.0.1:5555', /ZMQ_ADDRESS_PUB .*unsupported scheme "udp"/],
    [
      'subAddresses',
      'tcp://127.0.0.1',
      /ZMQ_ADDRESS_SUB \(subAddresses\) = "tcp:\/\/127.0.0.1": a tcp address/,
    ],
    ['subAddresses', 'tcp://127.0.0.1:70000', /ZMQ_ADDRESS_SUB .*the port must be 1 to 65535/],
    ['subAddresses', 'tcp://127.0.0.1:*', /ZMQ_ADDRESS_SUB .*only a bind address may use port \*/],
    ['subAddresses', 'tcp://*:5555', /ZMQ_ADDRESS_SUB .*host \* can only be bound/],
    ['subAddresses', 'inproc://', /ZMQ_ADDRESS_SUB .*needs a location/],
    ['subAddresses', `ipc:///${'x'.repeat(120)}`, /ZMQ_ADDRESS_SUB .*at most 107 bytes/],
  ])('rejects %s = %s, naming the variable and the value', (option, value, message) => {
    expect(() => resolveZmqOptions({ [option]: value })).toThrow(ZmqConfigError);
    expect(() => resolveZmqOptions({ [option]: value })).toThrow(message);
  });

  it.each([
    [{ codec: 'xml' }, /ZMQ_CODEC \(codec\) = "xml": expected one of frames, json/],
    [{ receiveAs: 'bytes' }, /ZMQ_RECEIVE_AS .*expected one of string, buffer/],
    [{ backpressure: 'wait' }, /ZMQ_BACKPRESSURE .*expected one of drop, block/],
    [{ sendHighWaterMark: -1 }, /ZMQ_SNDHWM .*at least 0/],
    [{ linger: 1.5 }, /ZMQ_LINGER .*whole number/],
    [{ maxMessageSize: 0 }, /ZMQ_MAX_MESSAGE_SIZE .*-1 for no limit/],
    [{ reconnectInterval: 0 }, /ZMQ_RECONNECT_IVL .*at least 1/],
  ])('rejects %j', (options, message) => {
    expect(() => resolveZmqOptions(options as never)).toThrow(message);
  });
});

const env = (vars: Record<string, string>) => (name: string) => vars[name];

describe('zmqOptionsFromEnv', () => {
  it('reads every variable, treating empty ones as unset', () => {
    expect(
      zmqOptionsFromEnv(
        env({
          ZMQ_ADDRESS_PUB: 'tcp://*:5555',
          ZMQ_ADDRESS_SUB: 'tcp://10.0.0.2:5555, tcp://10.0.0.3:5555',
          ZMQ_CODEC: 'JSON',
          ZMQ_RECEIVE_AS: '',
          ZMQ_BACKPRESSURE: 'block',
          ZMQ_SNDHWM: '5000',
          ZMQ_RCVHWM: '6000',
          ZMQ_LINGER: '250',
          ZMQ_MAX_MESSAGE_SIZE: '-1',
          ZMQ_RECONNECT_IVL: '50',
          ZMQ_SEQUENCE: 'TRUE',
        }),
      ),
    ).toEqual({
      pubAddress: 'tcp://*:5555',
      subAddresses: 'tcp://10.0.0.2:5555, tcp://10.0.0.3:5555',
      codec: 'json',
      backpressure: 'block',
      sendHighWaterMark: 5000,
      receiveHighWaterMark: 6000,
      linger: 250,
      maxMessageSize: -1,
      reconnectInterval: 50,
      sequence: true,
    });
  });

  it('rejects a number it cannot read, naming the variable', () => {
    expect(() => zmqOptionsFromEnv(env({ ZMQ_LINGER: '1s' }))).toThrow(
      'Invalid ZMQ_LINGER (linger) = "1s": expected a whole number',
    );
  });

  it('reads ZMQ_SEQUENCE as true/false or 1/0 only', () => {
    expect(zmqOptionsFromEnv(env({ ZMQ_SEQUENCE: '0' })).sequence).toBe(false);
    expect(() => zmqOptionsFromEnv(env({ ZMQ_SEQUENCE: 'yes' }))).toThrow(
      'Invalid ZMQ_SEQUENCE (sequence) = "yes": expected true or false',
    );
    expect(() => resolveZmqOptions({ sequence: 'true' as never })).toThrow('expected true or false');
  });

  it('reads process.env by default', () => {
    process.env.ZMQ_ADDRESS_PUB = 'inproc://from-env';
    try {
      expect(zmqOptionsFromEnv().pubAddress).toBe('inproc://from-env');
    } finally {
      delete process.env.ZMQ_ADDRESS_PUB;
    }
  });
});
