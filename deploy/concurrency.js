'use strict';
// Reserved concurrency against the account, checked at `serverless deploy` before CloudFormation
// (deploy/plugin.js): AWS refuses any reservation that leaves less unreserved than its minimum —
// 100 concurrent executions, or the whole quota where the quota is smaller (new accounts have had
// 10 or 50) — with "decreases account's UnreservedConcurrentExecution below its minimum value",
// and the stack rolls back. The stack reserves nothing by default; a deploy that asks for more than
// the account allows stops here, saying what the account has.

/** AWS keeps at least this many concurrent executions unreserved (or the whole quota, if smaller). */
const MINIMUM_UNRESERVED = 100;

/** The params that reserve concurrency, by the function they reserve it for (serverless.yml). */
const RESERVING_PARAMS = { serveSegment: 'serveSegmentConcurrency', deliverSegment: 'deliverSegmentConcurrency' };

/** Each function of a compiled template that reserves concurrency: its key, name and reservation. */
function reservationsOf(template) {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties?.ReservedConcurrentExecutions !== undefined)
    .map(([id, r]) => ({
      key: `${id[0].toLowerCase()}${id.slice(1).replace(/LambdaFunction$/, '')}`,
      name: String(r.Properties.FunctionName),
      reserved: Number(r.Properties.ReservedConcurrentExecutions),
    }));
}

/**
 * Why the account cannot take these reservations, or undefined when it can. `account` is what
 * GetAccountSettings says (`limit`: ConcurrentExecutions, `unreserved`: UnreservedConcurrentExecutions,
 * which already leaves out what `current` holds: the same functions' reservations from a previous deploy).
 */
function reservationProblem({ reservations, current, account, region }) {
  const asked = reservations.reduce((sum, r) => sum + r.reserved, 0);
  const held = reservations.reduce((sum, r) => sum + (current[r.name] ?? 0), 0);
  const available = account.unreserved + held;
  const minimum = Math.min(MINIMUM_UNRESERVED, account.limit);
  if (available - asked >= minimum) return undefined;
  const what = reservations.map((r) => `${r.key} ${r.reserved}`).join(', ');
  const room = Math.max(0, available - minimum);
  const params = reservations
    .map((r) => RESERVING_PARAMS[r.key])
    .filter(Boolean)
    .map((p) => `--param="${p}=none"`)
    .join(' ');
  return (
    `this deploy reserves ${asked} concurrent executions (${what}), but the account's Lambda concurrency in ${region} ` +
    `is ${account.limit} with ${available} unreserved, and AWS keeps at least ${minimum} unreserved: ` +
    `${room === 0 ? 'it can reserve none' : `reserve at most ${room} in all`} (${params || 'reserve none'}), ` +
    'or ask AWS to raise the account\'s "Concurrent executions" quota (Service Quotas, AWS Lambda)'
  );
}

/**
 * Reads the account (GetAccountSettings) and the functions' current reservations
 * (GetFunctionConcurrency; a function not yet deployed holds none) and throws the problem, if any.
 * Asks nothing when the template reserves nothing. `lambda` is `{ accountSettings(),
 * functionConcurrency(name) }`, so both the plugin (the framework's credentials) and the rehearsal
 * (the SDK against the emulator) can call it.
 */
async function checkReservations(template, lambda, region) {
  const reservations = reservationsOf(template);
  if (reservations.length === 0) return undefined;
  const settings = await lambda.accountSettings();
  const account = {
    limit: Number(settings.AccountLimit?.ConcurrentExecutions ?? 0),
    unreserved: Number(settings.AccountLimit?.UnreservedConcurrentExecutions ?? 0),
  };
  const current = {};
  for (const r of reservations) current[r.name] = (await lambda.functionConcurrency(r.name)) ?? 0;
  const problem = reservationProblem({ reservations, current, account, region });
  if (problem) throw new Error(problem);
  return { account, reservations };
}

module.exports = { MINIMUM_UNRESERVED, checkReservations, reservationProblem, reservationsOf };
