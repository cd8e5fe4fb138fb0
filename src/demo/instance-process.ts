import { createServer, type Server } from 'node:net';
import type { ControlCommand, ControlEvent } from '../app/demo-control.js';
import { ForkedProcess } from './forked-process.js';

export { describeExit, type Exit } from './forked-process.js';

/** How one instance of the example is started: its name and the bus addresses it gets. */
export interface InstanceSpec {
  name: string;
  pubAddress: string;
  subAddresses: string[];
  /** More environment variables for this instance. */
  env?: Record<string, string>;
}

/**
 * One instance of the example application (`dist/main.js`) in a child process, driven over Node's
 * IPC channel (see `src/app/demo-control.ts`).
 */
export class InstanceProcess extends ForkedProcess<ControlCommand, ControlEvent> {
  constructor(
    script: string,
    readonly spec: InstanceSpec,
    onLine: (line: string) => void = () => undefined,
  ) {
    super(
      script,
      spec.name,
      {
        ...spec.env,
        INSTANCE_NAME: spec.name,
        ZMQ_ADDRESS_PUB: spec.pubAddress,
        ZMQ_ADDRESS_SUB: spec.subAddresses.join(', '),
        // Several instances on one machine must not all claim one HTTP port.
        HTTP_PORT: spec.env?.HTTP_PORT ?? '',
      },
      onLine,
    );
  }
}

/**
 * `count` distinct free loopback TCP ports, picked by the kernel. All are held open together so
 * that they differ, then released for the instances to bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One free loopback TCP port, picked by the kernel and released for the caller to bind. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
