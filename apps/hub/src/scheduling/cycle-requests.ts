import { Injectable } from '@nestjs/common';

/**
 * Asks for a scheduling cycle. Submits, rejections, capacity reports and fencing all make work
 * the scheduler should look at; they tell this relay, and the Scheduler (on the leader) listens,
 * so none of them depends on the Scheduler and the Scheduler depends on none of them by callback.
 */
@Injectable()
export class CycleRequests {
  private readonly listeners: ((reason: string) => void)[] = [];

  requestCycle(reason: string): void {
    for (const l of this.listeners) l(reason);
  }

  onRequest(listener: (reason: string) => void): void {
    this.listeners.push(listener);
  }
}
