import {
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type Provider,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ZmqClient } from './zmq.client.js';
import { zmqOptionsFromEnv } from './zmq.config.js';
import { ZMQ_OPTIONS } from './zmq.constants.js';
import type { ZmqOptions } from './zmq.options.js';
import { ZmqServer } from './zmq.server.js';

/** Options of `ZmqModule.forRootAsync()`, as in Nest's other async modules. */
export interface ZmqModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: InjectionToken[];
  useFactory: (...args: any[]) => ZmqOptions | Promise<ZmqOptions>;
}

const PROVIDERS: Provider[] = [
  { provide: ZmqClient, useFactory: (options: ZmqOptions) => new ZmqClient(options), inject: [ZMQ_OPTIONS] },
  { provide: ZmqServer, useFactory: (options: ZmqOptions) => new ZmqServer(options), inject: [ZMQ_OPTIONS] },
];

/**
 * Provides `ZmqClient` (injectable by class, bound at bootstrap, closed at shutdown) and
 * `ZmqServer` (for `app.connectMicroservice({ strategy: app.get(ZmqServer) })`). Global, so
 * feature modules can inject the client without importing it again.
 */
@Module({})
export class ZmqModule {
  /** No argument: every option from the environment through `@nestjs/config` (see `ZMQ_ENV`). */
  static forRoot(options?: ZmqOptions): DynamicModule {
    if (options === undefined) {
      return this.forRootAsync({
        imports: [ConfigModule],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => zmqOptionsFromEnv((name) => config.get<string>(name)),
      });
    }
    return this.build([{ provide: ZMQ_OPTIONS, useValue: options }]);
  }

  static forRootAsync({ imports = [], inject = [], useFactory }: ZmqModuleAsyncOptions): DynamicModule {
    return { ...this.build([{ provide: ZMQ_OPTIONS, useFactory, inject }]), imports };
  }

  private static build(optionsProvider: Provider[]): DynamicModule {
    return {
      module: ZmqModule,
      global: true,
      providers: [...optionsProvider, ...PROVIDERS],
      exports: [ZMQ_OPTIONS, ZmqClient, ZmqServer],
    };
  }
}
