import { Injectable } from '@nestjs/common';

/** Draining state set by the shutdown sequence; /readyz reads it. */
@Injectable()
export class Readiness {
  draining = false;
}
