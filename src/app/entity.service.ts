import { Inject, Injectable, Logger } from '@nestjs/common';
import { lastValueFrom } from 'rxjs';
import { ZmqClient } from '../zmq/index.js';
import { EntityCache } from './entity-cache.service.js';
import { INSTANCE_NAME } from './instance-name.js';

/**
 * Deletes entities and tells the other instances, as CubicWeb does after a commit: the frames
 * on the wire are `delete | <eid> | <eid> ...`.
 */
@Injectable()
export class EntityService {
  private readonly logger = new Logger(EntityService.name);
  private sentIds = 0;

  constructor(
    private readonly bus: ZmqClient,
    private readonly cache: EntityCache,
    @Inject(INSTANCE_NAME) private readonly instance: string,
  ) {}

  /** Deletes locally, then publishes `delete`; resolves once the message is handed to ZeroMQ. */
  async remove(ids: number[]): Promise<void> {
    // Stands for the database delete and the local cache clearing of a real commit.
    this.cache.evict(ids, 'local');
    await lastValueFrom(this.bus.emit('delete', ids.map(String)), { defaultValue: undefined });
    this.sentIds += ids.length;
    this.logger.log(`[${this.instance}] sent delete ${ids.join(', ')}`);
  }

  /** How many ids this instance has published in `delete` messages. */
  get sent(): number {
    return this.sentIds;
  }
}
