import { Logger } from '@nestjs/common';
import { type Context, Router } from 'zeromq';
import { isEagain } from './zmq.socket.js';

/** Where libzmq sends a ZAP request (RFC 27) for every CURVE handshake in a context. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/** How one publisher decides on the subscribers that reach it. */
export interface ZapPolicy {
  /** Whether a CURVE client with this 32-byte public key may connect. */
  admits(publicKey: Buffer): boolean;
  /** Called with the peer's IP address when a client is refused. */
  onRefused?(peer: string): void;
}

/** A publisher's share of its context's ZAP handler; set `domain` as the socket's `zapDomain`. */
export interface ZapLease {
  readonly domain: string;
  /** Drops the policy; with the last lease, the handler stops receiving. Safe to call twice. */
  release(): Promise<void>;
}

interface Handler {
  router: Promise<Router>;
  policies: Map<string, ZapPolicy>;
  serving: boolean;
}

// While no publisher needs it, the handler must not keep a receive pending (that would keep
// the process alive): it receives with this timeout and stops once its last policy is gone.
const IDLE_CHECK_MS = 200;
const handlers = new Map<Context, Handler>();
let domains = 0;

/**
 * Registers a policy with the context's ZAP handler, binding the handler on first use. Each
 * publisher gets its own ZAP domain, so several publishers in one process can admit different
 * keys. A request for a domain nobody registered is refused.
 *
 * The handler stays bound for the life of the context and only stops receiving when the last
 * lease is released: closing a ROUTER that has served ZAP requests aborted libzmq 4.3.5 now
 * and then ("Assertion failed: erased", socket_base.cpp:2140, in about 1 of 40 runs of 80
 * close cycles), where leaving it open costs nothing.
 */
export async function acquireZapHandler(context: Context, policy: ZapPolicy): Promise<ZapLease> {
  let handler = handlers.get(context);
  if (!handler) {
    handler = { router: openRouter(context), policies: new Map(), serving: false };
    handlers.set(context, handler);
  }
  const domain = `nestjs-zmq-bus.${++domains}`;
  handler.policies.set(domain, policy);
  let router: Router;
  try {
    router = await handler.router;
  } catch (error) {
    handler.policies.delete(domain);
    if (handlers.get(context) === handler) handlers.delete(context);
    throw error;
  }
  if (!handler.serving) {
    handler.serving = true;
    void serve(router, handler);
  }
  return {
    domain,
    release: async () => {
      handler.policies.delete(domain);
    },
  };
}

async function openRouter(context: Context): Promise<Router> {
  const router = new Router({ context, linger: 0, receiveTimeout: IDLE_CHECK_MS });
  try {
    await router.bind(ZAP_ENDPOINT);
  } catch (error) {
    router.close();
    throw new Error(
      `CURVE needs the ZAP endpoint ${ZAP_ENDPOINT} to authorize subscribers, and it could not be ` +
        `bound (another ZAP handler in this process?): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return router;
}

async function serve(router: Router, handler: Handler): Promise<void> {
  try {
    while (handler.policies.size > 0) {
      let request: Buffer[];
      try {
        request = await router.receive();
      } catch (error) {
        if (isEagain(error)) continue;
        throw error;
      }
      const reply = decide(request, handler.policies);
      if (reply) await router.send(reply);
    }
  } catch (error) {
    // Handshakes waiting on a reply now fail when ZMQ_HANDSHAKE_IVL runs out: nobody is admitted.
    if (!router.closed) new Logger('ZmqZap').error(`The ZAP handler stopped: ${String(error)}`);
  } finally {
    handler.serving = false;
  }
}

/** Frames of a ZAP request through a ROUTER: routing id, empty delimiter, then RFC 27's fields. */
function decide(request: Buffer[], policies: Map<string, ZapPolicy>): (Buffer | string)[] | undefined {
  const [routingId, delimiter, version, requestId, domain, address, , mechanism, ...credentials] = request;
  if (!routingId || !delimiter || !requestId) return undefined;
  const answer = (status: string, text: string): (Buffer | string)[] => [
    routingId,
    delimiter,
    '1.0',
    requestId,
    status,
    text,
    '',
    '',
  ];
  if (version?.toString() !== '1.0' || mechanism === undefined) return answer('500', 'Malformed ZAP request');
  const policy = policies.get(domain?.toString() ?? '');
  if (!policy) return answer('400', 'Unknown ZAP domain');
  const publicKey = credentials[0];
  if (mechanism.toString() === 'CURVE' && publicKey?.length === 32 && policy.admits(publicKey)) {
    return answer('200', 'OK');
  }
  policy.onRefused?.(address?.toString() || 'a local peer');
  return answer('400', 'Public key not admitted');
}
