import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

/** Where an eviction came from: this instance deleting, or a peer's `delete` heard on the bus. */
export type EvictionOrigin = 'local' | 'bus';

export interface Eviction {
  origin: EvictionOrigin;
  /** The ids asked for. */
  ids: number[];
  /** Those of them that were cached and are now gone. */
  evicted: number[];
}

/** Ids seeded into every instance's cache, the same everywhere so that caches can be compared. */
export const SEEDED_ENTITIES = 12;

/**
 * A small in-memory cache of entities, standing for the caches CubicWeb clears when an entity is
 * deleted anywhere in the cluster.
 */
@Injectable()
export class EntityCache {
  private readonly entries = new Map<number, string>();
  private readonly evictions = new Subject<Eviction>();
  /** Every eviction, local or from the bus, as it happens. */
  readonly evictions$ = this.evictions.asObservable();

  constructor() {
    for (let id = 1; id <= SEEDED_ENTITIES; id++) this.entries.set(id, `entity #${id}`);
  }

  get(id: number): string | undefined {
    return this.entries.get(id);
  }

  /** The cached ids, in ascending order. */
  ids(): number[] {
    return [...this.entries.keys()].toSorted((a, b) => a - b);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops the given ids; returns those that were cached. Unknown ids are not an error. */
  evict(ids: readonly number[], origin: EvictionOrigin): number[] {
    const evicted = ids.filter((id) => this.entries.delete(id));
    this.evictions.next({ origin, ids: [...ids], evicted });
    return evicted;
  }
}
