import 'reflect-metadata';
import { type INestApplication, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app/app.module.js';
import { type DemoControl, startDemoControl } from './app/demo-control.js';
import { ZMQ_DEFAULTS, ZMQ_OPTIONS, type ZmqOptions, ZmqServer } from './zmq/index.js';

const logger = new Logger('Main');
/** How long after a shutdown signal the process may take, beyond the bus's linger, before it is called hung. */
const SHUTDOWN_GRACE_MS = 5000;

/** One long-running instance of the example, configured by environment variables only (see .env.example). */
async function bootstrap(): Promise<void> {
  let app: INestApplication | undefined;
  try {
    app = await NestFactory.create(AppModule, { abortOnError: false });
    const port = httpPort(app.get(ConfigService).get<string>('HTTP_PORT'));
    app.connectMicroservice({ strategy: app.get(ZmqServer) });
    await app.startAllMicroservices();
    app.enableShutdownHooks();
    let control: DemoControl | undefined;
    const stopping = exitByItselfOnSignal(app, () => control?.stop());
    if (port === undefined) await app.init();
    else await app.listen(port, '127.0.0.1');
    if (port !== undefined) logger.log(`HTTP on http://127.0.0.1:${port}/entities`);
    if (!stopping()) control = startDemoControl(app);
  } catch (error) {
    logger.error(`Startup failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
    await app?.close().catch(() => undefined);
  }
}

function httpPort(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Invalid HTTP_PORT = ${JSON.stringify(value)}: expected a port number, 1 to 65535`);
  }
  return port;
}

/**
 * `enableShutdownHooks()` closes the app on a signal, then raises the signal again to end the
 * process. Listening to SIGTERM and SIGINT here absorbs that second raise, so the process ends by
 * itself, with code 0, once every socket is closed. Should anything still hold the event loop, a
 * watchdog names it and exits 1 rather than leaving a hung process. Returns whether a signal came.
 */
function exitByItselfOnSignal(app: INestApplication, onSignal: () => void): () => boolean {
  const options = app.get<ZmqOptions>(ZMQ_OPTIONS);
  const limit = (options.linger ?? ZMQ_DEFAULTS.linger) + SHUTDOWN_GRACE_MS;
  let watchdog: NodeJS.Timeout | undefined;
  const listener = (signal: NodeJS.Signals): void => {
    if (watchdog === undefined) logger.log(`${signal}: closing the sockets and stopping`);
    onSignal();
    watchdog ??= setTimeout(() => {
      const holding = process.getActiveResourcesInfo().filter((resource) => resource !== 'TTYWrap');
      logger.error(`Still running ${limit} ms after the shutdown signal, held by: ${holding.join(', ')}`);
      process.exit(1);
    }, limit).unref();
  };
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
  return () => watchdog !== undefined;
}

await bootstrap();
