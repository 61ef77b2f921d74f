// The emulated account's Lambda concurrency, as the Lambda docs describe it ("Lambda function
// scaling", "Configuring reserved concurrency"): a quota of concurrent executions per region (1,000
// by default; new accounts have had 10 or 50); a function may reserve part of it, but AWS refuses
// any reservation that leaves less unreserved than its minimum — 100, or the whole quota where the
// quota is smaller ("decreases account's UnreservedConcurrentExecution below its minimum value");
// every function without a reservation shares what is unreserved, and an invocation past it is
// throttled (TooManyRequestsException, which Step Functions names Lambda.TooManyRequestsException).

/** AWS keeps at least this many concurrent executions unreserved (or the whole quota, if smaller). */
export const MINIMUM_UNRESERVED = 100;

export class ReservationRefused extends Error {
  override name = 'InvalidParameterValueException';
}

export class AccountConcurrency {
  /** ReservedConcurrentExecutions by function name. */
  readonly reserved = new Map<string, number>();
  /** Invocations running now of functions without a reservation. */
  private unreservedInFlight = 0;
  /** The most that ran at once, by function name: what a test reads. */
  readonly peak = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  /** Invocations refused for the account's concurrency, by function name. */
  readonly throttled = new Map<string, number>();

  constructor(public limit: number) {}

  get minimumUnreserved(): number {
    return Math.min(MINIMUM_UNRESERVED, this.limit);
  }

  get unreserved(): number {
    return this.limit - [...this.reserved.values()].reduce((a, b) => a + b, 0);
  }

  /** PutFunctionConcurrency (what CloudFormation calls for ReservedConcurrentExecutions). */
  reserve(name: string, count: number): void {
    const others = this.unreserved + (this.reserved.get(name) ?? 0);
    if (others - count < this.minimumUnreserved) {
      throw new ReservationRefused(
        `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${this.minimumUnreserved}].`,
      );
    }
    this.reserved.set(name, count);
  }

  release(name: string): void {
    this.reserved.delete(name);
  }

  /**
   * One invocation starts: false when it must be throttled (its reservation, or the unreserved pool,
   * is in use). Call `end` with the same name when it finishes.
   */
  start(name: string): boolean {
    const running = this.inFlight.get(name) ?? 0;
    const reservation = this.reserved.get(name);
    const allowed = reservation !== undefined ? running < reservation : this.unreservedInFlight < this.unreserved;
    if (!allowed) {
      this.throttled.set(name, (this.throttled.get(name) ?? 0) + 1);
      return false;
    }
    if (reservation === undefined) this.unreservedInFlight++;
    this.inFlight.set(name, running + 1);
    this.peak.set(name, Math.max(this.peak.get(name) ?? 0, running + 1));
    return true;
  }

  end(name: string): void {
    this.inFlight.set(name, (this.inFlight.get(name) ?? 1) - 1);
    if (!this.reserved.has(name)) this.unreservedInFlight--;
  }
}
