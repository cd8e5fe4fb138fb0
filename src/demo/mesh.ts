import { freePorts, InstanceProcess } from './instance-process.js';

export interface MeshOptions {
  /** Environment of the instances (or of each, by name), under the addresses and name the mesh assigns. */
  env?: Record<string, string> | ((name: string) => Record<string, string>);
  /** Receives every log line of every instance, with the instance's name. */
  onLine?: (name: string, line: string) => void;
  /** Upper bound for the instances to boot (Nest start, sockets bound). */
  startTimeoutMs?: number;
  /** Upper bound for every instance to see its peers' subscriptions. */
  readyTimeoutMs?: number;
}

/**
 * Starts one instance per name, each publishing on its own loopback port and subscribed to all the
 * others (not to itself, as in CubicWeb), and resolves once every instance has seen every peer
 * subscribe to its `delete` messages, so that nothing published from then on is lost to ZeroMQ's
 * slow joiner. On failure every instance is killed.
 */
export async function startMesh(
  script: string,
  names: readonly string[],
  { env = {}, onLine = () => undefined, startTimeoutMs = 30_000, readyTimeoutMs = 15_000 }: MeshOptions = {},
): Promise<InstanceProcess[]> {
  const ports = await freePorts(names.length);
  const addresses = ports.map((port) => `tcp://127.0.0.1:${port}`);
  const instances = names.map(
    (name, i) =>
      new InstanceProcess(
        script,
        {
          name,
          env: typeof env === 'function' ? env(name) : env,
          pubAddress: addresses[i]!,
          subAddresses: addresses.filter((_, j) => j !== i),
        },
        (line) => onLine(name, line),
      ),
  );
  try {
    await Promise.all(instances.map((instance) => instance.waitFor('up', startTimeoutMs)));
    for (const instance of instances) {
      instance.send({ type: 'await-peers', count: names.length - 1, timeout: readyTimeoutMs });
    }
    await Promise.all(instances.map((instance) => instance.waitFor('ready', readyTimeoutMs + 1000)));
    return instances;
  } catch (error) {
    for (const instance of instances) instance.kill();
    await Promise.all(instances.map((instance) => instance.exited));
    throw error;
  }
}

/** Every id this instance evicted on hearing `delete` from the bus, sorted, duplicates kept. */
export function idsReceived(instance: InstanceProcess): number[] {
  return instance.events
    .flatMap((event) => (event.type === 'evicted' ? event.ids : []))
    .toSorted((a, b) => a - b);
}
