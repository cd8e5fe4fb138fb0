import { hostname } from 'node:os';
import type { Provider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';

/** Injection token of this instance's name, as it appears in every log line about the bus. */
export const INSTANCE_NAME = Symbol('INSTANCE_NAME');

/** Env `INSTANCE_NAME`, or `<hostname>-<pid>` so that two instances on one machine never share a name. */
export const instanceNameProvider: Provider = {
  provide: INSTANCE_NAME,
  inject: [ConfigService],
  useFactory: (config: ConfigService): string =>
    config.get<string>('INSTANCE_NAME')?.trim() || `${hostname()}-${process.pid}`,
};
