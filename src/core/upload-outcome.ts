// What start-conversion made of one uploaded object, and the line it logs for it (CloudWatch: why
// an upload did or did not start a conversion). Pure: the step makes it, the invocation log says it.

export interface StartOutcome {
  key: string;
  result: 'started' | 'exists' | 'ignored';
  executionName?: string;
  reason?: string;
}

/** The line start-conversion logs for each object (CloudWatch: why an upload did or did not start). */
export function describeOutcome(o: StartOutcome): string {
  return `${o.result} ${JSON.stringify(o.key)}${o.executionName ? ` as ${o.executionName}` : ''}${o.reason ? `: ${o.reason}` : ''}`;
}
