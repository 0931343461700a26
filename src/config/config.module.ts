import { Global, Module, type DynamicModule } from '@nestjs/common';
import { GatewayConfig, RuntimeSettings } from './gateway-config.js';

/** Provides the validated, frozen config; nothing else reads process.env. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: GatewayConfig, settings: RuntimeSettings): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: GatewayConfig, useValue: config },
        { provide: RuntimeSettings, useValue: settings },
      ],
      exports: [GatewayConfig, RuntimeSettings],
    };
  }
}
