import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ZmqModule } from '../zmq/index.js';
import { CacheController } from './cache.controller.js';
import { EntityCache } from './entity-cache.service.js';
import { EntityController } from './entity.controller.js';
import { EntityService } from './entity.service.js';
import { instanceNameProvider } from './instance-name.js';

/** The example application: a cache kept coherent across instances by `delete` messages on the bus. */
@Module({
  imports: [ConfigModule.forRoot({ isGlobal: true }), ZmqModule.forRoot()],
  controllers: [CacheController, EntityController],
  providers: [EntityCache, EntityService, instanceNameProvider],
})
export class AppModule {}
