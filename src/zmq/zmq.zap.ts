import { Logger } from '@nestjs/common';
import { type Context, Router } from 'zeromq';

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
  /** Drops the policy; the last lease of a context closes the handler. Safe to call twice. */
  release(): Promise<void>;
}

interface Handler {
  router: Promise<Router>;
  policies: Map<string, ZapPolicy>;
  leases: number;
}

const handlers = new Map<Context, Handler>();
const closing = new Map<Context, Promise<void>>();
let domains = 0;

/**
 * Registers a policy with the context's ZAP handler, binding the handler on first use. Each
 * publisher gets its own ZAP domain, so several publishers in one process can admit different
 * keys. A request for a domain nobody registered is refused.
 */
export async function acquireZapHandler(context: Context, policy: ZapPolicy): Promise<ZapLease> {
  let handler = handlers.get(context);
  if (!handler) {
    const policies = new Map<string, ZapPolicy>();
    handler = { router: openRouter(context, policies), policies, leases: 0 };
    handlers.set(context, handler);
  }
  const domain = `nestjs-zmq-bus.${++domains}`;
  handler.leases++;
  handler.policies.set(domain, policy);
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    handler.policies.delete(domain);
    if (--handler.leases > 0) return;
    if (handlers.get(context) === handler) handlers.delete(context);
    const closed = handler.router.then(closeRouter, () => undefined);
    closing.set(context, closed);
    await closed;
  };
  try {
    await handler.router;
  } catch (error) {
    await release();
    throw error;
  }
  return { domain, release };
}

async function openRouter(context: Context, policies: Map<string, ZapPolicy>): Promise<Router> {
  // A handler of the same context may still be unbinding.
  await closing.get(context);
  const router = new Router({ context, linger: 0 });
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
  void serve(router, policies);
  return router;
}

async function closeRouter(router: Router): Promise<void> {
  // Unbind before close, so that a handler opened next can bind the endpoint at once.
  await router.unbind(ZAP_ENDPOINT).catch(() => undefined);
  router.close();
}

async function serve(router: Router, policies: Map<string, ZapPolicy>): Promise<void> {
  try {
    for await (const request of router) {
      const reply = decide(request, policies);
      if (reply) await router.send(reply);
    }
  } catch (error) {
    // Handshakes waiting on a reply now fail when ZMQ_HANDSHAKE_IVL runs out: nobody is admitted.
    if (!router.closed) new Logger('ZmqZap').error(`The ZAP handler stopped: ${String(error)}`);
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
