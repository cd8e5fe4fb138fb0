import 'reflect-metadata';
import { Controller, type DynamicModule, Inject, Module } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { PROBE_TOPIC, TOPIC } from '../protocol.js';
import { Sink } from '../sink.js';

/** The same handlers for every Nest transport, as an application would write them. */
@Controller()
class BenchController {
  constructor(@Inject(Sink) private readonly sink: Sink) {}

  @EventPattern(TOPIC)
  onBench(@Payload() data: unknown): void {
    this.sink.data(data);
  }

  @EventPattern(PROBE_TOPIC)
  onProbe(@Payload() _data: unknown): void {
    this.sink.probe();
  }
}

@Module({})
export class SinkModule {
  static with(sink: Sink): DynamicModule {
    return {
      module: SinkModule,
      controllers: [BenchController],
      providers: [{ provide: Sink, useValue: sink }],
    };
  }
}
