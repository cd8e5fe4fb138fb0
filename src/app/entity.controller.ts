import { BadRequestException, Controller, Delete, Get, Inject, Param } from '@nestjs/common';
import { EntityCache } from './entity-cache.service.js';
import { EntityService } from './entity.service.js';
import { INSTANCE_NAME } from './instance-name.js';

/** HTTP access to the example, served only when `HTTP_PORT` is set. */
@Controller('entities')
export class EntityController {
  constructor(
    private readonly entities: EntityService,
    private readonly cache: EntityCache,
    @Inject(INSTANCE_NAME) private readonly instance: string,
  ) {}

  @Get()
  list(): { instance: string; ids: number[] } {
    return { instance: this.instance, ids: this.cache.ids() };
  }

  /** `DELETE /entities/3,4`: deletes here and publishes `delete 3 4` to the other instances. */
  @Delete(':ids')
  async remove(@Param('ids') list: string): Promise<{ instance: string; deleted: number[] }> {
    const ids = list.split(',').map((id) => Number(id.trim()));
    if (ids.length === 0 || !ids.every((id) => Number.isSafeInteger(id) && id > 0)) {
      throw new BadRequestException(`expected comma-separated positive integers, got "${list}"`);
    }
    await this.entities.remove(ids);
    return { instance: this.instance, deleted: ids };
  }
}
