import { Controller, Inject, Logger } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { ZmqContext } from '../zmq/index.js';
import { EntityCache } from './entity-cache.service.js';
import { INSTANCE_NAME } from './instance-name.js';

/** Evicts the entities another instance deleted: the bus side of the cache. */
@Controller()
export class CacheController {
  private readonly logger = new Logger(CacheController.name);

  constructor(
    private readonly cache: EntityCache,
    @Inject(INSTANCE_NAME) private readonly instance: string,
  ) {}

  // <string> picks the untyped overload: Nest 12's typed one declares every argument after the
  // payload `unknown`, which would reject `ctx: ZmqContext`.
  @EventPattern<string>('delete')
  onDelete(@Payload() ids: string[], @Ctx() ctx: ZmqContext): void {
    const wanted = ids.map(Number).filter((id) => Number.isSafeInteger(id));
    if (wanted.length !== ids.length) {
      this.logger.warn(`[${this.instance}] ignored ids that are not integers in ${JSON.stringify(ids)}`);
    }
    const evicted = this.cache.evict(wanted, 'bus');
    this.logger.log(
      `[${this.instance}] received ${ctx.getTopic()} ${ids.join(', ')}: evicted ${evicted.length}, ` +
        `${this.cache.size} left in cache`,
    );
  }
}
