'use strict';
// The rehearsal's hosts mapping, preloaded (node --require) into every process it starts: the
// emulated AWS answers on 127.0.0.1 under host names — `localhost` and `<bucket>.s3.localhost`,
// `lambda.localhost`… — and resolving them is part of what must work. Other names resolve as usual.
const dns = require('node:dns');

const original = dns.lookup;
const isEmulated = (name) => name === 'localhost' || name.endsWith('.localhost');

dns.lookup = function lookup(hostname, options, callback) {
  const done = typeof options === 'function' ? options : callback;
  const opts = typeof options === 'function' ? {} : typeof options === 'number' ? { family: options } : (options ?? {});
  if (typeof hostname === 'string' && isEmulated(hostname.toLowerCase())) {
    if (opts.all) return process.nextTick(done, null, [{ address: '127.0.0.1', family: 4 }]);
    return process.nextTick(done, null, '127.0.0.1', 4);
  }
  return original.call(this, hostname, opts, done);
};
